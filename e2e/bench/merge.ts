// BENCH_MERGE=1 for bench:routing: rerun some policies of a workload and keep the others' results.
import { existsSync, readFileSync } from 'node:fs';
import type { StageResult } from './ladder.js';
import type { Stage } from './workload.js';

export interface MergeableRun {
  started: string;
  versions: { tokenrouteCommit: string };
  workload: { id: string; seed: number; stages: Stage[] };
  policies: { id: string; run?: { started: string; tokenrouteCommit: string }; stages: StageResult[] }[];
}

/**
 * BENCH_MERGE=1: this run's policies replace theirs in `file`'s run, the others are kept with the
 * run they came from (policies[].run), in the earlier run's order, new ones last. Refuses a file of
 * another workload, seed or ladder (this run is then written alone): cells of different runs are
 * only comparable on the same load.
 */
export function mergeInto(result: MergeableRun, file: string): void {
  if (!existsSync(file)) return;
  const old = JSON.parse(readFileSync(file, 'utf8')) as MergeableRun;
  const same = old.workload.id === result.workload.id && old.workload.seed === result.workload.seed && JSON.stringify(old.workload.stages) === JSON.stringify(result.workload.stages);
  if (!same) {
    console.error(`BENCH_MERGE: ${file} holds another workload, seed or ladder; this run is written alone`);
    return;
  }
  const fresh = new Map(result.policies.map((p) => [p.id, p]));
  const kept = old.policies.map((p) => fresh.get(p.id) ?? { ...p, run: p.run ?? { started: old.started, tokenrouteCommit: old.versions.tokenrouteCommit } });
  const added = result.policies.filter((p) => !old.policies.some((o) => o.id === p.id));
  result.policies = [...kept, ...added];
  console.log(`BENCH_MERGE: ${[...fresh.keys()].join(', ')} from this run; ${kept.filter((p) => !fresh.has(p.id)).map((p) => p.id).join(', ') || 'nothing'} kept from earlier runs`);
}
