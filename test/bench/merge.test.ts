// BENCH_MERGE=1 (e2e/bench/merge.ts): a rerun's policies replace theirs in the last run, the others
// keep their cells and say which run they came from; another workload, seed or ladder is not merged.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeInto, type MergeableRun } from '../../e2e/bench/merge.js';
import type { StageResult } from '../../e2e/bench/ladder.js';

const stages = [{ qps: 2, seconds: 40 }];
const cell = (p90: number) => [{ qps: 2, ttftP90S: p90 }] as StageResult[];
const earlier = (): MergeableRun => ({
  started: '2026-12-07T19:00:00.000Z',
  versions: { tokenrouteCommit: 'old1234' },
  workload: { id: 'multi-turn', seed: 7, stages },
  policies: [{ id: 'approx', stages: cell(1) }, { id: 'ttft', stages: cell(2) }, { id: 'llmd', stages: cell(3) }],
});
const rerun = (seed = 7): MergeableRun => ({
  started: '2026-12-08T09:00:00.000Z',
  versions: { tokenrouteCommit: 'new5678' },
  workload: { id: 'multi-turn', seed, stages },
  policies: [
    { id: 'ttft', run: { started: '2026-12-08T09:00:00.000Z', tokenrouteCommit: 'new5678' }, stages: cell(0.5) },
    { id: 'sticky', run: { started: '2026-12-08T09:00:00.000Z', tokenrouteCommit: 'new5678' }, stages: cell(4) },
  ],
});

describe('bench:routing BENCH_MERGE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-merge-'));
  const file = join(dir, 'latest.json');

  it('replaces the rerun policies, keeps the others with their run, appends new ones', () => {
    writeFileSync(file, JSON.stringify(earlier()));
    const r = rerun();
    mergeInto(r, file);
    assert.deepEqual(r.policies.map((p) => [p.id, p.stages[0].ttftP90S, p.run?.tokenrouteCommit]), [
      ['approx', 1, 'old1234'],
      ['ttft', 0.5, 'new5678'],
      ['llmd', 3, 'old1234'],
      ['sticky', 4, 'new5678'],
    ]);
  });

  it('does not merge another seed (or workload, or ladder), and a missing file leaves the run alone', () => {
    writeFileSync(file, JSON.stringify(earlier()));
    const other = rerun(42);
    mergeInto(other, file);
    assert.deepEqual(other.policies.map((p) => p.id), ['ttft', 'sticky']);
    const alone = rerun();
    mergeInto(alone, join(dir, 'none.json'));
    assert.deepEqual(alone.policies.map((p) => p.id), ['ttft', 'sticky']);
  });
});
