#!/usr/bin/env bash
# Install llm-d-inference-sim (a vLLM-compatible fake model server: OpenAI API,
# vllm:* Prometheus metrics, ZMQ KV-cache events) into <repo>/.cache/bin.
#
# Built from the Go module at a pinned version (see below for why not `go install`). v0.10.2 has no
# replace directives and no cgo dependencies (ZMQ via pure-Go go-zeromq/zmq4,
# sqlite via modernc), so it is built with CGO_ENABLED=0.
#
# Run it offline with --force-dummy-tokenizer: without it the simulator does an
# HTTP GET to the model hub at startup to decide whether the model is "real".
# See scripts/deps/README.md.
#
# Idempotent: reuses the cached binary if it was built from the pinned version
# and runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIM_VERSION="${INFERENCE_SIM_VERSION:-v0.10.2}"   # pinned
SIM_MODULE="github.com/llm-d/llm-d-inference-sim"
OUT="$DEPS_BIN_DIR/llm-d-inference-sim"

# sim_ok: binary exists, embeds the pinned module version, and runs.
sim_ok() {
  [[ -x "$OUT" ]] || return 1
  local mod_version
  mod_version="$(go version -m "$OUT" 2>/dev/null | awk '$1 == "mod" { print $3 }')"
  [[ "$mod_version" == "$SIM_VERSION" ]] || return 1
  "$OUT" --help 2>&1 | grep -q -- '--force-dummy-tokenizer'
}

command -v go >/dev/null || { echo "inference-sim.sh: 'go' not found on PATH" >&2; exit 1; }

if sim_ok; then
  echo "llm-d-inference-sim $SIM_VERSION: cached at $OUT"
  exit 0
fi

# `go install $SIM_MODULE/cmd/llm-d-inference-sim@$SIM_VERSION` fails here: it also
# asks the module proxy for the module's version list (deprecation check), which
# the proxy we can reach refuses. Building from a throw-away module that requires
# the pinned version only needs that exact version, so do that instead.
BUILD_DIR="$DEPS_REPO_ROOT/.cache/build/inference-sim-$SIM_VERSION"
mkdir -p "$DEPS_BIN_DIR" "$BUILD_DIR"
printf 'module tokenroute.local/build/inference-sim\n\ngo 1.25.7\n\nrequire %s %s\n' \
  "$SIM_MODULE" "$SIM_VERSION" > "$BUILD_DIR/go.mod"
: > "$BUILD_DIR/go.sum"

echo "llm-d-inference-sim $SIM_VERSION: building in $BUILD_DIR ..."
start=$(date +%s)
(cd "$BUILD_DIR" && GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
  go build -trimpath -ldflags "-s -w" -o "$OUT.tmp" "$SIM_MODULE/cmd/llm-d-inference-sim")
mv -f "$OUT.tmp" "$OUT"

sim_ok || { echo "inference-sim.sh: $OUT does not run or is not $SIM_VERSION" >&2; exit 1; }
echo "llm-d-inference-sim $SIM_VERSION: built in $(( $(date +%s) - start ))s -> $OUT"
