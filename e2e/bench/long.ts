// npm run bench:long — router cost as prompts grow (issue 13): prompts of 1K, 8K, 32K and 100K
// tokens (95% a context shared by a group of four prompts, llm-d's sizing shape), each routed by
//   tokenroute, filter + EPP, decided at the headers: the edge filter (the real filter.wasm in the
//     proxy-wasm host, timed here) tokenizes and sends its prefix digest; the EPP decides at the
//     request's headers and streams the body through unread (openai-parser filterHeaders);
//   the same with the route's ext_proc request body mode NONE (the EPP sees the headers only);
//   tokenroute, filter + EPP, body read: the same headers, but the EPP also parses the body;
//   tokenroute, EPP only: no filter; the EPP tokenizes in its worker thread;
//   llm-d's Go EPP (llm-d-inference-scheduler v0.7.1, its built-in default: approximate
//     prefix-cache-scorer on character blocks + queue + kv-cache scorers), pool through a real
//     kube-apiserver.
// Every router is one process driven over ext_proc gRPC as Envoy drives it (FULL_DUPLEX_STREAMED,
// 64 KiB body messages), one request at a time, over the same four fake model servers (they serve
// vLLM /metrics only: this measures routing, not serving). Per size and router: the time from the
// request's headers to its routing reply (p50, p99), CPU seconds per request of the EPP process
// (all its threads) and of the filter, and the filter's header bytes. Prints a table and writes
// docs/benchmarks/long.{md,json}. A measurement, not a test: one run, machine load noted.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProxyWasmHost, defaultFilterWasmPath } from '../../filter/host/index.js';
import { benchExtProcClient, extProcRequest, processCpuSeconds, summarize } from '../../epp/bench/extproc-client.js';
import { writeKeepingReading } from './report.js';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { startKube, startLlmdEpp, startTokenrouteEpp, type Proc, type Kube } from './stack.js';
import { tokenrouteCli } from '../lib/stack.js';

const REPO = findPackageRoot();
const BIN = process.env.TOKENROUTE_BIN_DIR ?? join(REPO, '.cache', 'bin');
const CLI = tokenrouteCli();
const MODEL = 'Qwen/Qwen3-0.6B';
const SIZES = (process.env.BENCH_SIZES ?? '1000,8000,32000,100000').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 48);
const GROUPS = 4;
const IDLE_MS = 3000;
const SERVERS = 4;
const ip = (i: number) => `127.0.0.${91 + i}`;

// ---------------------------------------------------------------- model servers (metrics only)

const METRICS = `# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="${MODEL}"} 0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="${MODEL}"} 1
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="${MODEL}"} 0.1
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="${MODEL}"} 0.1
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",num_gpu_blocks="65536"} 1
`;

async function metricsServer(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/metrics')) res.writeHead(200, { 'content-type': 'text/plain' }).end(METRICS);
    else res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as { port: number }).port };
}

// ---------------------------------------------------------------- prompts and the filter

const SYLLABLES = 'ka lo mi re su ta ne vo pi ru da mo li se fa go bu ze ha ji wu ry ox el an im ur ost eth ing ter pro con dis mar vel qua pen sol tri for lex nor bri'.split(' ');

/**
 * Deterministic filler: `n` words of one to three syllables from a seeded stream — about 100,000
 * distinct words, so a tokenizer's word cache does not make long prompts cheap.
 */
function words(seed: number, n: number): string {
  let x = (seed * 2654435761) >>> 0;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let w = '';
    const k = 1 + (next() % 3);
    for (let j = 0; j < k; j++) w += SYLLABLES[next() % SYLLABLES.length];
    out.push(next() % 11 === 0 ? w + ',' : w);
  }
  return out.join(' ');
}

interface Prompt {
  readonly size: number;
  readonly body: Buffer;
  /** The filter's headers for it (x-request-id included). */
  readonly filterHeaders: Record<string, string>;
  readonly tokens: number;
  readonly filterCpuMs: number;
  readonly headerBytes: number;
}

function filterHost(hmacKey: string): Promise<ProxyWasmHost> {
  return ProxyWasmHost.create({
    wasm: readFileSync(defaultFilterWasmPath()),
    pluginConfig: JSON.stringify({ models: { [MODEL]: { tokenizer: 'qwen3' } }, blockSize: 16, maxBodyBytes: 16 << 20, hmacKey }),
    allowOnHeadersStopIteration: true,
    rootId: 'tokenroute',
    bufferLimitBytes: 32 << 20,
  });
}

/** One warm-up prompt per group, then REQUESTS measured ones (prompt i belongs to group i % GROUPS). */
function prompts(host: ProxyWasmHost, size: number, wordsPerToken: number): Prompt[] {
  const out: Prompt[] = [];
  for (let i = 0; i < GROUPS + REQUESTS; i++) {
    const group = i % GROUPS;
    const shared = words(1000 + group + size, Math.round(size * 0.95 * wordsPerToken));
    const own = words(50_000 + i + size, Math.round(size * 0.05 * wordsPerToken));
    const body = Buffer.from(JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: 'system', content: shared }, { role: 'user', content: own }] }));
    const requestId = `long-${size}-${i}-${randomBytes(4).toString('hex')}`;
    const before = process.cpuUsage();
    const r = host.runRequestSync({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body });
    const used = process.cpuUsage(before);
    if (r.action !== 'continue') throw new Error(`filter: ${r.action}`);
    const filterHeaders: Record<string, string> = { 'x-request-id': requestId };
    let headerBytes = 0;
    for (const [k, v] of r.headersAfter) {
      if (!k.startsWith('x-tokenroute-')) continue;
      filterHeaders[k] = v;
      headerBytes += k.length + v.length;
    }
    if (filterHeaders['x-tokenroute-error']) throw new Error(`filter error ${filterHeaders['x-tokenroute-error']}`);
    out.push({ size, body, filterHeaders, tokens: Number(filterHeaders['x-tokenroute-tokens']), filterCpuMs: (used.user + used.system) / 1000, headerBytes });
  }
  return out;
}

// ---------------------------------------------------------------- routers

interface Router {
  readonly id: string;
  readonly label: string;
  readonly filter: boolean;
  /** The route's ext_proc request body mode is NONE: the EPP sees the headers only. */
  readonly bodyModeNone?: boolean;
  /** tokenroute config; undefined = llm-d. */
  readonly config?: (key: string) => string;
}

const HDR = 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n';
const SCORERS = `- type: queue-scorer
- type: kv-cache-utilization-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
`;
const ROUTERS: Router[] = [
  {
    id: 'tokenroute-headers',
    label: 'tokenroute: filter + EPP, decided at the headers',
    filter: true,
    config: (key) => `${HDR}plugins:
- type: openai-parser
  parameters: {filterHeaders: {hmacKeys: ["${key}"]}}
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, maxPrefixBlocksToMatch: 8192, filterHeaders: {hmacKeys: ["${key}"]}}
${SCORERS}parser: {pluginRef: openai-parser}
`,
  },
  {
    id: 'tokenroute-headers-no-body',
    label: 'tokenroute: filter + EPP, decided at the headers, route body mode NONE (body never reaches the EPP)',
    filter: true,
    bodyModeNone: true,
    config: (key) => ROUTERS[0].config!(key),
  },
  {
    id: 'tokenroute-body',
    label: 'tokenroute: filter + EPP, body read by the EPP',
    filter: true,
    config: (key) => `${HDR}plugins:
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, maxPrefixBlocksToMatch: 8192, filterHeaders: {hmacKeys: ["${key}"]}}
${SCORERS}`,
  },
  {
    id: 'tokenroute-epp-only',
    label: 'tokenroute: EPP only (tokenizes in its worker)',
    filter: false,
    config: () => `${HDR}plugins:
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, maxPrefixBlocksToMatch: 8192, models: {"${MODEL}": qwen3}, tokenizeTimeout: 10s}
${SCORERS}`,
  },
  { id: 'llm-d', label: "llm-d's Go EPP (v0.7.1, built-in default: approximate prefix)", filter: false },
];

interface Row {
  router: string;
  size: number;
  tokens: number;
  requests: number;
  failed: number;
  routedP50Ms: number;
  routedP99Ms: number;
  /** Above the EPP's idle cost. */
  eppCpuMsPerRequest: number;
  /** The EPP's CPU while idle (scraping), % of one core. */
  eppIdleCpuPct: number;
  /** Share of requests routed where their group's prefix was cached (its warm-up request's endpoint). */
  followedPrefix: number;
  filterCpuMsPerRequest: number;
  /** The filter's CPU for the first request of each group (its shared context not yet remembered). */
  filterCpuMsFirstOfGroup: number;
  headerBytes: number;
}

async function startRouter(r: Router, key: string, servers: { host: string; port: number }[], kube: Kube | string | undefined, dir: string): Promise<{ proc: Proc; port: number }> {
  if (r.config) {
    const configFile = join(dir, `${r.id}.yaml`);
    writeFileSync(configFile, r.config(key));
    const epp = await startTokenrouteEpp({ cli: CLI, endpoints: servers.map((s) => `${s.host}:${s.port}`), configFile, name: r.id });
    return { proc: epp.proc, port: epp.grpcPort };
  }
  if (typeof kube !== 'object') throw new Error(`llm-d EPP not runnable: ${kube ?? 'no kube-apiserver'}`);
  if (!existsSync(join(BIN, 'llm-d-epp'))) throw new Error(`${BIN}/llm-d-epp missing (bash scripts/deps/llm-d-epp.sh)`);
  const epp = await startLlmdEpp({ bin: join(BIN, 'llm-d-epp'), kube, repo: REPO, servers: servers.map((s) => ({ ip: s.host, port: s.port })) });
  return { proc: epp.proc, port: epp.grpcPort };
}

async function measure(r: Router, port: number, pid: number, set: Prompt[]): Promise<Row> {
  const client = benchExtProcClient(port);
  const headersOf = (p: Prompt) => ({ ':path': '/v1/chat/completions', ...(r.filter ? p.filterHeaders : { 'x-request-id': p.filterHeaders['x-request-id'] }) });
  // Warm-up: one round on other ids (a header set is accepted once), not measured.
  // Warm-up: a request of each group, not measured (each with the filter's headers for it: a
  // signed header set is accepted once). Where each group went is where its prefix is cached.
  const home: (string | undefined)[] = [];
  for (const p of set.slice(0, GROUPS)) home.push((await extProcRequest(client, headersOf(p), p.body, undefined, r.bodyModeNone)).destination);
  const measured = set.slice(GROUPS);
  // The EPP's idle cost (metrics scraping, timers), measured while no request runs, is taken out
  // of the per-request figure and reported on its own.
  const idle0 = processCpuSeconds(pid);
  const idleT0 = performance.now();
  await new Promise((res) => setTimeout(res, IDLE_MS));
  const idleCpuPerS = (processCpuSeconds(pid) - idle0) / ((performance.now() - idleT0) / 1000);
  const cpu0 = processCpuSeconds(pid);
  const t0 = performance.now();
  const routed: number[] = [];
  let failed = 0;
  let atHome = 0;
  for (const [i, p] of measured.entries()) {
    const t = await extProcRequest(client, headersOf(p), p.body, undefined, r.bodyModeNone);
    if (t.ok) routed.push(t.sinceHeadersMs);
    else failed++;
    if (t.ok && t.destination !== undefined && t.destination === home[i % GROUPS]) atHome++;
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = Math.max(0, processCpuSeconds(pid) - cpu0 - idleCpuPerS * elapsedS);
  client.close();
  const s = summarize(routed);
  const mean = (f: (p: Prompt) => number, of = measured) => of.reduce((a, p) => a + f(p), 0) / of.length;
  return {
    router: r.id,
    size: set[0].size,
    tokens: Math.round(mean((p) => p.tokens)),
    requests: measured.length,
    failed,
    routedP50Ms: s.p50,
    routedP99Ms: s.p99,
    eppCpuMsPerRequest: (cpu * 1000) / measured.length,
    eppIdleCpuPct: idleCpuPerS * 100,
    followedPrefix: atHome / measured.length,
    filterCpuMsPerRequest: r.filter ? mean((p) => p.filterCpuMs) : 0,
    filterCpuMsFirstOfGroup: r.filter ? mean((p) => p.filterCpuMs, set.slice(0, GROUPS)) : 0,
    headerBytes: r.filter ? Math.round(mean((p) => p.headerBytes)) : 0,
  };
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');

async function main(): Promise<void> {
  const only = process.env.BENCH_ROUTERS?.split(',');
  const routers = ROUTERS.filter((r) => !only || only.includes(r.id));
  const key = randomBytes(32).toString('base64');
  const host = await filterHost(key);
  // Calibrate words per token on this tokenizer, so prompts land near their sizes.
  const probe = host.runRequestSync({ path: '/v1/completions', headers: { 'x-request-id': 'calibrate' }, body: JSON.stringify({ model: MODEL, prompt: words(7, 4000) }) });
  const calTokens = Number(new Map(probe.headersAfter).get('x-tokenroute-tokens'));
  const wordsPerToken = 4000 / calTokens;
  console.log(`filler: ${calTokens} tokens per 4,000 words`);
  // The filter's first requests compile its code; warm it before timing it.
  for (let i = 0; i < 20; i++) host.runRequestSync({ path: '/v1/completions', headers: { 'x-request-id': `warm-${i}` }, body: JSON.stringify({ model: MODEL, prompt: words(900 + i, 3000) }) });
  const sets = SIZES.map((size) => prompts(host, size, wordsPerToken));
  const servers: { host: string; port: number; server: Server }[] = [];
  for (let i = 0; i < SERVERS; i++) {
    const m = await metricsServer(ip(i));
    servers.push({ host: ip(i), port: m.port, server: m.server });
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-long-'));
  let kube: Kube | string | undefined;
  if (routers.some((r) => !r.config)) {
    try {
      kube = await startKube(BIN);
    } catch (e) {
      kube = `kube-apiserver failed: ${(e as Error).message}`;
    }
  }
  const load = loadavg()[0];
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    for (const r of routers) {
      console.log(`${r.label} ...`);
      let started: { proc: Proc; port: number } | undefined;
      try {
        started = await startRouter(r, key, servers, kube, dir);
        await new Promise((res) => setTimeout(res, 1500)); // first scrapes
        for (const set of sets) {
          const row = await measure(r, started.port, started.proc.child.pid!, set);
          rows.push(row);
          console.log(`  ${row.tokens} tokens: routed p50 ${f1(row.routedP50Ms)} ms p99 ${f1(row.routedP99Ms)} ms, EPP ${f1(row.eppCpuMsPerRequest)} ms CPU/request, filter ${f1(row.filterCpuMsPerRequest)} ms, ${row.failed} failed`);
        }
      } catch (e) {
        notes.push(`${r.id}: not measured: ${(e as Error).message}`);
        console.log(`  not measured: ${(e as Error).message}`);
      } finally {
        await started?.proc.stop();
      }
    }
  } finally {
    if (typeof kube === 'object') await kube.stop();
    for (const s of servers) s.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const label = new Map(ROUTERS.map((r) => [r.id, r.label]));
  const table = [
    '| router | prompt tokens | routed p50 (ms) | routed p99 (ms) | EPP CPU / request (ms) | filter CPU / request (ms) | router CPU / request (ms) | EPP idle CPU (% of a core) | filter CPU, first of a group (ms) | filter header bytes | followed its prefix | failed |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${label.get(r.router)} | ${r.tokens.toLocaleString('en-US')} | ${f1(r.routedP50Ms)} | ${f1(r.routedP99Ms)} | ${f1(r.eppCpuMsPerRequest)} | ${r.filterCpuMsPerRequest ? f1(r.filterCpuMsPerRequest) : '–'} | ${f1(r.eppCpuMsPerRequest + r.filterCpuMsPerRequest)} | ${f1(r.eppIdleCpuPct)} | ${r.filterCpuMsFirstOfGroup ? f1(r.filterCpuMsFirstOfGroup) : '–'} | ${r.headerBytes || '–'} | ${(r.followedPrefix * 100).toFixed(0)}% | ${r.failed}/${r.requests} |`),
  ].join('\n');
  console.log(table);
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), 1-min load average ${load.toFixed(2)} at start`;
  const md = `# Router cost as prompts grow

\`npm run bench:long\` (e2e/bench/long.ts), one run on ${new Date().toISOString().slice(0, 10)}, ${machine}; ${REQUESTS} requests per size, one at a time, after a warm-up round.

Prompts: chat requests to \`${MODEL}\` (Qwen3 tokenizer) of about 1K, 8K, 32K and 100K tokens, 95% a system context shared by a group (${GROUPS} groups), 5% a question of their own. Each router is one process driven over ext_proc gRPC as Envoy drives it (FULL_DUPLEX_STREAMED, 64 KiB body messages) over the same ${SERVERS} fake model servers (vLLM \`/metrics\` only: routing is measured, serving is not). **routed** is the time from the request's headers to the routing reply (body transfer included, as the proxy waits). **EPP CPU** is the EPP process's user + system time over the measured requests (every thread, including tokenizer and parse workers) less its idle rate (measured for ${IDLE_MS / 1000} s just before, with no request running: metrics scraping and timers; reported in its own column) times their duration, divided by their number. **filter CPU** is the edge filter's time in the proxy-wasm host for the same request (filter.wasm under Node's V8; in Envoy it runs under V8 too, spread over Envoy's workers); the measured requests come after a warm-up request of each group, so the filter has their shared context remembered (its token cache, docs/tokenizer.md) — **filter CPU, first of a group** is the cost of those warm-up requests, tokenizing the context. The gateway's own proxying is the same for every router and not counted. **followed its prefix** is the share of requests routed to the endpoint their group's warm-up request went to — where its shared context is cached (the fake servers report equal load, so a prefix-aware router sends every later request of a group there): tokenroute's rows match the filter's bounded digest (or, EPP only, every block key) against routing history, llm-d's its character blocks.

${table}

${notes.length ? `Not measured: ${notes.join('; ')}\n\n` : ''}TTFT through the gateway and model servers at loads up to saturation, with prompts of this size: \`BENCH_WORKLOAD=long npm run bench:routing\` (docs/benchmarks/routing-long.md).
`;
  writeKeepingReading(join(REPO, 'docs', 'benchmarks', 'long.md'), md);
  writeFileSync(join(REPO, 'docs', 'benchmarks', 'long.json'), JSON.stringify({ date: new Date().toISOString(), machine, requests: REQUESTS, rows, notes }, null, 2) + '\n');
  console.log('wrote docs/benchmarks/long.{md,json}');
}

await main();
