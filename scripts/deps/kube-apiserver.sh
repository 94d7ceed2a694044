#!/usr/bin/env bash
# Build a real kube-apiserver from the k8s.io/kubernetes Go module at a pinned
# version and cache it in <repo>/.cache/bin/kube-apiserver.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@vX` does not work because
# k8s.io/kubernetes' go.mod replaces its staging repos with ./staging/src/...
# paths. We therefore build from a throw-away module that requires
# k8s.io/kubernetes and replaces every staging repo it requires with the
# matching published v0.X.Y module.
#
# Idempotent: if the cached binary exists and reports the pinned version it is
# reused. Takes ~10-25 min on 2 cores when it has to build.
set -euo pipefail

KUBE_VERSION="${KUBE_APISERVER_VERSION:-v1.34.4}"   # pinned; staging repos use v0.<minor>.<patch>

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${TOKENROUTE_BIN_DIR:-$REPO_ROOT/.cache/bin}"
BUILD_DIR="$REPO_ROOT/.cache/build/kube-apiserver-$KUBE_VERSION"
OUT="$BIN_DIR/kube-apiserver"

if [[ -x "$OUT" ]] && [[ "$("$OUT" --version 2>/dev/null || true)" == "Kubernetes $KUBE_VERSION" ]]; then
  echo "kube-apiserver $KUBE_VERSION: cached at $OUT"
  exit 0
fi

command -v go >/dev/null || { echo "kube-apiserver.sh: 'go' not found on PATH" >&2; exit 1; }

ver="${KUBE_VERSION#v}"
major="${ver%%.*}"
rest="${ver#*.}"
minor="${rest%%.*}"
patch="${rest#*.}"
STAGING_VERSION="v0.${minor}.${patch}"

export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

mkdir -p "$BIN_DIR" "$BUILD_DIR"

echo "kube-apiserver $KUBE_VERSION: fetching k8s.io/kubernetes module metadata..."
modfile="$(cd "$BUILD_DIR" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$modfile" ]] || { echo "kube-apiserver.sh: could not download k8s.io/kubernetes@$KUBE_VERSION" >&2; exit 1; }

# Staging repos = modules replaced by ./staging/src/... AND required by k8s.io/kubernetes.
# (sample-cli-plugin / sample-controller are replaced but not required, and are not published for every version.)
replaced="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$modfile" | sort -u)"
required="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) v0\.0\.0\([[:space:]].*\)\{0,1\}$#\1#p' "$modfile" | sort -u)"
staging="$(comm -12 <(echo "$replaced") <(echo "$required"))"
[[ -n "$staging" ]] || { echo "kube-apiserver.sh: found no staging repos in $modfile" >&2; exit 1; }

{
  echo "module tokenroute.local/build/kube-apiserver"
  echo
  echo "go 1.24.0"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
  echo ")"
} > "$BUILD_DIR/go.mod"
: > "$BUILD_DIR/go.sum"

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION"
  ldflags+=" -X $pkg.gitMajor=$major"
  ldflags+=" -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
  ldflags+=" -X $pkg.buildDate=$build_date"
done

echo "kube-apiserver $KUBE_VERSION: building (staging repos at $STAGING_VERSION) in $BUILD_DIR ..."
start=$(date +%s)
(cd "$BUILD_DIR" && go build -trimpath -ldflags "$ldflags" -o "$OUT.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv -f "$OUT.tmp" "$OUT"

got="$("$OUT" --version)"
if [[ "$got" != "Kubernetes $KUBE_VERSION" ]]; then
  echo "kube-apiserver.sh: built binary reports '$got', expected 'Kubernetes $KUBE_VERSION'" >&2
  exit 1
fi
echo "kube-apiserver $KUBE_VERSION: built in $(( $(date +%s) - start ))s -> $OUT"
