#!/usr/bin/env bash
# Smoke test: start .cache/bin/llm-d-inference-sim offline on a free port, check
# /metrics and the OpenAI endpoints (streaming and not), then stop it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIM="$DEPS_BIN_DIR/llm-d-inference-sim"
[[ -x "$SIM" ]] || { echo "run scripts/deps/inference-sim.sh first" >&2; exit 1; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

PORT="$(free_port)"; ZMQ_PORT="$(free_port)"
MODEL="Qwen/Qwen3-0.6B"
LOG="$(mktemp /tmp/tokenroute-sim.XXXXXX.log)"
# POD_IP is required with --enable-kvcache (it goes into the ZMQ topic kv@<POD_IP>@<model>).
# With nobody bound on --zmq-endpoint the events are simply not delivered.
POD_IP=127.0.0.1 POD_NAME=sim-0 POD_NAMESPACE=default "$SIM" \
  --model "$MODEL" --port "$PORT" --force-dummy-tokenizer --mode echo \
  --enable-kvcache --kv-cache-size 256 --block-size 16 \
  --zmq-endpoint "tcp://127.0.0.1:$ZMQ_PORT" --event-batch-size 16 --hash-seed 0 \
  --max-num-seqs 4 --max-model-len 4096 > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT

B="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$B/health" || true)" == 200 ]] && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done

fail() { echo "inference-sim smoke: $*" >&2; tail -20 "$LOG" >&2; exit 1; }
post() { curl -sS -N "$B$1" -H 'content-type: application/json' -d "$2"; }

out="$(post /v1/chat/completions "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}],\"max_tokens\":5}")"
grep -q '"object":"chat.completion"' <<<"$out" || fail "chat: $out"
out="$(post /v1/chat/completions "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}")"
grep -q '^data: \[DONE\]' <<<"$out" || fail "chat stream: $out"
out="$(post /v1/completions "{\"model\":\"$MODEL\",\"prompt\":\"hello there\",\"max_tokens\":5}")"
grep -q '"object":"text_completion"' <<<"$out" || fail "completions: $out"
out="$(post /v1/completions "{\"model\":\"$MODEL\",\"prompt\":\"hello there\",\"stream\":true}")"
grep -q '^data: \[DONE\]' <<<"$out" || fail "completions stream: $out"
metrics="$(curl -sS "$B/metrics")"
for m in vllm:num_requests_waiting vllm:num_requests_running vllm:kv_cache_usage_perc vllm:cache_config_info; do
  grep -q "^$m" <<<"$metrics" || fail "metric $m missing"
done
echo "llm-d-inference-sim smoke: ok (chat/completions, streaming and not, /metrics) on $B"
