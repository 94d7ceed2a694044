#!/usr/bin/env bash
# kind e2e: tokenroute in a real Kubernetes cluster behind a real gateway. Creates a kind cluster,
# installs the Gateway API and InferencePool CRDs and Istio or Envoy Gateway (+ Envoy AI Gateway),
# builds tokenroute's images from this repository and loads them, deploys llm-d-inference-sim pods
# as the pool, installs tokenroute with charts/tokenroute, runs the shared gateway specs
# (test/e2e/specs/gateway-specs.ts — the ones CI runs against the local stack and the container
# images) through the gateway, and deletes the cluster.
#
#   e2e/kind/run.sh [--provider istio|envoy-gateway] [--cluster NAME] [--keep] [--keep-on-failure]
#
# Needs docker, kind, kubectl, helm, node 20 and go on PATH (istioctl is downloaded when missing).
# The CI machines of this repository have no Docker engine, no kind node image and no registry,
# so this script does not run there; CI keeps it honest with shellcheck, a strict server-side dry
# run of every object it applies from this repository (test/integration/k8s/chart.test.ts), and
# the same specs against the local stack (test/e2e/shared-specs.test.ts) and the images
# (test/containers/stack.test.ts).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

provider=istio
cluster=tokenroute-e2e
keep=never
while [[ $# -gt 0 ]]; do
  case "$1" in
    --provider) provider="$2"; shift 2 ;;
    --cluster) cluster="$2"; shift 2 ;;
    --keep) keep=always; shift ;;
    --keep-on-failure) keep=on-failure; shift ;;
    -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$provider" in istio | envoy-gateway) ;; *) echo "--provider must be istio or envoy-gateway" >&2; exit 2 ;; esac

GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.4.1}"
ISTIO_VERSION="${ISTIO_VERSION:-1.28.1}"
ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-v1.5.4}"
AI_GATEWAY_VERSION="${AI_GATEWAY_VERSION:-v0.4.0}"
NS=tokenroute-e2e
RELEASE=kind
REGISTRY_NAME=kind-registry
REGISTRY_PORT="${REGISTRY_PORT:-5001}"

for tool in docker kind kubectl helm node go; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not on PATH" >&2; exit 1; }
done

log() { printf '\n=== %s\n' "$*"; }
port_forward_pid=""

cleanup() {
  local rc=$?
  if [[ -n "$port_forward_pid" ]]; then kill "$port_forward_pid" 2>/dev/null || true; fi
  if [[ "$keep" == always || ( "$keep" == on-failure && $rc -ne 0 ) ]]; then
    echo "keeping cluster $cluster (kind delete cluster --name $cluster)"
  else
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

log "cluster $cluster and a local registry for the filter's OCI image"
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 120s
if [[ -z "$(docker ps -q -f "name=^${REGISTRY_NAME}$")" ]]; then
  docker run -d --restart=always -p "127.0.0.1:${REGISTRY_PORT}:5000" --name "$REGISTRY_NAME" registry:2 >/dev/null
fi
docker network connect kind "$REGISTRY_NAME" 2>/dev/null || true

log "CRDs: Gateway API $GATEWAY_API_VERSION, InferencePool (manifests/crds)"
kubectl apply --server-side -f "https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/standard-install.yaml"
kubectl apply --server-side -k "$root/manifests/crds"

log "images (Dockerfile targets epp and filter, the simulator image)"
CONTAINER_CLI=docker TOKENROUTE_IMAGE_TAG=kind BUILD_IMAGE="${BUILD_IMAGE:-docker.io/library/node:20-bookworm}" \
  RUNTIME_IMAGE="${RUNTIME_IMAGE:-gcr.io/distroless/cc-debian12:nonroot}" bash "$root/scripts/images/build.sh"
bash "$root/scripts/deps/inference-sim.sh"
simctx="$(mktemp -d)"
cp "$root/.cache/bin/llm-d-inference-sim" "$simctx/"
docker build -t localhost/tokenroute/llm-d-inference-sim:kind -f "$root/e2e/containers/sim.Dockerfile" "$simctx"
rm -rf "$simctx"
kind load docker-image --name "$cluster" localhost/tokenroute/epp:kind localhost/tokenroute/llm-d-inference-sim:kind
docker tag localhost/tokenroute/filter:kind "127.0.0.1:${REGISTRY_PORT}/tokenroute/filter:kind"
docker push "127.0.0.1:${REGISTRY_PORT}/tokenroute/filter:kind"
filter_image="oci://${REGISTRY_NAME}:5000/tokenroute/filter:kind"

log "provider $provider"
if [[ "$provider" == istio ]]; then
  if ! command -v istioctl >/dev/null; then
    curl -fsSL https://istio.io/downloadIstio | ISTIO_VERSION="$ISTIO_VERSION" sh -
    export PATH="$PWD/istio-${ISTIO_VERSION}/bin:$PATH"
  fi
  # The inference extension in istiod; the filter's image comes from the plain-HTTP kind registry.
  istioctl install -y --set profile=minimal \
    --set values.pilot.env.ENABLE_GATEWAY_API_INFERENCE_EXTENSION=true \
    --set "meshConfig.defaultConfig.proxyMetadata.WASM_INSECURE_REGISTRIES=${REGISTRY_NAME}:5000"
else
  helm upgrade --install eg oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" \
    -n envoy-gateway-system --create-namespace -f "$here/envoy-gateway-values.yaml" --wait
  helm upgrade --install aieg-crd oci://docker.io/envoyproxy/ai-gateway-crds-helm --version "$AI_GATEWAY_VERSION" \
    -n envoy-ai-gateway-system --create-namespace --wait
  helm upgrade --install aieg oci://docker.io/envoyproxy/ai-gateway-helm --version "$AI_GATEWAY_VERSION" \
    -n envoy-ai-gateway-system --create-namespace --wait
fi

log "the pool (llm-d-inference-sim) and tokenroute (charts/tokenroute)"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f "$here/manifests/sims.yaml"
helm upgrade --install "$RELEASE" "$root/charts/tokenroute" -n "$NS" -f "$here/values.yaml" \
  --set "provider.name=$provider" --set "filter.image=$filter_image" --wait --timeout 5m
kubectl apply -f "$here/manifests/gateway-$provider.yaml"
kubectl -n "$NS" rollout status deploy/kind-sim --timeout 180s
kubectl -n "$NS" wait --for=condition=Programmed gateway/inference-gateway --timeout 300s

log "the shared gateway specs through the gateway"
gw_service="$(kubectl -n "$NS" get svc -l gateway.networking.k8s.io/gateway-name=inference-gateway -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
if [[ -z "$gw_service" ]]; then
  # Envoy Gateway names the Service in its own namespace.
  gw_ns=envoy-gateway-system
  gw_service="$(kubectl -n "$gw_ns" get svc -l "gateway.envoyproxy.io/owning-gateway-name=inference-gateway" -o jsonpath='{.items[0].metadata.name}')"
else
  gw_ns="$NS"
fi
kubectl -n "$gw_ns" port-forward "svc/$gw_service" 18080:80 >/dev/null 2>&1 &
port_forward_pid=$!
for _ in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:18080/v1/models 2>/dev/null && break; sleep 0.2; done
(cd "$root" && npm run build >/dev/null && \
  TOKENROUTE_KIND_GATEWAY_URL=http://127.0.0.1:18080 TOKENROUTE_KIND_NAMESPACE="$NS" TOKENROUTE_KIND_EPP="${RELEASE}-epp" \
  npx vitest run --config e2e/kind/vitest.config.ts)
log "passed ($provider)"
