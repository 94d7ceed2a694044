// `npm run bench:fairness` (issue 14): a noisy neighbour, measured through the whole local stack
// (development gateway with the edge filter → tokenroute EPP → one llm-d-inference-sim whose
// --max-num-seqs is the pool's capacity). Tenant A sends long prompts at 3× what the pool can serve;
// tenant B sends short prompts at 20 % of what the pool could serve of them. Compared: no flow
// control (the model server's own queue absorbs A's backlog), flow control with llm-d's default
// semantics (global-strict fairness, FCFS: one queue for the band), and flow control with
// tokenroute's token-fairness-policy; plus B alone for its solo TTFT. Reported per mode: B's TTFT
// p50/p90 and its ratio to solo, B's and A's completions and sheds, A's throughput, and how full
// the model server stayed (mean running requests / slots, sampled from its metrics).
// Then the queue's own overhead, on the FlowController alone: 10,000 requests queued over 100
// tenants, drained one dispatch per event-loop turn; per-dispatch latency p50/p99 and enqueue cost.
// Open-loop arrivals (Poisson, seeded), one run per mode; figures in docs/benchmarks/fairness.md.
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { slotsEppConfig, startStack, type EppConfigParams } from '../lib/stack.js';
import { call, chatBody, percentile, type CallResult } from '../lib/workload.js';
import { poissonArrivals } from './workload.js';
import { FlowController, type FlowRequest } from '../../epp/src/flowcontrol/controller.js';
import { createGlobalStrictFairness } from '../../epp/src/flowcontrol/plugins/global-strict-fairness-policy.js';
import { createTokenFairness, tokenFairnessParameters } from '../../epp/src/flowcontrol/plugins/token-fairness-policy.js';
import { createFcfsOrdering } from '../../epp/src/flowcontrol/plugins/fcfs-ordering-policy.js';
import { createStaticUsageLimit } from '../../epp/src/flowcontrol/plugins/static-usage-limit-policy.js';
import type { FairnessPolicy } from '../../epp/src/framework/flow-control.js';
import type { Candidate } from '../../epp/src/framework/endpoint.js';
import { writeKeepingReading } from './report.js';

const REPO = findPackageRoot();
const SLOTS = Number(process.env.BENCH_SLOTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 40);
const ITL_MS = 20;
const PREFILL_US_PER_TOKEN = 200;
const OUTPUT_TOKENS = 50;
const LONG_WORDS = 2000;
const SHORT_WORDS = 200;
const TTL = '10s';
// Service time per request on one slot (the simulator's latency model: prefill + decode).
const SERVICE_A_S = (LONG_WORDS * PREFILL_US_PER_TOKEN) / 1e6 + (OUTPUT_TOKENS * ITL_MS) / 1000;
const SERVICE_B_S = (SHORT_WORDS * PREFILL_US_PER_TOKEN) / 1e6 + (OUTPUT_TOKENS * ITL_MS) / 1000;
const RATE_A = (3 * SLOTS) / SERVICE_A_S;
const RATE_B = (0.2 * SLOTS) / SERVICE_B_S;

type Mode = 'solo' | 'none' | 'global-strict' | 'token-fairness' | 'token-fairness-reserve';

/** The reserve token-fairness-policy keeps for the tenants served less than the heaviest. */
const RESERVE = Number(process.env.BENCH_RESERVE ?? 0.25);

function eppConfig(mode: Mode) {
  return (p: EppConfigParams): string => {
    const fairness = mode === 'global-strict' ? 'global-strict-fairness-policy' : mode === 'token-fairness' ? 'token-fairness-policy' : 'fair';
    return slotsEppConfig(p, {
      slots: SLOTS,
      plugins: [`{name: fair, type: token-fairness-policy, parameters: {reservedCapacity: ${RESERVE}}}`],
      flowControl: mode === 'solo' || mode === 'none' ? undefined : `  defaultRequestTTL: ${TTL}\n  defaultPriorityBand: {fairnessPolicyRef: ${fairness}}\n`,
    });
  };
}

interface TenantResult {
  readonly sent: number;
  readonly ok: number;
  readonly shed: number;
  readonly failed: number;
  readonly ttftP50: number;
  readonly ttftP90: number;
  readonly completedPerS: number;
  readonly outputTokensPerS: number;
}

interface ModeResult {
  readonly mode: Mode;
  readonly a: TenantResult | undefined;
  readonly b: TenantResult;
  /** Mean of the model server's running requests / slots, sampled while the load ran. */
  readonly utilization: number;
  /** Mean of its own waiting queue. */
  readonly serverQueue: number;
}

/** A response and when it ended, in seconds from the start of the load. */
type Timed = CallResult & { readonly endS: number };

function summarize(results: readonly Timed[], seconds: number): TenantResult {
  const ok = results.filter((r) => r.status === 200 && !r.error);
  // Throughput over the load window: what completed before it closed.
  const inWindow = ok.filter((r) => r.endS <= seconds);
  const ttfts = ok.map((r) => r.ttftMs).filter((v): v is number => v !== undefined);
  return {
    sent: results.length,
    ok: ok.length,
    shed: results.filter((r) => r.status === 429 || r.status === 503).length,
    failed: results.filter((r) => r.status !== 200 && r.status !== 429 && r.status !== 503).length,
    ttftP50: percentile(ttfts, 0.5),
    ttftP90: percentile(ttfts, 0.9),
    completedPerS: inWindow.length / seconds,
    // One SSE data event per generated token from the simulator (the last carries the usage).
    outputTokensPerS: inWindow.reduce((s, r) => s + Math.max(0, r.events - 1), 0) / seconds,
  };
}

/** Poisson arrivals at `rate`/s for `seconds`; each request is sent at its time, not after the previous. */
async function tenant(url: string, name: string, rate: number, words: number, seconds: number, seed: number): Promise<Timed[]> {
  const question = 'word '.repeat(words).trim();
  const pending: Promise<Timed>[] = [];
  const t0 = performance.now();
  for (const [i, atMs] of poissonArrivals({ qps: rate, seconds }, seed).entries()) {
    const wait = t0 + atMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = chatBody(`Tenant ${name}.`, `${i} ${question}`, { max_tokens: OUTPUT_TOKENS, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
    pending.push(call(url, '/v1/chat/completions', body, { 'x-gateway-inference-fairness-id': name }, (seconds + 60) * 1000).then((r) => ({ ...r, endS: (performance.now() - t0) / 1000 })));
  }
  return Promise.all(pending);
}

async function runMode(mode: Mode): Promise<ModeResult> {
  const stack = await startStack({
    sims: 1,
    subnet: '127.0.16',
    tokenizer: 'dummy',
    eppConfig: eppConfig(mode),
    messageTimeoutMs: 120_000,
    sim: { mode: 'random', interTokenLatency: `${ITL_MS}ms`, prefillTimePerToken: `${PREFILL_US_PER_TOKEN}us`, maxNumSeqs: SLOTS, kvCacheSize: 100_000 },
  });
  try {
    const samples: { running: number; waiting: number }[] = [];
    const sampler = setInterval(() => {
      const m = stack.epp.inProcess!.datastore.candidates()[0]?.metrics;
      if (m && m.updatedAt > 0) samples.push({ running: m.runningRequests, waiting: m.waitingRequests });
    }, 250);
    const [a, b] = await Promise.all([
      mode === 'solo' ? Promise.resolve(undefined) : tenant(stack.gateway.url, 'A', RATE_A, LONG_WORDS, SECONDS, 11),
      tenant(stack.gateway.url, 'B', RATE_B, SHORT_WORDS, SECONDS, 22),
    ]);
    clearInterval(sampler);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
    const loaded = samples.slice(4, Math.max(5, Math.floor((SECONDS * 1000) / 250))); // the first second warms up
    return {
      mode,
      a: a ? summarize(a, SECONDS) : undefined,
      b: summarize(b, SECONDS),
      utilization: mean(loaded.map((s) => s.running)) / SLOTS,
      serverQueue: mean(loaded.map((s) => s.waiting)),
    };
  } finally {
    await stack.close();
  }
}

interface Overhead {
  readonly policy: string;
  readonly queued: number;
  readonly enqueueUsPerRequest: number;
  readonly dispatchP50Us: number;
  readonly dispatchP99Us: number;
  readonly drainMs: number;
}

/** 10,000 requests over 100 tenants queued on a saturated pool, then drained. */
async function queueOverhead(policy: string, fairness: FairnessPolicy): Promise<Overhead> {
  let saturation = 1;
  const pool = [{ endpoint: { key: 'a:1' } } as unknown as Candidate];
  const fc = new FlowController(
    {
      maxRequests: 0,
      maxBytes: 0,
      defaultRequestTtlMs: 60_000,
      noEndpointRequestTtlMs: 60_000,
      band: () => ({ maxRequests: 1e9, maxBytes: 1e12, fairness, ordering: createFcfsOrdering('fcfs') }),
      usageLimit: createStaticUsageLimit('static', 1),
      detector: { type: 'd', name: 'd', saturation: () => saturation },
      recheckMs: 10,
    },
    { candidates: () => pool, now: Date.now },
  );
  const n = 10_000;
  const times: number[] = [];
  const t0 = performance.now();
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const req: FlowRequest = { requestId: `r${i}`, flow: { id: `tenant-${i % 100}`, priority: i % 3 }, byteSize: 4096, tokens: 100 + (i % 7) * 300, sloTtftMs: undefined };
    all.push((fc.admit(req) as Promise<unknown>).then(() => times.push(performance.now())));
  }
  const enqueueMs = performance.now() - t0;
  const d0 = performance.now();
  saturation = 0;
  fc.nudge();
  await Promise.all(all);
  const gaps = times.map((t, i) => (t - (i === 0 ? d0 : times[i - 1])) * 1000);
  return {
    policy,
    queued: n,
    enqueueUsPerRequest: (enqueueMs * 1000) / n,
    dispatchP50Us: percentile(gaps, 0.5),
    dispatchP99Us: percentile(gaps, 0.99),
    drainMs: performance.now() - d0,
  };
}

const f1 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2));
const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)}` : '–');

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const overhead = [await queueOverhead('global-strict-fairness-policy', createGlobalStrictFairness('g')), await queueOverhead('token-fairness-policy', createTokenFairness('t', tokenFairnessParameters.parse({})))];
  for (const o of overhead) console.log(`queue overhead ${o.policy}: enqueue ${f2(o.enqueueUsPerRequest)} us/request, dispatch p50 ${f1(o.dispatchP50Us)} us p99 ${f1(o.dispatchP99Us)} us, 10,000 drained in ${ms(o.drainMs)} ms`);
  // BENCH_MODES=solo,token-fairness-reserve runs a subset (the page then has only those rows).
  const modes = (process.env.BENCH_MODES?.split(',') ?? ['solo', 'none', 'global-strict', 'token-fairness', 'token-fairness-reserve']) as Mode[];
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const r = await runMode(mode);
    results.push(r);
    console.log(`${mode}: B TTFT p50 ${ms(r.b.ttftP50)} p90 ${ms(r.b.ttftP90)} ms (${r.b.ok}/${r.b.sent} ok, ${r.b.shed} shed); A ${r.a ? `${r.a.ok}/${r.a.sent} ok, ${r.a.shed} shed, ${f2(r.a.completedPerS)} req/s` : '–'}; server running ${f2(r.utilization)} of ${SLOTS} slots, its queue ${f1(r.serverQueue)}`);
  }
  const solo = results.find((r) => r.mode === 'solo')?.b.ttftP90 ?? NaN;
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageBefore: loadBefore.map(f2).join(' '), loadAverageAfter: loadavg().map(f2).join(' '), date: new Date().toISOString() };
  const label: Record<Mode, string> = {
    solo: 'B alone (no A)',
    none: 'no flow control (the model server queues)',
    'global-strict': "flow control, llm-d's default (global-strict, FCFS)",
    'token-fairness': 'flow control, token-fairness-policy',
    'token-fairness-reserve': `flow control, token-fairness-policy, reservedCapacity ${RESERVE}`,
  };
  const md = `# Fairness under a noisy neighbour

Produced by \`npm run bench:fairness\` (e2e/bench/fairness.ts) on ${machine.date}.
Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAverageBefore} before, ${machine.loadAverageAfter} after. One run per mode.

The stack: the development gateway with the edge filter, tokenroute's EPP (concurrency-detector at ${SLOTS} requests in flight = the pool's capacity), one llm-d-inference-sim with \`--max-num-seqs ${SLOTS}\`, prefill ${PREFILL_US_PER_TOKEN} µs per prompt token, ${ITL_MS} ms per output token, ${OUTPUT_TOKENS} output tokens per request. Tenant **A**: prompts of ${LONG_WORDS} tokens (service ${SERVICE_A_S.toFixed(2)} s per slot) at ${RATE_A.toFixed(1)} req/s = 3× what the ${SLOTS} slots serve. Tenant **B**: prompts of ${SHORT_WORDS} tokens (service ${SERVICE_B_S.toFixed(2)} s) at ${RATE_B.toFixed(2)} req/s = 20 % of what the slots would serve of them. Poisson arrivals (seeded), ${SECONDS} s, streamed responses; TTFT = request sent → first token at the client. Flow control's queue-wait budget (defaultRequestTTL) is ${TTL}: what waits longer is shed with 429. *Server full* = the model server's running requests ÷ slots, mean of its metrics sampled every 250 ms.

| mode | B TTFT p50 / p90 (ms) | B p90 ÷ solo | B ok / sent | B shed | A ok / sent | A shed | A completed req/s (in the window) | A output tok/s | server full | server queue (mean) |
|---|---|---|---|---|---|---|---|---|---|---|
${results.map((r) => `| ${label[r.mode]} | ${ms(r.b.ttftP50)} / ${ms(r.b.ttftP90)} | ${f2(r.b.ttftP90 / solo)} | ${r.b.ok} / ${r.b.sent} | ${r.b.shed} | ${r.a ? `${r.a.ok} / ${r.a.sent}` : '–'} | ${r.a ? r.a.shed : '–'} | ${f2(r.a?.completedPerS)} | ${f1(r.a?.outputTokensPerS)} | ${f2(r.utilization)} | ${f1(r.serverQueue)} |`).join('\n')}

Queue overhead (the FlowController alone, no I/O: 10,000 requests over 100 tenants and 3 priorities queued on a saturated pool, then drained one dispatch per event-loop turn):

| fairness policy | enqueue (µs / request) | dispatch p50 (µs) | dispatch p99 (µs) | 10,000 drained in (ms) |
|---|---|---|---|---|
${overhead.map((o) => `| ${o.policy} | ${f2(o.enqueueUsPerRequest)} | ${f1(o.dispatchP50Us)} | ${f1(o.dispatchP99Us)} | ${ms(o.drainMs)} |`).join('\n')}
`;
  mkdirSync(join(REPO, 'docs', 'benchmarks'), { recursive: true });
  writeKeepingReading(join(REPO, 'docs', 'benchmarks', 'fairness.md'), md);
  writeFileSync(join(REPO, 'docs', 'benchmarks', 'fairness.json'), JSON.stringify({ machine, settings: { SLOTS, SECONDS, ITL_MS, PREFILL_US_PER_TOKEN, OUTPUT_TOKENS, LONG_WORDS, SHORT_WORDS, TTL, RATE_A, RATE_B }, results, overhead }, null, 2) + '\n');
  console.log('\n' + md);
}

await main();
