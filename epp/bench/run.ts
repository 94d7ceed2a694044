// `npm run bench:epp`: the EPP's performance figures, printed and saved to
// docs/benchmarks/epp.{md,json}.
//  1. In-process decision latency (scheduler only; and the whole request-control path: parse a
//     4 KB chat body + schedule) at 8 / 64 / 512 endpoints, GIE's default scorers.
//  2. ext_proc over real gRPC: the EPP in its own process pinned to CPU 0, the Go load generator
//     (epp/bench/loadgen, built on first use) pinned to CPU 1; full Envoy-shaped streams (request
//     headers + 4 KB body, response headers + body). Latency at concurrency 1, throughput at 64,
//     and the EPP's own CPU use during the throughput run (so "per core" is measured, not assumed).
// Medians and percentiles from one run; the machine is shared, so read ratios, not absolutes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Datastore } from '../src/datastore/datastore.js';
import { staticEndpoints } from '../src/datastore/static-endpoints.js';
import { loadEndpointPickerConfig } from '../src/config/index.js';
import { builtinRegistry, configuredDirector } from '../src/main.js';
import { silentLogger } from '../src/observability/logger.js';
import { EppMetrics } from '../src/observability/metrics.js';
import { Scheduler } from '../src/scheduling/scheduler.js';
import type { RequestInput } from '../src/framework/request-controller.js';
import { findPackageRoot } from '../src/protocol/proto.js';
import { seededRandom } from '../src/util/seeded-random.js';
import { BENCH_CONFIG, benchEndpoints, syntheticMetrics } from './epp-server.js';
import { isPromiseLike } from '../src/util/promise.js';
import { ensureLoadgen, runLoad } from './loadgen-driver.js';
import { processCpuSeconds } from './extproc-client.js';

const SIZES = [8, 64, 512];
const ROOT = findPackageRoot();

function chatBody(bytes: number): Buffer {
  const filler = 'The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(bytes / 45));
  const base = { model: 'meta-llama/Llama-3.1-8B-Instruct', max_tokens: 64, messages: [{ role: 'system', content: '' }, { role: 'user', content: 'hi' }] };
  base.messages[0].content = filler.slice(0, Math.max(0, bytes - Buffer.byteLength(JSON.stringify(base))));
  return Buffer.from(JSON.stringify(base));
}

function percentiles(samples: Float64Array): { p50: number; p99: number } {
  const s = Float64Array.from(samples).sort();
  return { p50: s[Math.floor(s.length * 0.5)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] };
}

function inProcess(n: number) {
  const datastore = new Datastore();
  datastore.setEndpoints(staticEndpoints(benchEndpoints(n)));
  const random = seededRandom(42);
  const now = Date.now();
  for (const c of datastore.candidates()) datastore.updateMetrics(c.endpoint.key, syntheticMetrics(random, now));
  const logger = silentLogger();
  const metrics = new EppMetrics();
  const config = loadEndpointPickerConfig(BENCH_CONFIG, builtinRegistry(), { datastore, logger, random: Math.random, now: Date.now });
  const scheduler = new Scheduler({ profiles: config.profiles, profileHandler: config.profileHandler, logger, metrics });
  // The whole path, as startEpp wires it: the prefix key producer and the scorers' PrepareData and
  // PreRequest steps included.
  const director = configuredDirector(config, { datastore, metrics, logger });
  const body = chatBody(4096);
  const input: RequestInput = {
    headers: new Map([[':path', '/v1/chat/completions'], [':method', 'POST']]),
    requestId: 'bench',
    body,
    filterMetadata: {},
    attributes: new Map(),
    grpcMetadata: new Map(),
  };
  const parsed = config.parser.parse(body, input.headers);
  // A 4 KiB body is parsed on the event loop (off-thread parsing starts at 1 MiB).
  if (isPromiseLike(parsed)) throw new Error('the bench body was parsed off-thread');
  if (!parsed.ok) throw new Error(parsed.message);
  const req = {
    requestId: 'bench', incomingModel: parsed.body.model, targetModel: parsed.body.model, body: parsed.body, headers: input.headers,
    objective: undefined, priority: 0, fairnessId: 'default-flow', profile: undefined, inflightTokens: 100, bodyBytes: body.length,
  };
  const iterations = 20_000;
  const sched = new Float64Array(iterations);
  const whole = new Float64Array(iterations);
  for (let i = 0; i < 2000; i++) scheduler.schedule(req, datastore.candidates());
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    scheduler.schedule(req, datastore.candidates());
    sched[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    const d = director.handleRequest(input);
    whole[i] = Number(process.hrtime.bigint() - t0) / 1000;
    if (d instanceof Promise) throw new Error('the bench config must not tokenize off the event loop');
    if (d.kind === 'route') d.handle.onEnd('complete');
  }
  return { schedulerUs: percentiles(sched), requestControlUs: percentiles(whole) };
}

async function startEppServer(n: number, config: string): Promise<{ child: ChildProcess; port: number; pid: number }> {
  const child = spawn('taskset', ['-c', '0', process.execPath, join(ROOT, 'dist', 'epp', 'bench', 'epp-server.js'), '--endpoints', String(n), '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    const m = JSON.parse(line) as { ready?: boolean; grpcPort: number; pid: number };
    if (m.ready) return { child, port: m.grpcPort, pid: m.pid };
  }
  throw new Error('EPP bench server exited before it was ready');
}

async function overGrpc(n: number, config = 'gie-default') {
  const { child, port, pid } = await startEppServer(n, config);
  try {
    const latency = await runLoad(port, 1, 5);
    const t0 = processCpuSeconds(pid);
    const w0 = Date.now();
    const throughput = await runLoad(port, 64, 8);
    const cpu = (processCpuSeconds(pid) - t0) / ((Date.now() - w0) / 1000);
    return { latency, throughput, eppCpuCores: cpu, perCoreSecond: throughput.perSecond / Math.max(cpu, 1e-9) };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);

const results: Record<string, unknown>[] = [];
const loadBefore = loadavg();
ensureLoadgen();
for (const n of SIZES) {
  const ip = inProcess(n);
  console.log(`in-process  ${n} endpoints: scheduler p50 ${f1(ip.schedulerUs.p50)} µs p99 ${f1(ip.schedulerUs.p99)} µs; parse+schedule p50 ${f1(ip.requestControlUs.p50)} µs p99 ${f1(ip.requestControlUs.p99)} µs`);
  const g = await overGrpc(n);
  console.log(`ext_proc    ${n} endpoints: c=1 decision p50 ${f2(g.latency.decisionP50)} ms p99 ${f2(g.latency.decisionP99)} ms; c=64 ${g.throughput.perSecond.toFixed(0)} req/s with the EPP at ${f2(g.eppCpuCores)} cores (${g.perCoreSecond.toFixed(0)} per core-second), errors ${g.throughput.errors}`);
  results.push({ endpoints: n, ...ip, ...g });
}
// The same ext_proc run without the prefix scorer, to separate protocol + load scoring from prefix hashing.
const loadOnly = await overGrpc(8, 'load-only');
console.log(`ext_proc    8 endpoints, load-only config: c=1 decision p50 ${f2(loadOnly.latency.decisionP50)} ms p99 ${f2(loadOnly.latency.decisionP99)} ms; c=64 ${loadOnly.throughput.perSecond.toFixed(0)} req/s with the EPP at ${f2(loadOnly.eppCpuCores)} cores (${loadOnly.perCoreSecond.toFixed(0)} per core-second)`);
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  loadAverageBefore: loadBefore.map(f2).join(' '),
  loadAverageAfter: loadavg().map(f2).join(' '),
  date: new Date().toISOString(),
};
const rows = results.map((r) => {
  const ip = r as unknown as ReturnType<typeof inProcess>;
  const g = r as unknown as Awaited<ReturnType<typeof overGrpc>>;
  return `| ${r.endpoints} | ${f1(ip.schedulerUs.p50)} | ${f1(ip.schedulerUs.p99)} | ${f1(ip.requestControlUs.p50)} | ${f1(ip.requestControlUs.p99)} | ${f2(g.latency.decisionP50)} | ${f2(g.latency.decisionP99)} | ${g.throughput.perSecond.toFixed(0)} | ${f2(g.eppCpuCores)} | ${g.perCoreSecond.toFixed(0)} | ${f2(g.throughput.decisionP50)} / ${f2(g.throughput.decisionP99)} |`;
});
const md = `# EPP benchmark

Produced by \`npm run bench:epp\` (epp/bench/run.ts) on ${machine.date}.
Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAverageBefore} before, ${machine.loadAverageAfter} after (a shared machine: read ratios, not absolutes).

This page measures tokenroute's EPP alone, on synthetic metrics (no scraping). The same load generator against tokenroute's EPP and llm-d's Go EPP side by side — both scraping fake vLLM servers with their default profiles — is [epp-peers.md](epp-peers.md).

Config: GIE's default profile (queue-scorer ×2, kv-cache-utilization-scorer ×2, prefix-cache-scorer ×3, max-score-picker). Each endpoint's metrics change every 50 ms.
In-process columns time \`Scheduler.schedule\` alone, and the whole request-control path (\`Director.handleRequest\`: parse a 4 KB chat body, admission, prefix keys (token-producer, character blocks here) and the prefix scorer's PrepareData, schedule, PreRequest, build the decision).
ext_proc columns: the EPP in its own process pinned to CPU 0 (\`taskset -c 0\`), driven by the Go load generator (epp/bench/loadgen) pinned to CPU 1 over one HTTP/2 connection, with full Envoy-shaped FULL_DUPLEX_STREAMED streams (request headers + 4 KB body, then response headers + body). *Decision* is request headers sent → destination header received. Throughput at 64 streams in flight; *per core-second* divides it by the EPP process's measured CPU use.

Without the prefix scorer (queue-scorer ×2 + kv-cache-utilization-scorer ×2), 8 endpoints: ext_proc c=1 decision p50 ${f2(loadOnly.latency.decisionP50)} ms / p99 ${f2(loadOnly.latency.decisionP99)} ms; c=64 ${loadOnly.throughput.perSecond.toFixed(0)} streams/s with the EPP at ${f2(loadOnly.eppCpuCores)} cores = **${loadOnly.perCoreSecond.toFixed(0)} streams per EPP core-second**. The difference to the 8-endpoint row below is the cost of GIE's approximate prefix hashing (JSON of the messages, 64-character blocks, chained xxh64, index lookup and update).

| endpoints | schedule p50 µs | schedule p99 µs | parse+schedule p50 µs | parse+schedule p99 µs | ext_proc c=1 decision p50 ms | c=1 p99 ms | c=64 streams/s | EPP CPU (cores) | streams per EPP core-second | c=64 decision p50 / p99 ms |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
mkdirSync(join(ROOT, 'docs', 'benchmarks'), { recursive: true });
writeFileSync(join(ROOT, 'docs', 'benchmarks', 'epp.md'), md);
writeFileSync(join(ROOT, 'docs', 'benchmarks', 'epp.json'), JSON.stringify({ machine, results, loadOnly8: loadOnly }, null, 2) + '\n');
console.log('\n' + md);
