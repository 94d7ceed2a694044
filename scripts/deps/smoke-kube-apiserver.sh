#!/usr/bin/env bash
# Smoke test: start etcd + kube-apiserver from .cache/bin on loopback the way
# controller-runtime envtest does (free ports, temp dirs), wait for /readyz with
# an admin bearer token, list namespaces, then stop both.
# Prints the flag set it used. Exit 0 on success.
#   KEEP=1  leave the temp dir (logs, token, kubeconfig) behind.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ETCD="$DEPS_BIN_DIR/etcd"
KAS="$DEPS_BIN_DIR/kube-apiserver"
[[ -x "$ETCD" && -x "$KAS" ]] || { echo "run scripts/deps/etcd.sh and scripts/deps/kube-apiserver.sh first" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }

free_port() {  # ask the kernel for a free loopback TCP port
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

TMP="$(mktemp -d /tmp/tokenroute-kas.XXXXXX)"
ETCD_PID=""; KAS_PID=""
cleanup() {
  [[ -n "$KAS_PID" ]] && kill "$KAS_PID" 2>/dev/null && wait "$KAS_PID" 2>/dev/null || true
  [[ -n "$ETCD_PID" ]] && kill "$ETCD_PID" 2>/dev/null && wait "$ETCD_PID" 2>/dev/null || true
  if [[ "${KEEP:-}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ETCD_CLIENT_PORT="$(free_port)"; ETCD_PEER_PORT="$(free_port)"; KAS_PORT="$(free_port)"
mkdir -p "$TMP/etcd-data" "$TMP/certs"

# --- etcd (envtest: --data-dir, --listen-client-urls, --advertise-client-urls, --listen-peer-urls)
ETCD_ARGS=(
  --name=default
  --data-dir="$TMP/etcd-data"
  --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT"
  --logger=zap --log-level=warn
)
"$ETCD" "${ETCD_ARGS[@]}" > "$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null | grep -q '"health":"true"' && break
  kill -0 "$ETCD_PID" 2>/dev/null || { cat "$TMP/etcd.log" >&2; exit 1; }
  sleep 0.1
done

# --- credentials: service-account key pair + static admin token (group system:masters)
openssl genrsa -out "$TMP/sa.key" 2048 2>/dev/null
openssl rsa -in "$TMP/sa.key" -pubout -out "$TMP/sa.pub" 2>/dev/null
TOKEN="$(openssl rand -hex 16)"
echo "$TOKEN,admin,admin-uid,system:masters" > "$TMP/tokens.csv"
echo "$TOKEN" > "$TMP/token"

KAS_ARGS=(
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT"
  --cert-dir="$TMP/certs"                      # self-signed serving cert generated here
  --bind-address=127.0.0.1
  --secure-port="$KAS_PORT"
  --advertise-address=127.0.0.1
  --service-cluster-ip-range=10.0.0.0/24
  --allow-privileged=true
  --authorization-mode=RBAC
  --token-auth-file="$TMP/tokens.csv"
  --service-account-issuer="https://127.0.0.1:$KAS_PORT/"
  --service-account-key-file="$TMP/sa.pub"
  --service-account-signing-key-file="$TMP/sa.key"
  --disable-admission-plugins=ServiceAccount
  --enable-priority-and-fairness=false
  --profiling=false
)
"$KAS" "${KAS_ARGS[@]}" > "$TMP/kube-apiserver.log" 2>&1 &
KAS_PID=$!

start=$(date +%s)
ready=""
for _ in $(seq 1 600); do
  if out="$(curl -ksS -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$KAS_PORT/readyz" 2>/dev/null)" && [[ "$out" == ok ]]; then
    ready=1; break
  fi
  kill -0 "$KAS_PID" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  echo "kube-apiserver did not become ready; last log lines:" >&2
  tail -40 "$TMP/kube-apiserver.log" >&2
  exit 1
fi
echo "readyz: ok after $(( $(date +%s) - start ))s (https://127.0.0.1:$KAS_PORT, etcd http://127.0.0.1:$ETCD_CLIENT_PORT)"

# kubeconfig for clients (insecure-skip-tls-verify; serving cert is self-signed)
cat > "$TMP/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: envtest, cluster: {server: "https://127.0.0.1:$KAS_PORT", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$TOKEN"}}]
contexts: [{name: envtest, context: {cluster: envtest, user: admin}}]
current-context: envtest
EOF

ns="$(curl -ksS -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$KAS_PORT/api/v1/namespaces")"
grep -q '"name": "default"' <<<"$ns" || { echo "unexpected namespaces response: $ns" >&2; exit 1; }
code="$(curl -ks -o /dev/null -w '%{http_code}' "https://127.0.0.1:$KAS_PORT/api/v1/namespaces")"
echo "GET /api/v1/namespaces: admin ok; anonymous -> HTTP $code"
echo "etcd flags: ${ETCD_ARGS[*]}"
echo "kube-apiserver flags: ${KAS_ARGS[*]}"
