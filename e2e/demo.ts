// `npm run demo`: the local stack on the embedded default. Starts three llm-d-inference-sim model
// servers on 127.0.0.1, the tokenroute EPP in standalone mode over them, and sends a short
// chat workload. Each request goes the way a gateway sends it: ask the EPP over ext_proc
// (request headers + body), forward to the endpoint it names, stream the response back through
// the ext_proc stream (so the EPP sees completions and the served endpoint). The forwarding here
// is a minimal stand-in for a proxy, for this demo only. Prints where requests went and their
// latency, then stops everything (Ctrl-C too).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startEpp, type RunningEpp } from '../epp/src/main.js';
import { createLogger } from '../epp/src/observability/logger.js';
import { findPackageRoot } from '../epp/src/protocol/proto.js';
import { StreamDriver, bodyMsg, headersMsg, newExtProcClient, respBodyMsg, respHeadersMsg, servedMetadata, setHeadersOf, type ExtProcClient } from './lib/extproc-client.js';

const ROOT = findPackageRoot();
const SIM = join(ROOT, '.cache', 'bin', 'llm-d-inference-sim');
const MODEL = 'Qwen/Qwen3-0.6B';
const PORTS = [18101, 18102, 18103];
const REQUESTS = 90;
const CONCURRENCY = 12;

const children: ChildProcess[] = [];
let epp: RunningEpp | undefined;

function startSim(port: number, i: number): ChildProcess {
  // Simulated time, not CPU: prefill 2 ms/token, 20 ms per output token, 4 sequences at once.
  const child = spawn(SIM, [
    '--model', MODEL, '--port', String(port), '--force-dummy-tokenizer', '--mode', 'random',
    '--max-num-seqs', '4', '--prefill-time-per-token', '2ms', '--inter-token-latency', '20ms', '--max-model-len', '8192',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, POD_IP: '127.0.0.1', POD_NAME: `sim-${i}`, POD_NAMESPACE: 'demo' } });
  children.push(child);
  return child;
}

async function waitHealthy(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/metrics`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`model server on port ${port} did not come up`);
}

function shutdown(code: number): never {
  for (const c of children) c.kill('SIGTERM');
  void epp?.close();
  process.exit(code);
}

interface Outcome {
  endpoint: string;
  ttftMs: number;
  totalMs: number;
  ok: boolean;
}

/** One request, through the EPP, to the endpoint it picks, streamed back through ext_proc. */
async function oneRequest(client: ExtProcClient, i: number): Promise<Outcome> {
  const t0 = performance.now();
  const body = JSON.stringify({
    model: MODEL,
    stream: true,
    max_tokens: 20 + (i % 5) * 10,
    messages: [
      { role: 'system', content: 'You are a helpful assistant for the ACME support desk. Answer briefly and politely.' },
      { role: 'user', content: `Question ${i}: how do I reset my password on device ${i % 7}?` },
    ],
  });
  const d = new StreamDriver(client);
  d.send(headersMsg({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-request-id': `demo-${i}` }));
  d.send(bodyMsg(body, true));
  const first = await d.next(10_000);
  if (first.immediate_response) {
    d.end();
    return { endpoint: `rejected ${JSON.stringify(first.immediate_response.status)}`, ttftMs: 0, totalMs: 0, ok: false };
  }
  const endpoint = setHeadersOf(first.request_headers?.response?.header_mutation).get('x-gateway-destination-endpoint')!.split(',')[0];
  // Collect the (possibly rewritten) body the EPP sends upstream.
  const chunks: Buffer[] = [];
  for (;;) {
    const r = await d.next(10_000);
    const sr = r.request_body?.response?.body_mutation?.streamed_response;
    if (sr?.body) chunks.push(Buffer.from(sr.body));
    if (sr?.end_of_stream) break;
  }
  const res = await fetch(`http://${endpoint}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) });
  d.send(respHeadersMsg({ ':status': String(res.status), 'content-type': res.headers.get('content-type') ?? '' }, false, servedMetadata(endpoint)));
  await d.next(10_000);
  let ttftMs = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (value && ttftMs === 0) ttftMs = performance.now() - t0;
    d.send(respBodyMsg(Buffer.from(value ?? new Uint8Array()), done));
    await d.next(10_000);
    if (done) break;
  }
  d.end();
  await d.status;
  return { endpoint, ttftMs, totalMs: performance.now() - t0, ok: res.ok };
}

function pct(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => shutdown(130));
  execFileSync('bash', [join(ROOT, 'scripts', 'deps', 'inference-sim.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(`tokenroute demo: starting ${PORTS.length} llm-d-inference-sim servers (model ${MODEL}) ...`);
  PORTS.forEach(startSim);
  await Promise.all(PORTS.map(waitHealthy));

  epp = await startEpp({
    grpcPort: 0, grpcHealthPort: 0, metricsPort: 0, host: '127.0.0.1', configText: undefined,
    secureServing: false, enableCertReload: false, healthChecking: false, poolNamespace: 'default',
    staticEndpoints: PORTS.map((port) => ({ address: '127.0.0.1', port })),
    disableEndpointSubsetFilter: false, refreshMetricsIntervalMs: 50, refreshPrometheusMetricsIntervalMs: 1000,
    metricsStalenessThresholdMs: 2000, scrapeWorkers: 1, maxRequestBodyBytes: 64 << 20, logLevel: 'warn',
    logger: createLogger('warn'),
  });
  console.log(`EPP (standalone, GIE default scorers) on 127.0.0.1:${epp.grpcPort}, metrics on http://127.0.0.1:${epp.metricsPort}/metrics`);
  const client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());

  const outcomes: Outcome[] = [];
  let next = 0;
  const bar = (n: number) => process.stdout.write(`\r[${'#'.repeat(Math.round((n / REQUESTS) * 40)).padEnd(40)}] ${n}/${REQUESTS}`);
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < REQUESTS) {
      outcomes.push(await oneRequest(client, next++));
      bar(outcomes.length);
    }
  }));
  process.stdout.write('\n\n');
  client.close();

  const ok = outcomes.filter((o) => o.ok);
  console.log(`requests: ${outcomes.length}, ok: ${ok.length}`);
  console.log(`TTFT p50 ${pct(ok.map((o) => o.ttftMs), 0.5).toFixed(0)} ms, p90 ${pct(ok.map((o) => o.ttftMs), 0.9).toFixed(0)} ms; total p50 ${pct(ok.map((o) => o.totalMs), 0.5).toFixed(0)} ms`);
  console.log('\n| endpoint | requests | share | TTFT p50 ms |\n|---|---|---|---|');
  for (const ep of [...new Set(outcomes.map((o) => o.endpoint))].sort()) {
    const mine = outcomes.filter((o) => o.endpoint === ep);
    console.log(`| ${ep} | ${mine.length} | ${((mine.length / outcomes.length) * 100).toFixed(0)}% | ${pct(mine.map((o) => o.ttftMs), 0.5).toFixed(0)} |`);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${epp.metricsPort}/metrics`)).text();
  console.log('\nfrom the EPP\'s /metrics:');
  for (const line of metrics.split('\n')) {
    if (/^(inference_objective_request_total|inference_extension_scheduler_e2e_duration_seconds_(sum|count)|inference_pool_per_pod_queue_size)/.test(line)) console.log(`  ${line}`);
  }
  shutdown(ok.length === outcomes.length ? 0 : 1);
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.stack ?? err.message}`);
  shutdown(1);
});
