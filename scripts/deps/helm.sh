#!/usr/bin/env bash
# Build the real `helm` (helm.sh/helm/v3, pinned) into <repo>/.cache/bin/helm with the Go module
# proxy (`go install`, GOBIN pointed at the cache). Idempotent: a cached helm of the pinned
# version is reused. The chart tests lint and render charts/tokenroute with it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
OUT="$DEPS_BIN_DIR/helm"

if [[ -x "$OUT" ]] && [[ "$("$OUT" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
  echo "helm $HELM_VERSION: cached at $OUT"
  exit 0
fi
mkdir -p "$DEPS_BIN_DIR"
echo "helm $HELM_VERSION: go install helm.sh/helm/v3/cmd/helm ..."
start=$(date +%s)
# The version string helm prints comes from an ldflag its Makefile sets.
GOBIN="$DEPS_BIN_DIR" CGO_ENABLED=0 go install \
  -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$OUT" version --template '{{.Version}}' | grep -qx "$HELM_VERSION"
echo "helm $HELM_VERSION: built in $(( $(date +%s) - start ))s at $OUT"
