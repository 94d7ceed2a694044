// `npm run soak -- [--minutes N] [--concurrency C] [--seed S]`: the local stack (e2e/lib/stack.ts:
// three llm-d-inference-sim servers, the tokenroute EPP as a child process, the development gateway
// with the edge filter, FailOpen) under a steady closed-loop load while model servers are killed
// and restarted, hung (SIGSTOP) and resumed, on a seeded schedule. Reports what a user would
// notice — failed, hung (no answer within 30 s) and misrouted requests (sent to a server that had
// been dead or hung for more than two staleness intervals when the EPP chose it) — and the EPP's
// RSS over time. Prints a summary and saves it to .cache/soak/last-run.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { findPackageRoot } from '../epp/src/protocol/proto.js';
import type { RequestRecord } from '../gateway/index.js';
import { startStack } from './lib/stack.js';
import { call, chatBody, familyPrompt } from './lib/workload.js';
import { seededRandom } from '../epp/src/util/seeded-random.js';

const STALENESS_MS = 1000;
const REQUEST_TIMEOUT_MS = 30_000;

interface Fault {
  readonly atMs: number;
  readonly kind: 'kill' | 'hang';
  readonly server: string;
  /** Until when the server is unusable (restart / resume). */
  untilMs: number;
}

function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

const percentile = (xs: number[], p: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '6' }, seed: { type: 'string', default: '7' } } });
  const minutes = Number(values.minutes);
  const concurrency = Number(values.concurrency);
  if (!(minutes > 0) || !(concurrency >= 1)) throw new Error('--minutes and --concurrency must be positive');
  const random = seededRandom(Number(values.seed));
  const records = new Map<string, RequestRecord>();
  const stack = await startStack({
    sims: 3,
    subnet: '127.0.21',
    tokenizer: 'dummy',
    eppProcess: 'child',
    stalenessMs: STALENESS_MS,
    failureMode: 'FailOpen',
    sim: { mode: 'random', interTokenLatency: '5ms', prefillTimePerToken: '200us' },
    onRequest: (r) => records.set(r.id, r),
    progress: (line) => console.log(line),
  });
  const t0 = Date.now();
  const endAt = t0 + minutes * 60_000;
  const faults: Fault[] = [];
  const rss: { s: number; eppMiB: number | undefined; gatewayMiB: number }[] = [];
  const results: { status: number; ms: number; hung: boolean; misrouted: boolean }[] = [];
  let seq = 0;

  /** A server the EPP should no longer choose at time t (down for more than two staleness intervals). */
  const unusable = (key: string | undefined, t: number) => key !== undefined && faults.some((f) => f.server === key && t - f.atMs > 2 * STALENESS_MS && t < f.untilMs);

  const worker = async () => {
    while (Date.now() < endAt) {
      const id = `soak-${++seq}`;
      const family = Math.floor(random() * 40);
      const started = Date.now();
      const r = await call(stack.gateway.url, '/v1/chat/completions', chatBody(familyPrompt(family, 120), `question ${seq}`, { max_tokens: 8 }), { 'x-request-id': id }, REQUEST_TIMEOUT_MS);
      const rec = records.get(id);
      const chosen = rec?.pickedBy === 'epp' ? rec.endpoints[0] : undefined;
      results.push({ status: r.status, ms: Date.now() - started, hung: r.status === 0 && /abort|timeout/i.test(r.error ?? ''), misrouted: unusable(chosen, started) });
    }
  };

  const faultsLoop = async () => {
    await new Promise((r) => setTimeout(r, 10_000));
    while (Date.now() < endAt - 15_000) {
      const i = Math.floor(random() * stack.sims.length);
      const sim = stack.sims[i];
      const kind: Fault['kind'] = random() < 0.5 ? 'kill' : 'hang';
      const fault: Fault = { atMs: Date.now(), kind, server: sim.key, untilMs: Number.POSITIVE_INFINITY };
      faults.push(fault);
      console.log(`soak: ${((Date.now() - t0) / 1000).toFixed(0)} s: ${kind} ${sim.key}`);
      if (kind === 'kill') {
        sim.kill('SIGKILL');
        await sim.exited;
        await new Promise((r) => setTimeout(r, 8_000));
        // From the restart on, the EPP may rightly choose it again as soon as it serves.
        fault.untilMs = Date.now();
        await stack.restartSim(i);
      } else {
        process.kill(sim.pid, 'SIGSTOP');
        await new Promise((r) => setTimeout(r, 8_000));
        fault.untilMs = Date.now();
        process.kill(sim.pid, 'SIGCONT');
      }
      await new Promise((r) => setTimeout(r, 10_000 + random() * 10_000));
    }
  };

  const sampler = setInterval(() => rss.push({ s: Math.round((Date.now() - t0) / 1000), eppMiB: rssMiB(stack.epp.pid()), gatewayMiB: Math.round(process.memoryUsage().rss / 2 ** 20) }), 10_000);
  try {
    await Promise.all([faultsLoop(), ...Array.from({ length: concurrency }, worker)]);
  } finally {
    clearInterval(sampler);
    await stack.close();
  }

  const ok = results.filter((r) => r.status === 200);
  const summary = {
    started: new Date(t0).toISOString(),
    minutes,
    concurrency,
    seed: Number(values.seed),
    requests: results.length,
    ok: ok.length,
    failed: results.filter((r) => r.status !== 200 && !r.hung).length,
    hung: results.filter((r) => r.hung).length,
    misrouted: results.filter((r) => r.misrouted).length,
    latencyMs: { p50: percentile(ok.map((r) => r.ms), 50), p99: percentile(ok.map((r) => r.ms), 99), max: Math.max(0, ...results.map((r) => r.ms)) },
    faults: faults.map((f) => ({ atS: Math.round((f.atMs - t0) / 1000), kind: f.kind, server: f.server, forS: Math.round((f.untilMs - f.atMs) / 1000) })),
    eppRssMiB: rss.map((x) => x.eppMiB),
    gatewayRssMiB: rss.map((x) => x.gatewayMiB),
  };
  const dir = join(findPackageRoot(), '.cache', 'soak');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'last-run.json'), JSON.stringify(summary, null, 2));
  console.log(
    `soak: ${summary.requests} requests in ${minutes} min, ${summary.ok} ok, ${summary.failed} failed, ${summary.hung} hung, ${summary.misrouted} misrouted; ` +
      `${faults.length} faults (${faults.filter((f) => f.kind === 'kill').length} kills, ${faults.filter((f) => f.kind === 'hang').length} hangs); ` +
      `latency p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms, max ${summary.latencyMs.max} ms; EPP RSS ${summary.eppRssMiB.join(' → ')} MiB; .cache/soak/last-run.json`,
  );
}

main().catch((err: Error) => {
  console.error(`soak: ${err.stack ?? err.message}`);
  process.exit(1);
});
