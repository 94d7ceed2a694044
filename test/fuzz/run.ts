// `npm run fuzz -- [--minutes N] [--target NAME] [--seed S]`: runs the fuzz targets
// (test/fuzz/targets.ts) until the time is up, round-robin in batches, after replaying the corpus
// (test/fuzz/corpus/<target>/*.json). Prints and saves (.cache/fuzz/last-run.json) what ran:
// inputs tried, failures, hangs, RSS before and after. A failing input is shrunk by fast-check and
// written to .cache/fuzz/failures/; the exit code is 1 when anything failed.
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { allTargets, type FuzzTarget } from './targets.js';

export interface FuzzReport {
  readonly target: string;
  tried: number;
  corpus: number;
  failures: { input: unknown; error: string }[];
}

const ROOT = findPackageRoot();
const CORPUS = join(ROOT, 'test', 'fuzz', 'corpus');

/** Replays the corpus of `t`, then fuzzes it for `budgetMs`; never throws. */
export async function fuzzTarget<T>(t: FuzzTarget<T>, budgetMs: number, seed: number): Promise<FuzzReport> {
  const report: FuzzReport = { target: t.name, tried: 0, corpus: 0, failures: [] };
  await t.setup();
  try {
    const dir = join(CORPUS, t.name);
    for (const f of existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')).sort() : []) {
      const input = t.fromJson(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      report.corpus++;
      try {
        await t.check(input);
      } catch (err) {
        report.failures.push({ input: t.toJson(input), error: `corpus ${f}: ${(err as Error).message}` });
      }
    }
    const deadline = Date.now() + budgetMs;
    let batch = 0;
    while (Date.now() < deadline && report.failures.length === 0) {
      const r = await fc.check(
        fc.asyncProperty(t.arbitrary, async (input) => {
          await t.check(input);
        }),
        { numRuns: 200, seed: seed + batch++, interruptAfterTimeLimit: Math.max(1, deadline - Date.now()), markInterruptAsFailure: false },
      );
      report.tried += r.numRuns;
      if (r.failed && r.counterexample) report.failures.push({ input: t.toJson(r.counterexample[0] as T), error: String(r.errorInstance) });
    }
  } finally {
    await t.teardown();
  }
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '1' }, target: { type: 'string' }, seed: { type: 'string' } } });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
  const targets = allTargets().filter((t) => !values.target || t.name === values.target);
  if (targets.length === 0) throw new Error(`no target ${values.target}; targets: ${allTargets().map((t) => t.name).join(', ')}`);
  const rssBefore = process.memoryUsage().rss;
  const started = new Date().toISOString();
  const reports: FuzzReport[] = [];
  // Round-robin in one-minute slices, so every target gets time in a long run.
  const slices = Math.max(1, Math.round(minutes));
  const sliceMs = (minutes * 60_000) / slices / targets.length;
  for (let s = 0; s < slices; s++) {
    for (const t of targets) {
      const r = await fuzzTarget(t, sliceMs, seed + s * 1000);
      const prev = reports.find((x) => x.target === t.name);
      if (prev) {
        prev.tried += r.tried;
        prev.failures.push(...r.failures);
      } else reports.push(r);
      console.log(`${t.name}: ${r.tried} inputs (+${r.corpus} corpus), ${r.failures.length} failures`);
    }
  }
  const summary = { started, minutes, seed, node: process.version, rssBeforeMiB: Math.round(rssBefore / 2 ** 20), rssAfterMiB: Math.round(process.memoryUsage().rss / 2 ** 20), reports };
  const out = join(ROOT, '.cache', 'fuzz');
  mkdirSync(join(out, 'failures'), { recursive: true });
  writeFileSync(join(out, 'last-run.json'), JSON.stringify(summary, null, 2));
  for (const r of reports) r.failures.forEach((f, i) => writeFileSync(join(out, 'failures', `${r.target}-${seed}-${i}.json`), JSON.stringify(f.input)));
  console.log(`fuzz: ${reports.reduce((n, r) => n + r.tried, 0)} inputs in ${minutes} min (seed ${seed}), ${reports.reduce((n, r) => n + r.failures.length, 0)} failures; RSS ${summary.rssBeforeMiB} → ${summary.rssAfterMiB} MiB; .cache/fuzz/last-run.json`);
  for (const r of reports) for (const f of r.failures) console.log(`  ${r.target}: ${f.error}\n    input: ${JSON.stringify(f.input).slice(0, 400)}`);
  if (reports.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    console.error(`fuzz: ${err.message}`);
    process.exit(2);
  });
}
