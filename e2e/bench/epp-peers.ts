// `npm run bench:epp`, second part: tokenroute's EPP and llm-d's Go EPP (llm-d-inference-scheduler
// v0.7.1) side by side, each with its built-in default profile (GIE's: queue ×2, kv-cache ×2,
// approximate prefix ×3) and its own metrics scraping, over the same fake model servers
// (e2e/bench/metrics-farm.ts: vLLM-shaped pages, one process) at 8 and 64 endpoints, driven by the
// same Go load generator over ext_proc. Each EPP process is pinned to CPU 0; the load generator,
// the fake servers and (for llm-d) etcd + kube-apiserver to CPU 1. Per EPP and pool size:
//   idle: CPU while only scraping (no request), % of a core and ms per scrape served;
//   c=1: decision latency p50/p99 (request headers sent → destination received);
//   c=64: streams/s, the EPP's CPU (cores), streams per EPP core-second, decision p50/p99;
//   RSS at the end and at its peak.
// Writes docs/benchmarks/epp-peers.{md,json}. One run; the machine is shared: read ratios.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { once } from 'node:events';
import { writeKeepingReading } from './report.js';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { ensureLoadgen, residentMiB, runLoad, type LoadOut } from '../../epp/bench/loadgen-driver.js';
import { processCpuSeconds } from '../../epp/bench/extproc-client.js';
import { startKube, startLlmdEpp, startTokenrouteEpp, startTokenrouteEppInPool, deletePool, type Kube, type StartedEpp } from './stack.js';
import { tokenrouteCli } from '../lib/stack.js';

const REPO = findPackageRoot();
const BIN = process.env.TOKENROUTE_BIN_DIR ?? join(REPO, '.cache', 'bin');
const CLI = tokenrouteCli();
const SIZES = (process.env.BENCH_SIZES ?? '8,64').split(',').map(Number);
const SETTLE_MS = 3000;
const IDLE_MS = 8000;
const EPP_CPU = '0';
const LOAD_CPU = '1';

interface Farm {
  readonly port: number;
  readonly hosts: string[];
  scrapes(): Promise<number>;
  stop(): Promise<void>;
}

/** The fake model servers, in their own process pinned with the load generator. */
async function startFarm(n: number): Promise<Farm> {
  const hosts = Array.from({ length: n }, (_, i) => `127.0.4.${i + 1}`);
  const child: ChildProcess = spawn('taskset', ['-c', LOAD_CPU, process.execPath, join(REPO, 'dist', 'e2e', 'bench', 'metrics-farm.js'), '--hosts', hosts.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Interface = createInterface({ input: child.stdout! });
  const next = async (): Promise<Record<string, number>> => {
    const [line] = (await once(lines, 'line')) as [string];
    return JSON.parse(line) as Record<string, number>;
  };
  const ready = await next();
  return {
    port: ready.port,
    hosts,
    async scrapes() {
      const answer = next();
      child.stdin!.write('\n');
      return (await answer).scrapes;
    },
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

interface Row {
  /** tokenroute standalone (`--static-endpoints`), tokenroute in Kubernetes mode over the InferencePool llm-d's EPP gets, llm-d. */
  router: 'tokenroute' | 'tokenroute (kubernetes)' | 'llm-d';
  endpoints: number;
  idleCpuPct: number;
  scrapesPerS: number;
  cpuMsPerScrape: number;
  latency: LoadOut;
  throughput: LoadOut;
  eppCpuCores: number;
  perCoreSecond: number;
  /** Resident memory after the idle window, before any request. */
  idleRssMiB: number;
  rssMiB: number;
  peakRssMiB: number;
}

async function measure(router: Row['router'], n: number, epp: StartedEpp, farm: Farm): Promise<Row> {
  const pid = epp.proc.child.pid!;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const s0 = await farm.scrapes();
  const i0 = processCpuSeconds(pid);
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idleS = (performance.now() - w0) / 1000;
  const idleCpuS = processCpuSeconds(pid) - i0;
  const scrapes = (await farm.scrapes()) - s0;
  const idleMem = residentMiB(pid);
  const latency = await runLoad(epp.grpcPort, 1, 5, { cpus: LOAD_CPU });
  const t0 = processCpuSeconds(pid);
  const l0 = performance.now();
  const throughput = await runLoad(epp.grpcPort, 64, 8, { cpus: LOAD_CPU });
  const cores = (processCpuSeconds(pid) - t0) / ((performance.now() - l0) / 1000);
  const mem = residentMiB(pid);
  return {
    router, endpoints: n,
    idleCpuPct: (idleCpuS / idleS) * 100, scrapesPerS: scrapes / idleS, cpuMsPerScrape: scrapes > 0 ? (idleCpuS * 1000) / scrapes : NaN,
    latency, throughput, eppCpuCores: cores, perCoreSecond: throughput.perSecond / Math.max(cores, 1e-9),
    idleRssMiB: idleMem.rss, rssMiB: mem.rss, peakRssMiB: mem.peak,
  };
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

async function main(): Promise<void> {
  ensureLoadgen();
  const loadBefore = loadavg();
  const rows: Row[] = [];
  const notes: string[] = [];
  let kube: Kube | undefined;
  const llmdBin = join(BIN, 'llm-d-epp');
  if (!existsSync(llmdBin)) notes.push(`llm-d's EPP not built (${llmdBin}; bash scripts/deps/llm-d-epp.sh)`);
  else {
    try {
      kube = await startKube(BIN);
      // etcd and kube-apiserver share the load generator's CPU, not the EPPs'.
      for (const p of kube.procs) spawn('taskset', ['-pc', LOAD_CPU, String(p.child.pid)], { stdio: 'ignore' });
    } catch (e) {
      notes.push(`kube-apiserver failed: ${(e as Error).message.slice(0, 300)}`);
    }
  }
  try {
    for (const n of SIZES) {
      let farm: Farm | undefined;
      try {
        farm = await startFarm(n);
        const hosts = farm.hosts;
        const port = farm.port;
        const peers: [Row['router'], (() => Promise<StartedEpp & { pool?: string }>) | undefined][] = [
          ['tokenroute', () => startTokenrouteEpp({ cli: CLI, endpoints: hosts.map((h) => `${h}:${port}`), cpus: EPP_CPU })],
          ['tokenroute (kubernetes)', kube ? () => startTokenrouteEppInPool({ cli: CLI, kube: kube!, repo: REPO, servers: hosts.map((ip) => ({ ip, port })), cpus: EPP_CPU }) : undefined],
          ['llm-d', kube ? () => startLlmdEpp({ bin: llmdBin, kube: kube!, repo: REPO, servers: hosts.map((ip) => ({ ip, port })), cpus: EPP_CPU }) : undefined],
        ];
        for (const [router, start] of peers) {
          if (!start) continue;
          // One EPP failing to start or to serve is a note in the page, not the end of the run.
          let epp: (StartedEpp & { pool?: string }) | undefined;
          try {
            epp = await start();
            const row = await measure(router, n, epp, farm);
            rows.push(row);
            console.log(`${row.router} ${n} endpoints: idle ${f1(row.idleCpuPct)}% of a core (${f1(row.scrapesPerS)} scrapes/s, ${f2(row.cpuMsPerScrape)} ms each); c=1 p50 ${f2(row.latency.decisionP50)} p99 ${f2(row.latency.decisionP99)} ms; c=64 ${row.throughput.perSecond.toFixed(0)}/s at ${f2(row.eppCpuCores)} cores = ${row.perCoreSecond.toFixed(0)} per core-second; RSS ${f1(row.idleRssMiB)} idle, ${f1(row.rssMiB)} MiB after load (peak ${f1(row.peakRssMiB)})`);
          } catch (e) {
            notes.push(`${router} at ${n} endpoints: ${(e as Error).message.slice(0, 300)}`);
            console.error(`${router} at ${n} endpoints: not measured: ${(e as Error).message}`);
          } finally {
            await epp?.proc.stop();
            if (kube && epp?.pool) deletePool(kube, epp.pool, n);
          }
        }
      } catch (e) {
        notes.push(`fake servers for ${n} endpoints: ${(e as Error).message.slice(0, 300)}`);
        console.error(`fake servers for ${n} endpoints failed: ${(e as Error).message}`);
      } finally {
        await farm?.stop();
      }
    }
  } finally {
    await kube?.stop();
  }
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageBefore: loadBefore.map(f2).join(' '), loadAverageAfter: loadavg().map(f2).join(' '), date: new Date().toISOString() };
  const llmdVersion = existsSync(`${llmdBin}.buildinfo`) ? readFileSync(`${llmdBin}.buildinfo`, 'utf8').trim() : 'not built';
  const table = [
    '| EPP | endpoints | idle CPU (% of a core) | scrapes/s | CPU per scrape (ms) | c=1 decision p50 / p99 (ms) | c=64 streams/s | EPP CPU (cores) | streams per EPP core-second | c=64 decision p50 / p99 (ms) | RSS idle / after load / peak (MiB) | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.router} | ${r.endpoints} | ${f1(r.idleCpuPct)} | ${f1(r.scrapesPerS)} | ${f2(r.cpuMsPerScrape)} | ${f2(r.latency.decisionP50)} / ${f2(r.latency.decisionP99)} | ${r.throughput.perSecond.toFixed(0)} | ${f2(r.eppCpuCores)} | ${r.perCoreSecond.toFixed(0)} | ${f2(r.throughput.decisionP50)} / ${f2(r.throughput.decisionP99)} | ${f1(r.idleRssMiB)} / ${f1(r.rssMiB)} / ${f1(r.peakRssMiB)} | ${r.latency.errors + r.throughput.errors} |`),
  ].join('\n');
  const ratios = SIZES.map((n) => {
    // Like for like: both in Kubernetes mode when the cluster ran.
    const t = rows.find((r) => r.router === 'tokenroute (kubernetes)' && r.endpoints === n) ?? rows.find((r) => r.router === 'tokenroute' && r.endpoints === n);
    const l = rows.find((r) => r.router === 'llm-d' && r.endpoints === n);
    if (!t || !l) return '';
    return `| ${t.router} | ${n} | ${f2(t.perCoreSecond / l.perCoreSecond)} | ${f2(t.latency.decisionP99 / l.latency.decisionP99)} | ${f2(t.idleCpuPct / l.idleCpuPct)} | ${f2(t.rssMiB / l.rssMiB)} |`;
  }).filter(Boolean);
  const md = `# EPP side by side with llm-d's

Produced by \`npm run bench:epp\` (e2e/bench/epp-peers.ts) on ${machine.date}.
Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAverageBefore} before, ${machine.loadAverageAfter} after (a shared machine: read ratios, not absolutes).

Both EPPs run their built-in default profile (GIE's: queue-scorer ×2, kv-cache-utilization-scorer ×2, approximate prefix-cache-scorer ×3, max-score-picker) and scrape their model servers' metrics themselves every 50 ms (both defaults). The model servers are fake (e2e/bench/metrics-farm.ts: vLLM-shaped /metrics pages of ~11 KB whose values change on every scrape), one process on CPU 1. tokenroute's EPP runs twice: standalone, given the servers as \`--static-endpoints\` (it then never loads the Kubernetes client), and in Kubernetes mode over an InferencePool and one Ready Pod per server in a real kube-apiserver (etcd and kube-apiserver on CPU 1) — the same objects llm-d's EPP (${llmdVersion}) gets. Each EPP is one process pinned to CPU 0 (\`taskset -c 0\`; Go then runs with GOMAXPROCS 1, Node's worker threads share the core). The Go load generator (epp/bench/loadgen, pinned to CPU 1) sends Envoy-shaped FULL_DUPLEX_STREAMED streams (request headers + 4 KB chat body, then response headers + body) over one HTTP/2 connection.

**idle**: the EPP's CPU over ${IDLE_MS / 1000} s with no request (scraping, timers, informers), and that CPU divided by the scrapes the fake servers answered. **c=1**: one stream at a time for 5 s; decision = request headers sent → destination header received. **c=64**: 64 streams in flight for 8 s; *per core-second* divides streams/s by the EPP process's measured CPU. RSS: VmRSS after the idle window (before any request) and after the runs, and VmHWM.

${table}

tokenroute ÷ llm-d (tokenroute's Kubernetes-mode row where the cluster ran, as llm-d's):

| tokenroute row | endpoints | streams per core-second | c=1 decision p99 | idle CPU | RSS after load |
|---|---|---|---|---|---|
${ratios.join('\n')}
${notes.length ? `\nNot measured: ${notes.join('; ')}\n` : ''}`;
  mkdirSync(join(REPO, 'docs', 'benchmarks'), { recursive: true });
  writeKeepingReading(join(REPO, 'docs', 'benchmarks', 'epp-peers.md'), md);
  writeFileSync(join(REPO, 'docs', 'benchmarks', 'epp-peers.json'), JSON.stringify({ machine, llmdVersion, rows, notes }, null, 2) + '\n');
  console.log('\n' + md);
}

await main();
