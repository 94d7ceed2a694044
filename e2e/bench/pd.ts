// `npm run bench:pd`: disaggregated serving on llm-d-inference-sim, one run, every policy on fresh
// servers (cold caches): 2 prefill servers + 2 decode servers each behind llm-d's own routing
// sidecar (pd-sidecar v0.7.1), the development gateway with the edge filter in front, and
//   agg         tokenroute, aggregated: prefix + load over the same 4 servers, no disaggregation;
//   pd-prefix   tokenroute P/D, prefix-based-pd-decider on the edge filter's exact token counts;
//   pd-cond     tokenroute P/D, conditional-pd-decider (long uncached prompt AND prefill room);
//   llmd-pd     llm-d's Go EPP (v0.7.1) with its own sim-pd-epp-config.yaml, pods labelled
//               llm-d.ai/role on a real kube-apiserver (its only discovery mode).
// Workload: llm-d's shared-prefix shape (groups of prompts with a long common system prompt), a
// Poisson QPS ladder. Per stage: TTFT p50/p90, ITL p50, output tokens/s; per policy: share of
// requests disaggregated (llm_d_inference_scheduler_disagg_decision_total of the EPP under test)
// and the prefill pool's prefix-cache hit rate (the prefill servers' own vllm:prefix_cache_*).
// Writes docs/benchmarks/pd.json and pd.md. Env: BENCH_QUICK=1, BENCH_POLICIES=agg,pd-prefix,...,
// BENCH_STAGES="1x20,2x20".
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startGateway, type RunningGateway } from '../../gateway/index.js';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { generateSharedPrefix, poissonArrivals, type Prompt, type SharedPrefixParams, type Stage } from './workload.js';
import { GatewayClient, type Outcome } from './client.js';
import { startProc, waitHttp, startKube, createPool, deletePool, type Proc, type Kube } from './stack.js';
import { SIM_MODEL, freePort, startSim, type Sim } from '../lib/sims.js';
import { pdEndpointsYaml, startSidecar, type Sidecar } from '../lib/pd-stack.js';
import { stackFilterConfig, tokenrouteCli } from '../lib/stack.js';

const REPO = findPackageRoot();
const BIN = process.env.TOKENROUTE_BIN_DIR ?? join(REPO, '.cache', 'bin');
const CLI = tokenrouteCli();
const quick = process.env.BENCH_QUICK === '1';
const STAGES: Stage[] = process.env.BENCH_STAGES
  ? process.env.BENCH_STAGES.split(',').map((s) => { const [q, d] = s.split('x').map(Number); return { qps: q, seconds: d }; })
  : quick ? [{ qps: 1, seconds: 10 }, { qps: 3, seconds: 10 }] : [1, 2, 3, 4].map((qps) => ({ qps, seconds: 20 }));
const DRAIN_S = quick ? 20 : 40;
const WORKLOAD: SharedPrefixParams = { numGroups: 12, promptsPerGroup: 6, systemPromptLen: 1200, questionLen: 100, outputLen: 24, seed: 7 };
/** Servers: prefill is the expensive phase here (2 ms a prompt token), decode 8 ms a token. */
const SIM_ARGS = ['--prefill-time-per-token', '2ms', '--inter-token-latency', '8ms', '--kv-cache-transfer-time-per-token', '100us'];

interface Policy {
  readonly id: string;
  readonly label: string;
  readonly router: 'tokenroute' | 'llm-d';
  readonly disaggregated: boolean;
  readonly describe: string;
  /** tokenroute config (@HMAC@ placeholder). */
  readonly config?: string;
}

const PD_PROFILES = (decider: string, deciderParams: string) => `- type: ${decider}
  parameters: ${deciderParams}
- type: disagg-profile-handler
  parameters:
    deciders: {prefill: ${decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: max-score-picker}, {pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: queue-scorer, weight: 1}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: max-score-picker}, {pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: queue-scorer, weight: 1}]
`;
const COMMON = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: token-producer
  parameters:
    models: {"${SIM_MODEL}": qwen3}
    filterHeaders: {hmacKeys: ["@HMAC@"]}
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, autoTune: false}
- type: queue-scorer
- type: max-score-picker
`;

const POLICIES: Policy[] = [
  {
    id: 'agg', label: 'tokenroute aggregated', router: 'tokenroute', disaggregated: false,
    describe: 'prefix-cache-scorer 2 + queue-scorer 1 over all four servers (each prefills and decodes)',
    config: `${COMMON}schedulingProfiles:\n- name: default\n  plugins: [{pluginRef: max-score-picker}, {pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: queue-scorer, weight: 1}]\n`,
  },
  {
    id: 'pd-prefix', label: 'tokenroute P/D (prefix decider)', router: 'tokenroute', disaggregated: true,
    describe: 'llm-d sim-pd shape (prefill/decode profiles: prefix-cache-scorer 2 + queue-scorer 1) with prefix-based-pd-decider nonCachedTokens 256 on exact token counts',
    config: `${COMMON}- type: prefill-filter\n- type: decode-filter\n${PD_PROFILES('prefix-based-pd-decider', '{nonCachedTokens: 256}')}`,
  },
  {
    id: 'pd-cond', label: 'tokenroute P/D (conditional decider)', router: 'tokenroute', disaggregated: true,
    describe: 'same profiles, conditional-pd-decider minUncachedTokens 256, maxPrefillQueue 2',
    config: `${COMMON}- type: prefill-filter\n- type: decode-filter\n${PD_PROFILES('conditional-pd-decider', '{minUncachedTokens: 256, maxPrefillQueue: 2}')}`,
  },
  {
    id: 'llmd-pd', label: "llm-d Go EPP P/D (its sim-pd-epp-config)", router: 'llm-d', disaggregated: true,
    describe: "llm-d-inference-scheduler v0.7.1 cmd/epp with deploy/config/sim-pd-epp-config.yaml as shipped (prefix-based-pd-decider nonCachedTokens 16, characters ÷ 4); pods labelled llm-d.ai/role on a real kube-apiserver",
  },
];

// ---------------------------------------------------------------- servers

interface Servers {
  prefill: Sim[];
  decode: Sidecar[];
  stop(): Promise<void>;
}

async function startServers(): Promise<Servers> {
  const zmq = `tcp://127.0.0.1:${await freePort()}`; // nobody binds: approximate prefix routing only
  const prefill: Sim[] = [];
  const decode: Sidecar[] = [];
  const stopAll = async () => {
    await Promise.all(decode.map((d) => d.stop()));
    await Promise.all([...prefill, ...decode.map((d) => d.decode)].map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < 2; i++) prefill.push(await startSim({ ip: '127.0.0.1', port: await freePort('0.0.0.0'), zmqEndpoint: zmq, mode: 'random', extraArgs: SIM_ARGS, maxNumSeqs: 4, kvCacheSize: 2048, podName: `prefill-${i}` }));
    for (let i = 0; i < 2; i++) {
      const sim = await startSim({ ip: '127.0.0.1', port: await freePort('0.0.0.0'), zmqEndpoint: zmq, mode: 'random', extraArgs: SIM_ARGS, maxNumSeqs: 4, kvCacheSize: 2048, podName: `decode-${i}` });
      decode.push(await startSidecar(await freePort('0.0.0.0'), sim));
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { prefill, decode, stop: stopAll };
}

async function scrape(url: string, metric: RegExp): Promise<number> {
  const text = await (await fetch(url)).text();
  let n = 0;
  for (const m of text.matchAll(metric)) n += Number(m[1]);
  return n;
}
const prefixHits = (s: Sim) => scrape(`${s.url}/metrics`, /^vllm:prefix_cache_hits(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$/gm);
const prefixQueries = (s: Sim) => scrape(`${s.url}/metrics`, /^vllm:prefix_cache_queries(?:_total)?(?:\{[^}]*\})? ([0-9.e+]+)$/gm);

// ---------------------------------------------------------------- load

interface Rec extends Outcome {
  stage: number;
  sched: number;
  done: boolean;
}

interface StageResult {
  qps: number;
  sent: number;
  ok: number;
  errors: number;
  ttftP50S: number | null;
  ttftP90S: number | null;
  itlP50Ms: number | null;
  outputTokensPerS: number | null;
  sampleErrors: string[];
}

function pct(v: number[], q: number): number | null {
  if (!v.length) return null;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const r3 = (x: number | null) => (x !== null && Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

async function runLadder(client: GatewayClient, prompts: Prompt[], id: string): Promise<StageResult[]> {
  const recs: Rec[] = [];
  const pending: Promise<void>[] = [];
  let cursor = 0;
  const starts: number[] = [];
  for (let si = 0; si < STAGES.length; si++) {
    const start = performance.now();
    starts.push(start);
    for (const off of poissonArrivals(STAGES[si], 500 + si)) {
      const sched = start + off;
      const wait = sched - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = prompts[cursor++ % prompts.length];
      const body = JSON.stringify({ model: SIM_MODEL, prompt: p.text, max_tokens: WORKLOAD.outputLen, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
      const rec: Rec = { stage: si, sched, done: false, ok: false, endpoint: '', ttftMs: NaN, e2eMs: NaN, decisionMs: NaN, promptTokens: 0, cachedTokens: 0, outputTokens: 0 };
      recs.push(rec);
      pending.push(client.send('/v1/completions', body, `pd-${id}-${recs.length}`, sched).then((o) => void Object.assign(rec, o, { done: true })));
    }
    const rest = start + STAGES[si].seconds * 1000 - performance.now();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    console.log(`  stage ${si} (${STAGES[si].qps} qps): sent ${recs.filter((r) => r.stage === si).length}`);
  }
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, DRAIN_S * 1000))]);
  return STAGES.map((st, si) => {
    const rs = recs.filter((r) => r.stage === si);
    const ok = rs.filter((r) => r.done && r.ok);
    const lastEnd = Math.max(...ok.map((r) => r.sched + r.e2eMs));
    const itl = ok.filter((r) => r.outputTokens > 1).map((r) => (r.e2eMs - r.ttftMs) / (r.outputTokens - 1));
    return {
      qps: st.qps,
      sent: rs.length,
      ok: ok.length,
      errors: rs.length - ok.length,
      ttftP50S: r3(pct(ok.map((r) => r.ttftMs / 1000), 0.5)),
      ttftP90S: r3(pct(ok.map((r) => r.ttftMs / 1000), 0.9)),
      itlP50Ms: r3(pct(itl, 0.5)),
      outputTokensPerS: ok.length ? r3(ok.reduce((a, r) => a + r.outputTokens, 0) / ((lastEnd - starts[si]) / 1000)) : null,
      sampleErrors: [...new Set(rs.filter((r) => r.done && !r.ok).map((r) => r.error ?? 'no tokens'))].slice(0, 3),
    };
  });
}

// ---------------------------------------------------------------- one policy

interface PolicyRun {
  policy: Policy;
  stages: StageResult[];
  disaggShare: number | null;
  prefillCacheHitRate: number | null;
  notes: string[];
  error?: string;
}

async function runPolicy(policy: Policy, prompts: Prompt[], kube: Kube | string): Promise<PolicyRun> {
  const notes: string[] = [];
  const procs: Proc[] = [];
  let servers: Servers | undefined;
  let gateway: RunningGateway | undefined;
  const hmac = randomBytes(32).toString('base64');
  try {
    servers = await startServers();
    const [pGrpc, pHealth, pMetrics] = [await freePort(), await freePort(), await freePort()];
    const metricsUrl = `http://127.0.0.1:${pMetrics}/metrics`;
    let pool = '';
    if (policy.router === 'llm-d') {
      if (typeof kube === 'string') throw new Error(`llm-d EPP not runnable: ${kube}`);
      const sample = join(REPO, '.cache', 'llm-d-samples', 'v0.7.1', 'sim-pd-epp-config.yaml');
      if (!existsSync(join(BIN, 'llm-d-epp')) || !existsSync(sample)) throw new Error('needs .cache/bin/llm-d-epp and the v0.7.1 samples (scripts/deps/llm-d-epp.sh, llm-d-samples.sh)');
      pool = `pd-${Date.now() % 100000}`;
      await createPool(kube, REPO, pool, [
        ...servers.prefill.map((s) => ({ ip: '127.0.0.1', port: s.port, labels: { 'llm-d.ai/role': 'prefill' } })),
        ...servers.decode.map((d) => ({ ip: '127.0.0.1', port: d.port, labels: { 'llm-d.ai/role': 'decode' } })),
      ], pGrpc);
      const epp = startProc('llm-d-epp', join(BIN, 'llm-d-epp'), ['--secure-serving=false', '--grpc-port', String(pGrpc), '--grpc-health-port', String(pHealth), '--metrics-port', String(pMetrics),
        '--metrics-endpoint-auth=false', '--tracing=false', '--enable-pprof=false', '--health-checking=true', '--v', '1', '--pool-name', pool, '--pool-namespace', 'default', '--config-file', sample], {
        KUBECONFIG: kube.kubeconfig, POD_NAME: 'llm-d-epp-5d9c7-x2x4q', NAMESPACE: 'default', OTEL_TRACES_SAMPLER_ARG: '0', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317',
      });
      procs.push(epp);
      await waitHttp(metricsUrl, epp, 60_000, /^inference_pool_ready_pods\{[^}]*\} 4$/m);
      notes.push(`llm-d-epp ${readFileSync(join(BIN, 'llm-d-epp.buildinfo'), 'utf8').trim()}`);
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'bench-pd-'));
      const file = join(dir, 'endpoints.yaml');
      const endpoints = policy.disaggregated
        ? pdEndpointsYaml(servers.prefill, servers.decode)
        : 'endpoints:\n' + [...servers.prefill, ...servers.decode.map((d) => d.decode)].map((s) => `  - {address: 127.0.0.1, port: ${s.port}}`).join('\n') + '\n';
      writeFileSync(file, endpoints);
      const epp = startProc('tokenroute epp', process.execPath, [CLI, 'epp', '--host', '127.0.0.1', '--grpc-port', String(pGrpc), '--grpc-health-port', String(pHealth), '--metrics-port', String(pMetrics),
        '--secure-serving', 'false', '--endpoints-file', file, '--config-text', policy.config!.replaceAll('@HMAC@', hmac), '--log-level', 'warn']);
      procs.push(epp);
      await waitHttp(metricsUrl, epp, 60_000);
    }
    await new Promise((r) => setTimeout(r, 1500)); // first scrapes
    gateway = await startGateway({ host: '127.0.0.1', port: 0, epp: `127.0.0.1:${pGrpc}`, filter: { config: stackFilterConfig(hmac) }, failureMode: 'FailClose', messageTimeoutMs: 120_000 });
    const stages = await runLadder(new GatewayClient(gateway.url), prompts, policy.id);
    const decisions = await (await fetch(metricsUrl)).text();
    const count = (type: string) => [...decisions.matchAll(new RegExp(`^llm_d_inference_scheduler_disagg_decision_total\\{[^}]*decision_type="${type}"[^}]*\\} ([0-9.e+]+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    const pd = count('prefill-decode');
    const all = pd + count('decode-only');
    const hits = (await Promise.all(servers.prefill.map(prefixHits))).reduce((a, b) => a + b, 0);
    const queries = (await Promise.all(servers.prefill.map(prefixQueries))).reduce((a, b) => a + b, 0);
    if (pool && typeof kube !== 'string') deletePool(kube, pool, 4);
    return { policy, stages, disaggShare: all ? r3(pd / all) : policy.disaggregated ? null : 0, prefillCacheHitRate: queries ? r3(hits / queries) : null, notes };
  } catch (e) {
    const msg = (e as Error).message;
    console.error(`  policy ${policy.id} failed: ${msg.slice(0, 1000)}`);
    return { policy, stages: [], disaggShare: null, prefillCacheHitRate: null, notes, error: msg.slice(0, 2000) };
  } finally {
    await gateway?.close();
    for (const p of procs.reverse()) await p.stop();
    await servers?.stop();
  }
}

// ---------------------------------------------------------------- main

function summarize(runs: PolicyRun[], meta: Record<string, unknown>): string {
  const lines = [
    '# P/D benchmark',
    '',
    `Produced by \`npm run bench:pd\` (e2e/bench/pd.ts) on ${meta.date}. Machine: ${meta.machine}; load average ${meta.loadBefore} before, ${meta.loadAfter} after (a shared 2-core machine: read ratios, not absolutes).`,
    '',
    `Servers: 2 prefill + 2 decode llm-d-inference-sim v0.10.2 (\`${SIM_ARGS.join(' ')}\`), each decode server behind llm-d's pd-sidecar v0.7.1; the development gateway with the edge filter in front of every policy. Workload: ${WORKLOAD.numGroups} groups × ${WORKLOAD.promptsPerGroup} prompts, ${WORKLOAD.systemPromptLen}-token shared system prompt + ${WORKLOAD.questionLen}-token question, ${WORKLOAD.outputLen} output tokens; Poisson stages ${STAGES.map((s) => `${s.qps} qps × ${s.seconds} s`).join(', ')}.`,
    '',
    '| policy | qps | ok / sent | TTFT p50 s | TTFT p90 s | ITL p50 ms | output tok/s | disaggregated | prefill-pool cache hits |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of runs) {
    if (r.error) {
      lines.push(`| ${r.policy.label} | — | failed: ${r.error.split('\n')[0].slice(0, 120)} | | | | | | |`);
      continue;
    }
    for (const s of r.stages) {
      lines.push(`| ${r.policy.label} | ${s.qps} | ${s.ok} / ${s.sent} | ${s.ttftP50S ?? '—'} | ${s.ttftP90S ?? '—'} | ${s.itlP50Ms ?? '—'} | ${s.outputTokensPerS ?? '—'} | ${r.disaggShare ?? '—'} | ${r.prefillCacheHitRate ?? '—'} |`);
    }
  }
  lines.push('', 'Policies:', ...runs.map((r) => `- **${r.policy.label}** (\`${r.policy.id}\`): ${r.policy.describe}${r.notes.length ? ` (${r.notes.join('; ')})` : ''}`));
  lines.push(
    '',
    'Reading it: stages run in order on the same servers, so later stages find more prompts cached (their TTFT falls as the load rises). The simulator models prefill and KV-transfer time but not the slowdown a prefill causes to the decodes sharing its server, so ITL cannot show P/D\'s main benefit here; TTFT and the share of requests worth disaggregating can.',
  );
  lines.push('', '"disaggregated" is the share of decisions that sent the prefill to a prefill server (the EPP\'s own `llm_d_inference_scheduler_disagg_decision_total`), over the whole run; "prefill-pool cache hits" is the prefill servers\' `vllm:prefix_cache_hits ÷ vllm:prefix_cache_queries`.');
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const wanted = process.env.BENCH_POLICIES?.split(',');
  const policies = POLICIES.filter((p) => !wanted || wanted.includes(p.id));
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log('generating the workload ...');
  const prompts = generateSharedPrefix(WORKLOAD);
  let kube: Kube | string = 'not needed';
  if (policies.some((p) => p.router === 'llm-d')) {
    try {
      kube = await startKube(BIN);
    } catch (e) {
      kube = (e as Error).message.split('\n')[0];
    }
  }
  const runs: PolicyRun[] = [];
  try {
    for (const p of policies) {
      console.log(`policy ${p.id}: ${p.label}`);
      runs.push(await runPolicy(p, prompts, kube));
    }
  } finally {
    if (typeof kube !== 'string') await kube.stop();
  }
  const meta = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    loadBefore,
    loadAfter: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    stages: STAGES,
    workload: WORKLOAD,
    simArgs: SIM_ARGS,
  };
  const out = process.env.BENCH_OUT ?? join(REPO, 'docs', 'benchmarks');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'pd.json'), JSON.stringify({ meta, runs }, null, 2) + '\n');
  const md = summarize(runs, meta);
  writeFileSync(join(out, 'pd.md'), md);
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
