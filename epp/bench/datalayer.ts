// Data-layer micro-benchmark (not a test): N fake vLLM endpoints on 127.0.x.y served from a child
// process, scraped by the MetricsCollector at the GIE interval. It reports what matters for the
// design rule "the event loop is sacred": scrapes/s achieved against the target, how old the
// metrics get, and the MAIN thread's event-loop delay and utilisation while all of that runs in
// the workers. Two references put the delay in context: `inline` runs the same scraper on the
// main thread (what the worker design avoids), and a separate idle probe process measures its
// own loop delay meanwhile (the machine's noise floor under that load).
//
//   node dist/epp/bench/datalayer.js [--endpoints 64,512] [--workers 1,2] [--inline] [--interval 50] [--seconds 10]
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Datastore } from '../src/datastore/datastore.js';
import type { Endpoint } from '../src/framework/endpoint.js';
import { formatEndpointAddress } from '../src/protocol/endpoint-address.js';
import { EppMetrics } from '../src/observability/metrics.js';
import { MetricsCollector } from '../src/datalayer/collector.js';
import { BUILTIN_ENGINE_CONFIGS } from '../src/datalayer/engines.js';
import { vllmMetricsPage } from '../../test/fixtures/sample-exposition.js';
import { DEFAULT_SOURCE_CONFIG, metricsUrl } from '../src/datalayer/source.js';
import { ScrapeWorker } from '../src/datalayer/worker.js';

interface Args {
  endpoints: number[];
  workers: number[];
  inline: boolean;
  interval: number;
  seconds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { endpoints: [64, 512], workers: [1, 2], inline: false, interval: 50, seconds: 10 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1] ?? '';
    const list = v.split(',').map(Number);
    switch (argv[i]) {
      case '--inline':
        args.inline = true;
        i--;
        break;
      case '--endpoints':
        args.endpoints = list;
        break;
      case '--workers':
        args.workers = list;
        break;
      case '--interval':
        args.interval = Number(v);
        break;
      case '--seconds':
        args.seconds = Number(v);
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return args;
}

/** 127.0.1.1, 127.0.1.2, ...: distinct loopback addresses, as distinct pods would have. */
function hostFor(i: number): string {
  return `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

// ---- server side (child process) ----

async function serve(n: number): Promise<void> {
  // A handful of page variants, rotated, so values change the way a live server's do.
  const variants = Array.from({ length: 8 }, (_, v) =>
    Buffer.from(
      vllmMetricsPage({ waiting: v, running: 2 * v, kvUsage: v / 10, lora: [{ maxLora: 4, running: ['sql-lora'], waiting: [], at: 1.75e9 + v }] }),
    ),
  );
  let current = 0;
  const rotate = setInterval(() => (current = (current + 1) % variants.length), 500);
  const servers: http.Server[] = [];
  const addrs: { host: string; port: number }[] = [];
  for (let i = 0; i < n; i++) {
    const s = http.createServer((req, res) => {
      const body = variants[(current + i) % variants.length] as Buffer;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length });
      res.end(body);
    });
    s.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => s.listen(0, hostFor(i), resolve));
    servers.push(s);
    addrs.push({ host: hostFor(i), port: (s.address() as AddressInfo).port });
  }
  process.send?.({ addrs, pageBytes: (variants[0] as Buffer).length });
  process.on('message', (m: string) => {
    if (m === 'cpu') {
      process.send?.({ cpu: process.cpuUsage() });
      return;
    }
    clearInterval(rotate);
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    process.disconnect?.();
  });
}

// ---- probe (child process): its own loop delay, on request ----

function probe(): void {
  let h = monitorEventLoopDelay({ resolution: 1 });
  process.on('message', (m: string) => {
    if (m === 'start') {
      h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
    } else if (m === 'read') {
      h.disable();
      process.send?.({ p99: h.percentile(99) / 1e6, max: h.max / 1e6 });
    } else {
      process.disconnect?.();
    }
  });
}

// ---- scraper side (main process) ----

interface Result {
  endpoints: number;
  /** 0 = inline: the scraper on the main thread. */
  workers: number;
  target: number;
  scrapesPerSec: number;
  errorsPerSec: number;
  ageP50: number;
  ageP99: number;
  ageMax: number;
  loopP50: number;
  loopP99: number;
  loopMax: number;
  elu: number;
  /** CPU time of the scraping process (all threads) and of the server process, in % of one core. */
  cpuScraper: number;
  cpuServers: number;
  probeP99: number;
}

function startServers(n: number): Promise<{ child: ChildProcess; addrs: { host: string; port: number }[]; pageBytes: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', String(n)], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { addrs: { host: string; port: number }[]; pageBytes: number }) => resolve({ child, ...m }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`server process exited (${code})`)));
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function ask<T>(child: ChildProcess, msg: string, field: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (!(field in m)) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}
const serverCpu = async (child: ChildProcess) => (await ask<{ cpu: NodeJS.CpuUsage }>(child, 'cpu', 'cpu')).cpu;

/** The scrape worker's logic run on this thread, applying results like the collector does. */
function inlineScraper(ds: Datastore, interval: number): { counters: { updates: number; errors: number }; stop(): void } {
  const counters = { updates: 0, errors: 0 };
  const w = new ScrapeWorker({ intervalMs: interval, timeoutMs: 1000, insecureSkipVerify: true, maxResponseBytes: 16 << 20, engines: BUILTIN_ENGINE_CONFIGS }, (m) => {
    if (m.t !== 'batch') return;
    for (const u of m.updates) {
      const prev = ds.get(u[0])?.metrics;
      if (!prev) continue;
      ds.updateMetrics(u[0], { ...prev, waitingRequests: u[3], runningRequests: u[4], kvCacheUsage: u[5], updatedAt: u[1] });
      counters.updates++;
    }
    counters.errors += m.errors.length;
  });
  w.handle({ t: 'targets', upsert: ds.candidates().map((c) => ({ key: c.endpoint.key, url: metricsUrl(c.endpoint, DEFAULT_SOURCE_CONFIG), engine: 'vllm' })), remove: [] });
  return { counters, stop: () => w.stop() };
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function run(child: ChildProcess, prober: ChildProcess, addrs: { host: string; port: number }[], workers: number, args: Args): Promise<Result> {
  const ds = new Datastore();
  const endpoints: Endpoint[] = addrs.map(({ host, port }) => ({
    key: formatEndpointAddress(host, port),
    address: host,
    port,
    podName: `pod-${host}`,
    namespace: 'bench',
    labels: {},
    engine: 'vllm',
  }));
  ds.setEndpoints(endpoints);
  let collector: { counters: { updates: number; errors: number }; stop(): unknown };
  if (workers === 0) collector = inlineScraper(ds, args.interval);
  else {
    const c = new MetricsCollector({ datastore: ds, metrics: new EppMetrics(), interval: args.interval, workers });
    c.start();
    collector = c;
  }
  await new Promise((r) => setTimeout(r, 2000)); // warm-up: connections, JIT

  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  prober.send('start');
  const elu0 = performance.eventLoopUtilization();
  const c0 = { ...collector.counters };
  const cpu0 = process.cpuUsage();
  const srv0 = await serverCpu(child);
  const t0 = performance.now();
  const ages: number[] = [];
  const sampler = setInterval(() => {
    const now = Date.now();
    for (const c of ds.candidates()) ages.push(now - c.metrics.updatedAt);
  }, 100);
  await new Promise((r) => setTimeout(r, args.seconds * 1000));
  clearInterval(sampler);
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = process.cpuUsage(cpu0);
  const srv1 = await serverCpu(child);
  const probed = await ask<{ p99: number }>(prober, 'read', 'p99');
  const elu = performance.eventLoopUtilization(elu0);
  h.disable();
  const c1 = collector.counters;
  await collector.stop();
  ages.sort((a, b) => a - b);
  return {
    endpoints: addrs.length,
    workers,
    target: (addrs.length * 1000) / args.interval,
    scrapesPerSec: (c1.updates - c0.updates) / secs,
    errorsPerSec: (c1.errors - c0.errors) / secs,
    ageP50: percentile(ages, 50),
    ageP99: percentile(ages, 99),
    ageMax: ages.at(-1) ?? 0,
    loopP50: h.percentile(50) / 1e6,
    loopP99: h.percentile(99) / 1e6,
    loopMax: h.max / 1e6,
    elu: elu.utilization,
    cpuScraper: cpuMs(cpu1) / (10 * secs),
    cpuServers: (cpuMs(srv1) - cpuMs(srv0)) / (10 * secs),
    probeP99: probed.p99,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve') {
    await serve(Number(argv[1]));
    return;
  }
  if (argv[0] === '--probe') {
    probe();
    return;
  }
  const args = parseArgs(argv);
  const os = await import('node:os');
  console.log(`data-layer bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, interval ${args.interval} ms, ${args.seconds} s per run`);
  console.log('servers run in a child process on the same machine, so they compete for the same CPUs');
  const prober = fork(fileURLToPath(import.meta.url), ['--probe'], { stdio: 'inherit' });
  for (const n of args.endpoints) {
    const { child, addrs, pageBytes } = await startServers(n);
    console.log(`\n${n} endpoints, vLLM page ${pageBytes} bytes`);
    for (const w of args.inline ? [...args.workers, 0] : args.workers) {
      const r = await run(child, prober, addrs, w, args);
      console.log(
        `  ${w === 0 ? 'inline (main thread)' : `workers=${w}`}: ${r.scrapesPerSec.toFixed(0)} scrapes/s of ${r.target.toFixed(0)} target (${((100 * r.scrapesPerSec) / r.target).toFixed(0)}%), ` +
          `errors ${r.errorsPerSec.toFixed(1)}/s | metrics age p50 ${r.ageP50} ms, p99 ${r.ageP99} ms, max ${r.ageMax} ms | ` +
          `main loop delay p50 ${r.loopP50.toFixed(2)} ms, p99 ${r.loopP99.toFixed(2)} ms, max ${r.loopMax.toFixed(2)} ms, utilisation ${(100 * r.elu).toFixed(1)}% | idle probe process p99 ${r.probeP99.toFixed(2)} ms | CPU scraper ${r.cpuScraper.toFixed(0)}%, servers ${r.cpuServers.toFixed(0)}%`,
      );
    }
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
  prober.send('stop');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
