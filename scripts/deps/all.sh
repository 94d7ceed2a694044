#!/usr/bin/env bash
# Install/build every external test binary into <repo>/.cache/bin.
# Each step reuses its cached binary when it is present and runs.
#   SMOKE=1  also run the smoke tests (etcd + kube-apiserver /readyz; inference-sim HTTP API).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

bash "$here/etcd.sh"
bash "$here/kube-apiserver.sh"
bash "$here/inference-sim.sh"
bash "$here/llm-d-samples.sh"
bash "$here/pd-sidecar.sh"
bash "$here/llm-d-epp.sh"
bash "$here/helm.sh"
bash "$here/crds.sh"
command -v shellcheck >/dev/null || apt_install shellcheck
if [[ "${SMOKE:-}" == 1 ]]; then
  bash "$here/smoke-kube-apiserver.sh"
  bash "$here/smoke-inference-sim.sh"
fi
echo "deps ready in $DEPS_BIN_DIR:"
ls -1 "$DEPS_BIN_DIR"
