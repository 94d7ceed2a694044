#!/usr/bin/env bash
# Build llm-d's P/D routing sidecar (`cmd/pd-sidecar` of llm-d-inference-scheduler v0.7.1, the
# release llm-d's EPP peer is pinned to) into <repo>/.cache/bin/pd-sidecar, the same way as the
# EPP peer (llm-d-epp.sh: a temp module, CGO_ENABLED=0, cached). It runs in front of each decode
# model server: it reads x-prefiller-host-port, sends the prefill to that endpoint
# (kv_transfer_params do_remote_decode) and then the decode to its local server.
set -euo pipefail
LLMD_CMD=pd-sidecar LLMD_BIN=pd-sidecar LLMD_HELP_FLAG=--vllm-port LLMD_CHECK_KVCACHE=0 exec bash "$(dirname "${BASH_SOURCE[0]}")/llm-d-epp.sh"
