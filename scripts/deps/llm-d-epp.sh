#!/usr/bin/env bash
# Build llm-d's Go Endpoint Picker (EPP) into <repo>/.cache/bin/llm-d-epp, as a
# peer to benchmark tokenroute against (see e2e/peers/llm-d-epp.md).
#
# Module: github.com/llm-d/llm-d-inference-scheduler, main package cmd/epp. The
# project was later renamed llm-d-router (module github.com/llm-d/llm-d-router,
# from v0.9.0 on), but the Go module proxy reachable here serves neither module's
# version list, and of the release tags it serves only v0.7.1 of the old path
# (v0.7.0, v0.8.x, and llm-d-router v0.9.x/v0.10.x all answer 403 "This module
# version is not available"). So v0.7.1 is pinned; it embeds GIE v1.4.0's EPP core.
#
# v0.7.1's go.mod has no replace directives and its dependency graph needs no cgo
# (ZMQ through pure-Go go-zeromq/zmq4), so it is built with CGO_ENABLED=0 in a
# throw-away module that requires the pinned version (`go install …@v0.7.1`
# would ask the proxy for the version list and fail).
#
# Cold build: ~8 min on 2 cores (473 s; k8s client, controller-runtime, envoy protos);
# warm Go build cache: ~10 s. Run it in the background with a log if you are
# near a 10-minute command limit.
#
# Idempotent: reuses the cached binary when it embeds the pinned module version
# and runs. The build time of the last build is written to $OUT.buildinfo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EPP_VERSION="${LLMD_EPP_VERSION:-v0.7.1}"   # pinned (only served release, see above)
EPP_MODULE="${LLMD_EPP_MODULE:-github.com/llm-d/llm-d-inference-scheduler}"
# v0.7.1 requires github.com/llm-d/llm-d-kv-cache v0.7.1, which the proxy refuses (403);
# v0.9.0 is served (llm-d-inference-sim v0.10.2 uses it too) and compiles against v0.7.1,
# so the build module raises it. Set KVCACHE_VERSION= (empty) to keep v0.7.1's own pin.
KVCACHE_VERSION="${KVCACHE_VERSION-v0.9.0}"
KVCACHE_MODULE="github.com/llm-d/llm-d-kv-cache"
# The command built (pd-sidecar.sh reuses this script for cmd/pd-sidecar), its binary name and a
# flag its --help must list.
LLMD_CMD="${LLMD_CMD:-epp}"
LLMD_BIN="${LLMD_BIN:-llm-d-epp}"
LLMD_HELP_FLAG="${LLMD_HELP_FLAG:---endpoint-selector}"
OUT="$DEPS_BIN_DIR/$LLMD_BIN"

# epp_ok: binary exists, embeds the pinned module version, and runs.
epp_ok() {
  [[ -x "$OUT" ]] || return 1
  local mod_line
  mod_line="$(go version -m "$OUT" 2>/dev/null | awk '$1 == "mod" { print $2, $3 }')"
  [[ "$mod_line" == "$EPP_MODULE $EPP_VERSION" ]] || return 1
  # The EPP links llm-d-kv-cache (raised above); the sidecar does not, so it only checks the module.
  if [[ -n "$KVCACHE_VERSION" && "${LLMD_CHECK_KVCACHE:-1}" == 1 ]]; then
    go version -m "$OUT" 2>/dev/null | grep -qE "^\s+dep\s+$KVCACHE_MODULE\s+$KVCACHE_VERSION\s" || return 1
  fi
  "$OUT" --help 2>&1 | grep -q -- "$LLMD_HELP_FLAG"
}

command -v go >/dev/null || { echo "llm-d-epp.sh: 'go' not found on PATH" >&2; exit 1; }

if epp_ok; then
  echo "$LLMD_BIN $EPP_MODULE@$EPP_VERSION: cached at $OUT ($(cat "$OUT.buildinfo" 2>/dev/null || echo "no build info"))"
  exit 0
fi

BUILD_DIR="$DEPS_REPO_ROOT/.cache/build/llm-d-epp-$EPP_VERSION"
mkdir -p "$DEPS_BIN_DIR" "$BUILD_DIR"
{
  printf 'module tokenroute.local/build/llm-d-epp\n\ngo 1.25.7\n\nrequire %s %s\n' "$EPP_MODULE" "$EPP_VERSION"
  [[ -z "$KVCACHE_VERSION" ]] || printf 'require %s %s\n' "$KVCACHE_MODULE" "$KVCACHE_VERSION"
} > "$BUILD_DIR/go.mod"
: > "$BUILD_DIR/go.sum"

echo "$LLMD_BIN $EPP_MODULE@$EPP_VERSION: building in $BUILD_DIR (cold ~8 min on 2 cores, ~10 s with a warm Go build cache) ..."
start=$(date +%s)
(cd "$BUILD_DIR" && GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
  go build -trimpath -ldflags "-s -w" -o "$OUT.tmp" "$EPP_MODULE/cmd/$LLMD_CMD")
mv -f "$OUT.tmp" "$OUT"

epp_ok || { echo "llm-d-epp.sh: $OUT does not run or is not $EPP_MODULE@$EPP_VERSION" >&2; exit 1; }
secs=$(( $(date +%s) - start ))
echo "$EPP_MODULE@$EPP_VERSION (kv-cache ${KVCACHE_VERSION:-as pinned}) built in ${secs}s on $(date -u +%Y-%m-%dT%H:%M:%SZ) ($(nproc) cores, $(go env GOVERSION))" > "$OUT.buildinfo"
echo "$LLMD_BIN $EPP_VERSION: built in ${secs}s -> $OUT"
