#!/usr/bin/env bash
# Run llm-d's Go EPP (scripts/deps/llm-d-epp.sh) on this machine without a real cluster, in front
# of llm-d-inference-sim model servers, and check that it routes. Everything is on loopback.
#
#   e2e/peers/run-llm-d-epp.sh [default|approx|precise]      (default: approx)
#
# What it starts (all in a temp dir; everything is stopped on exit, HOLD=1 waits for Ctrl-C first):
#   1. etcd + kube-apiserver (envtest style, admin bearer token, kubeconfig).
#   2. Discovery objects. DISCOVERY=pool (default): the InferencePool CRD (GIE v1.4.0's, read from
#      the Go module cache) + InferencePool `sim-pool` (selector app=llm-d-sim-peer, targetPorts =
#      every sim port). DISCOVERY=standalone: no CRD, the EPP gets --endpoint-selector and
#      --endpoint-target-ports instead (broken in v0.7.1, see llm-d-epp.md).
#      TOPOLOGY=pods (default): one Pod per sim, status.podIP 127.0.0.<i+1>, annotation
#      inference.networking.k8s.io/active-ports=<its port> so each pod yields exactly one
#      endpoint. TOPOLOGY=dp: a single Pod at 127.0.0.1 with no annotation, so the pool's
#      targetPorts make one endpoint per sim ("data parallel" ranks).
#      Pods are made Ready by writing their status subresource (there is no kubelet).
#   3. SIMS (3) llm-d-inference-sim on free ports, --force-dummy-tokenizer, KV cache on,
#      POD_IP=<podIP>:<port> (the precise index keys endpoints by ip:port, taken from the ZMQ topic).
#      precise: each sim dials the EPP's ZMQ socket with --zmq-endpoint.
#   4. precise only: e2e/peers sim-tokenizer (the UDS-tokenizer gRPC service over TCP, with the
#      simulator's dummy tokenizer).
#   5. the EPP: plaintext gRPC, config e2e/peers/llm-d-epp/config-<mode>.yaml (ports rewritten),
#      or no --config-file for `default`.
# Then it verifies: extproc-loadgen (3 s, concurrency 1) must get destinations that are sim
# endpoints; xgw (a minimal gateway: ext_proc + forward to the endpoint) sends REQUESTS chat
# requests in FAMILIES prompt families; the EPP's /metrics must show the pool's scraped sim metrics;
# precise: a prompt family first sent *directly* to one sim (so only its KV events can tell the
# EPP) must then be routed to that sim.
#
# Env: SIMS=3 DISCOVERY=pool|standalone TOPOLOGY=pods|dp HOLD=1 (skip checks, keep running) KEEP=1 (keep logs)
#      REQUESTS=30 FAMILIES=3 MODEL=meta-llama/Llama-3.1-8B-Instruct EPP_V=1 (log verbosity;
#      the binary's default 2 also logs debug lines per request)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${TOKENROUTE_BIN_DIR:-$ROOT/.cache/bin}"
MODE="${1:-approx}"
SIMS="${SIMS:-3}"
DISCOVERY="${DISCOVERY:-pool}"
TOPOLOGY="${TOPOLOGY:-pods}"
MODEL="${MODEL:-meta-llama/Llama-3.1-8B-Instruct}"
REQUESTS="${REQUESTS:-30}"
GROUPS_N="${FAMILIES:-3}"
EPP_V="${EPP_V:-1}"
NS=default

case "$MODE" in default|approx|precise) ;; *) echo "usage: $0 [default|approx|precise]" >&2; exit 2 ;; esac
for b in llm-d-epp llm-d-inference-sim kube-apiserver etcd extproc-loadgen; do
  [[ -x "$BIN/$b" ]] || { echo "missing $BIN/$b (scripts/deps/*.sh; extproc-loadgen: epp/bench)" >&2; exit 1; }
done

# --- our helper binaries (e2e/peers Go module): xgw (mini gateway), sim-tokenizer
build_peer_tools() {
  local newest; newest="$(find "$HERE/cmd" "$HERE/go.mod" "$HERE/go.sum" -newer "$BIN/xgw" 2>/dev/null | head -1 || true)"
  if [[ ! -x "$BIN/xgw" || ! -x "$BIN/sim-tokenizer" || -n "$newest" ]]; then
    echo "building e2e/peers tools (xgw, sim-tokenizer) ..."
    (cd "$HERE" && GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
      go build -trimpath -o "$BIN/" ./cmd/xgw ./cmd/sim-tokenizer)
  fi
}
build_peer_tools

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }

T="$(mktemp -d /tmp/llm-d-epp-peer.XXXXXX)"
PIDS=()
cleanup() {
  local rc=$?
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${KEEP:-}" == 1 || $rc != 0 ]]; then echo "logs kept in $T"; else rm -rf "$T"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. etcd + kube-apiserver
P_ETCD="$(free_port)"; P_PEER="$(free_port)"; P_KAS="$(free_port)"
mkdir -p "$T/etcd-data" "$T/certs"
"$BIN/etcd" --name=default --data-dir="$T/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$P_ETCD" --advertise-client-urls="http://127.0.0.1:$P_ETCD" \
  --listen-peer-urls="http://127.0.0.1:$P_PEER" --initial-advertise-peer-urls="http://127.0.0.1:$P_PEER" \
  --initial-cluster="default=http://127.0.0.1:$P_PEER" --logger=zap --log-level=warn > "$T/etcd.log" 2>&1 &
PIDS+=($!)
openssl genrsa -out "$T/sa.key" 2048 2>/dev/null
openssl rsa -in "$T/sa.key" -pubout -out "$T/sa.pub" 2>/dev/null
TOKEN="$(openssl rand -hex 16)"
echo "$TOKEN,admin,admin-uid,system:masters" > "$T/tokens.csv"
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$P_ETCD/health" 2>/dev/null | grep -q true && break; sleep 0.1; done
"$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$P_ETCD" --cert-dir="$T/certs" \
  --bind-address=127.0.0.1 --secure-port="$P_KAS" --advertise-address=127.0.0.1 \
  --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true --authorization-mode=RBAC \
  --token-auth-file="$T/tokens.csv" --service-account-issuer="https://127.0.0.1:$P_KAS/" \
  --service-account-key-file="$T/sa.pub" --service-account-signing-key-file="$T/sa.key" \
  --disable-admission-plugins=ServiceAccount --enable-priority-and-fairness=false --profiling=false \
  > "$T/kube-apiserver.log" 2>&1 &
PIDS+=($!)
KAS="https://127.0.0.1:$P_KAS"
kapi() {  # kapi METHOD PATH [BODY [CONTENT-TYPE]]
  local args=(-ksS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" "$KAS$2")
  [[ $# -ge 3 ]] && args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
  curl "${args[@]}"
}
for _ in $(seq 1 600); do [[ "$(kapi GET /readyz 2>/dev/null)" == ok ]] && break; sleep 0.1; done
[[ "$(kapi GET /readyz)" == ok ]] || { tail -30 "$T/kube-apiserver.log" >&2; exit 1; }
cat > "$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: envtest, cluster: {server: "$KAS", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$TOKEN"}}]
contexts: [{name: envtest, context: {cluster: envtest, user: admin, namespace: $NS}}]
current-context: envtest
EOF
echo "kube-apiserver ready at $KAS"

# --- ports
SIM_PORTS=(); for ((i=1; i<=SIMS; i++)); do SIM_PORTS+=("$(free_port)"); done
P_ZMQ="$(free_port)"; P_TOK="$(free_port)"
P_GRPC="$(free_port)"; P_HEALTH="$(free_port)"; P_METRICS="$(free_port)"
ports_csv="$(IFS=,; echo "${SIM_PORTS[*]}")"
sim_ip() { if [[ "$TOPOLOGY" == dp ]]; then echo 127.0.0.1; else echo "127.0.0.$(( $1 + 1 ))"; fi; }

# --- 2. discovery objects
if [[ "$DISCOVERY" == pool ]]; then
  GIE_DIR="$(go env GOMODCACHE)/sigs.k8s.io/gateway-api-inference-extension@v1.4.0"
  CRD="$GIE_DIR/config/crd/bases/inference.networking.k8s.io_inferencepools.yaml"
  [[ -f "$CRD" ]] || CRD="$ROOT/manifests/crds/inferencepools.yaml"
  kapi POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(cat "$CRD")" application/yaml > /dev/null
  # The alpha CRDs too, or the EPP logs "Checking server resources error." for each at startup.
  for f in inference.networking.x-k8s.io_inferenceobjectives.yaml inference.networking.x-k8s.io_inferencemodelrewrites.yaml; do
    [[ -f "$GIE_DIR/config/crd/bases/$f" ]] && kapi POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
      "$(cat "$GIE_DIR/config/crd/bases/$f")" application/yaml > /dev/null
  done
  for _ in $(seq 1 100); do
    kapi GET /apis/inference.networking.k8s.io/v1 2>/dev/null | grep -q '"inferencepools"' && break; sleep 0.1
  done
  tp="$(for p in "${SIM_PORTS[@]}"; do printf '{"number":%s},' "$p"; done)"
  kapi POST "/apis/inference.networking.k8s.io/v1/namespaces/$NS/inferencepools" \
    "{\"apiVersion\":\"inference.networking.k8s.io/v1\",\"kind\":\"InferencePool\",\"metadata\":{\"name\":\"sim-pool\"},
      \"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"llm-d-sim-peer\"}},\"targetPorts\":[${tp%,}],
      \"endpointPickerRef\":{\"name\":\"llm-d-epp\",\"port\":{\"number\":$P_GRPC}}}}" > /dev/null
  echo "InferencePool sim-pool: targetPorts [$ports_csv] (CRD from $CRD)"
fi
make_pod() {  # make_pod NAME IP [ACTIVE_PORTS]
  local ann=""
  [[ -n "${3:-}" ]] && ann=",\"annotations\":{\"inference.networking.k8s.io/active-ports\":\"$3\"}"
  kapi POST "/api/v1/namespaces/$NS/pods" \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"app\":\"llm-d-sim-peer\"}$ann},
      \"spec\":{\"containers\":[{\"name\":\"sim\",\"image\":\"llm-d-inference-sim:local\"}]}}" > /dev/null
  kapi PATCH "/api/v1/namespaces/$NS/pods/$1/status" \
    "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$2\",\"podIPs\":[{\"ip\":\"$2\"}],\"hostIP\":\"127.0.0.1\",
      \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"ContainersReady\",\"status\":\"True\"}]}}" \
    application/merge-patch+json > /dev/null
}
if [[ "$TOPOLOGY" == dp ]]; then
  make_pod sim-dp 127.0.0.1
  echo "Pod sim-dp: podIP 127.0.0.1, Ready (all targetPorts active)"
else
  for ((i=1; i<=SIMS; i++)); do
    make_pod "sim-$i" "$(sim_ip "$i")" "${SIM_PORTS[i-1]}"
    echo "Pod sim-$i: podIP $(sim_ip "$i"), active-ports ${SIM_PORTS[i-1]}, Ready"
  done
fi

# --- 3. simulators
for ((i=1; i<=SIMS; i++)); do
  p="${SIM_PORTS[i-1]}"
  args=(--model "$MODEL" --port "$p" --force-dummy-tokenizer --mode random
        --max-num-seqs 4 --max-model-len 8192 --prefill-time-per-token 1ms --inter-token-latency 5ms
        --enable-kvcache --kv-cache-size 1024 --block-size 16 --hash-seed 0 --event-batch-size 16)
  [[ "$MODE" == precise ]] && args+=(--zmq-endpoint "tcp://127.0.0.1:$P_ZMQ")
  POD_IP="$(sim_ip "$i"):$p" POD_NAME="sim-$i" POD_NAMESPACE="$NS" \
    "$BIN/llm-d-inference-sim" "${args[@]}" > "$T/sim-$i.log" 2>&1 &
  PIDS+=($!)
done
for p in "${SIM_PORTS[@]}"; do
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$p/health" > /dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "http://127.0.0.1:$p/health" > /dev/null || { echo "sim on $p not healthy" >&2; exit 1; }
done
echo "sims up on ports $ports_csv (model $MODEL)"

# --- 4. tokenizer stand-in (precise)
if [[ "$MODE" == precise ]]; then
  "$BIN/sim-tokenizer" --listen "127.0.0.1:$P_TOK" > "$T/sim-tokenizer.log" 2>&1 &
  PIDS+=($!)
fi

# --- 5. the EPP
EPP_ARGS=(--secure-serving=false --grpc-port "$P_GRPC" --grpc-health-port "$P_HEALTH"
          --metrics-port "$P_METRICS" --metrics-endpoint-auth=false --tracing=false --enable-pprof=false
          --health-checking=true --v "$EPP_V")
if [[ "$DISCOVERY" == pool ]]; then
  EPP_ARGS+=(--pool-name sim-pool --pool-namespace "$NS")
else
  EPP_ARGS+=(--endpoint-selector app=llm-d-sim-peer --endpoint-target-ports "$ports_csv" --pool-namespace "$NS")
fi
if [[ "$MODE" != default ]]; then
  sed -e "s#tcp://127.0.0.1:5557#tcp://127.0.0.1:$P_ZMQ#" -e "s#127.0.0.1:50051#127.0.0.1:$P_TOK#" \
      -e "s#meta-llama/Llama-3.1-8B-Instruct#$MODEL#" "$HERE/llm-d-epp/config-$MODE.yaml" > "$T/epp-config.yaml"
  EPP_ARGS+=(--config-file "$T/epp-config.yaml")
fi
echo "EPP: $BIN/llm-d-epp ${EPP_ARGS[*]}"
# POD_NAME must look like a Deployment pod (<name>-<hash>-<hash>) in standalone mode.
# llm-d's main always initialises OTLP tracing (not gated by --tracing): sample nothing.
KUBECONFIG="$T/kubeconfig" POD_NAME=llm-d-epp-5d9c7-x2x4q NAMESPACE="$NS" \
  OTEL_TRACES_SAMPLER_ARG=0 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 \
  "$BIN/llm-d-epp" "${EPP_ARGS[@]}" > "$T/epp.log" 2>&1 &
EPP_PID=$!; PIDS+=($EPP_PID)
ready=""
for _ in $(seq 1 300); do
  kill -0 "$EPP_PID" 2>/dev/null || break
  n="$(curl -fsS "http://127.0.0.1:$P_METRICS/metrics" 2>/dev/null | awk '/^inference_pool_ready_pods/ {print $2}' | head -1 || true)"
  [[ "${n:-0}" == "$SIMS" ]] && { ready=1; break; }
  sleep 0.2
done
if [[ -z "$ready" ]]; then
  echo "EPP did not report $SIMS ready endpoints; last log lines:" >&2; tail -40 "$T/epp.log" >&2; exit 1
fi
echo "EPP ready: inference_pool_ready_pods=$SIMS (gRPC 127.0.0.1:$P_GRPC, metrics :$P_METRICS)"
sleep 1   # let a few metric scrapes land

if [[ "${HOLD:-}" == 1 ]]; then
  echo "HOLD=1: ext_proc 127.0.0.1:$P_GRPC  metrics http://127.0.0.1:$P_METRICS/metrics  sims $ports_csv  logs $T"
  echo "Ctrl-C to stop."
  wait "$EPP_PID"
fi

# --- verification
fail=0
expected_dests=(); for ((i=1; i<=SIMS; i++)); do expected_dests+=("$(sim_ip "$i"):${SIM_PORTS[i-1]}"); done
echo "== extproc-loadgen (canned upstream response, concurrency 1, 3 s)"
lg="$("$BIN/extproc-loadgen" --target "127.0.0.1:$P_GRPC" --concurrency 1 --seconds 3 --warmup 0)"
echo "$lg"
python3 - "$lg" "${expected_dests[@]}" <<'EOF' || fail=1
import json, sys
r = json.loads(sys.argv[1]); ok = set(sys.argv[2:])
bad = [d for d in r["destinations"] if d not in ok]
assert r["requests"] > 0 and r["errors"] == 0 and not bad, f"bad destinations {bad} or errors"
print(f"ok: {r['requests']} decisions, all to sim endpoints {sorted(r['destinations'])}")
EOF

if [[ "$MODE" == precise ]]; then
  # A family the EPP has never routed, sent straight to the last sim: only its KV events can
  # tell the EPP where that prefix is cached.
  warm="${expected_dests[SIMS-1]}"
  echo "== precise: warm family 900 directly on $warm, then route it through the EPP"
  "$BIN/xgw" --direct "$warm" --groups 1 --family-offset 900 --requests 1 --concurrency 1 > /dev/null
  sleep 1.5
  pr="$("$BIN/xgw" --epp "127.0.0.1:$P_GRPC" --groups 1 --family-offset 900 --requests 4 --concurrency 1)"
  echo "$pr"
  python3 - "$pr" "$warm" <<'EOF' || fail=1
import json, sys
r = json.loads(sys.argv[1]); warm = sys.argv[2]
assert r["errors"] == 0 and r["destinations"] == {warm: r["requests"]}, f"expected all on {warm}"
print(f"ok: KV-event-only prefix routed to {warm} for all {r['requests']} requests")
EOF
fi

echo "== xgw: $REQUESTS chat requests, $GROUPS_N prompt families, forwarded to the picked sim"
out="$("$BIN/xgw" --epp "127.0.0.1:$P_GRPC" --requests "$REQUESTS" --groups "$GROUPS_N" --concurrency 3)" || fail=1
echo "$out"

# Metrics scraping: load the first sim directly (bypassing the EPP: 16 requests of ~4k prompt
# tokens at 1 ms/token prefill, max-num-seqs 4, so ~12 wait at first). The EPP's per-pod queue
# gauge must show it (gauges flush every --refresh-prometheus-metrics-interval, 5 s) and new
# prompt families must avoid that sim meanwhile (queue / kv-cache scorers read scraped values).
echo "== metrics scraping: real load on the first sim (${expected_dests[0]}), sent directly"
"$BIN/xgw" --direct "${expected_dests[0]}" --requests 16 --concurrency 16 --groups 16 --family-offset 700 \
  --prefix-words 4000 --max-tokens 4 > "$T/direct-load.json" 2>&1 &
LOAD_PID=$!
sleep 1.5
ld="$("$BIN/xgw" --epp "127.0.0.1:$P_GRPC" --requests 6 --groups 6 --family-offset 500 --concurrency 1)" || fail=1
echo "$ld"
python3 - "$ld" "${expected_dests[0]}" <<'EOF2' || fail=1
import json, sys
r = json.loads(sys.argv[1]); loaded = sys.argv[2]
assert r["errors"] == 0 and loaded not in r["destinations"], f"loaded endpoint {loaded} still picked"
print(f"ok: new families avoided the loaded endpoint {loaded}")
EOF2
first_ep="$([[ "$TOPOLOGY" == dp ]] && echo sim-dp-rank-0 || echo sim-1-rank-0)"
qmax=0
for _ in $(seq 1 24); do
  qv="$(curl -fsS "http://127.0.0.1:$P_METRICS/metrics" | awk -v p="model_server_pod=\"$first_ep\"" '/^inference_pool_per_pod_queue_size/ && index($0, p) {print $2}' || true)"
  [[ -n "$qv" ]] && (( ${qv%.*} > qmax )) && qmax=${qv%.*}
  (( qmax > 0 )) && break; sleep 0.5
done
echo "max inference_pool_per_pod_queue_size{$first_ep} seen: $qmax"
(( qmax > 0 )) || { echo "the sim's queue never showed up in the EPP's gauges" >&2; fail=1; }
wait "$LOAD_PID" || { echo "direct load failed: $(tail -3 "$T/direct-load.json")" >&2; fail=1; }

echo "== EPP /metrics (pool gauges from scraped sim metrics)"
curl -fsS "http://127.0.0.1:$P_METRICS/metrics" > "$T/epp-metrics.txt"
grep -E '^inference_pool_(ready_pods|average_kv_cache_utilization|average_queue_size|per_pod_queue_size)|^inference_objective_request_total|^kvcache_index_(admissions|lookup_hits|lookup_requests)_total' "$T/epp-metrics.txt" | head -20
grep -q '^inference_pool_per_pod_queue_size' "$T/epp-metrics.txt" || { echo "no per-pod metrics" >&2; fail=1; }
if [[ "$MODE" == precise ]]; then
  echo "sim-tokenizer log:"; tail -3 "$T/sim-tokenizer.log"
fi
echo "EPP log: $(wc -l < "$T/epp.log") lines; error-level messages:"
grep -E '"level":"error"' "$T/epp.log" | python3 -c 'import sys,json,collections
c=collections.Counter(json.loads(l).get("msg","?") for l in sys.stdin)
[print(f"  {n} x {m}") for m,n in c.most_common()]' || true
[[ $fail == 0 ]] && echo "PASS ($MODE, discovery=$DISCOVERY, topology=$TOPOLOGY)" || { echo "FAIL"; exit 1; }
