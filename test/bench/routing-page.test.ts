// The routing results page (e2e/bench/routing-page.ts): each workload's table has every policy at
// every load, and the goal cells compare tokenroute's best prefix policy with llm-d up to the knee
// — misses are printed as misses.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { workloadSection } from '../../e2e/bench/routing-page.js';
import type { StageResult } from '../../e2e/bench/ladder.js';

const stage = (qps: number, p90: number, hit: number, tput: number) => ({ qps, ttftP90S: p90, cacheHitRate: hit, outputTokensPerS: tput }) as StageResult;
const run = (id: string) => ({
  started: '2026-12-07T19:00:00.000Z',
  versions: { tokenrouteCommit: 'abc1234' },
  workload: { id, describe: 'test workload', seed: 42 },
  policies: [
    { id: 'approx', label: 'approx', router: 'tokenroute', stages: [stage(2, 1.2, 0.5, 40), stage(4, 1.6, 0.5, 80), stage(6, 3.5, 0.4, 110), stage(8, 9, 0.3, 120)] },
    { id: 'precise', label: 'precise', router: 'tokenroute', stages: [stage(2, 0.9, 0.6, 40), stage(4, 1.7, 0.55, 80), stage(6, 3.6, 0.45, 115), stage(8, 8, 0.35, 125)] },
    { id: 'llmd', label: 'llm-d', router: 'llm-d', stages: [stage(2, 1.0, 0.5, 40), stage(4, 1.5, 0.5, 80), stage(6, 3.0, 0.4, 112), stage(8, 10, 0.3, 130)] },
  ],
});

describe('routing results page', () => {
  it('puts the knee past llm-d\'s best stage (a cold first stage is not the baseline) and shows the recommended policy', () => {
    const r = run('hot-spot');
    r.policies[2].stages = [stage(1, 2.6, 0.5, 30), stage(3, 0.5, 0.8, 90), stage(5, 1.2, 0.9, 150), stage(7, 4, 0.9, 200)];
    r.policies.push({ id: 'ttft', label: 'ttft', router: 'tokenroute', stages: [stage(1, 2.7, 0.5, 30), stage(3, 0.5, 0.8, 90), stage(5, 0.5, 0.9, 150), stage(7, 0.6, 0.9, 210)] });
    const md = workloadSection('(c)', 'routing-c', r);
    assert.match(md, /knee: QPS 5, .*twice its best, 0\.50 s at QPS 3/);
    assert.match(md, /\| 1 \| 2\.60 \| precise \| 0\.90 \| yes \| 2\.70 \| \*\*no\*\* \(\+4%\) \|/);
    r.policies[3].stages[0] = stage(1, 2.62, 0.5, 30);
    assert.match(workloadSection('(c)', 'routing-c', r), /\| 1 \| 2\.60 \| precise \| 0\.90 \| yes \| 2\.62 \| ≈ \(\+0\.8%\) \|/);
    assert.match(md, /\| 5 \| 1\.20 \| ttft \| 0\.50 \| yes \| 0\.50 \| yes \|/);
  });

  it('prints every policy at every load and the goal cells up to the knee, misses included', () => {
    const md = workloadSection('(x) test', 'routing-x', run('multi-turn'));
    assert.match(md, /\| 6 \| 3\.50 s · 0\.40 \| 3\.60 s · 0\.45 \| 3\.00 s · 0\.40 \|/);
    assert.match(md, /knee: QPS 6/);
    assert.match(md, /\| 2 \| 1\.00 \| precise \| 0\.90 \| yes \|/);
    assert.match(md, /\| 4 \| 1\.50 \| approx \| 1\.60 \| \*\*no\*\* \(\+7%\) \|/);
    assert.match(md, /\| 6 \| 3\.00 \| approx \| 3\.50 \| \*\*no\*\* \(\+17%\) \|/);
    assert.doesNotMatch(md, /\| 8 \| 10\.00 \|/, 'cells past the knee are not goals');
    assert.match(md, /precise 125 output tok\/s vs llm-d 130 — \*\*missed\*\*/);
    assert.doesNotMatch(md, /Precise ≥ approx/);
    assert.match(workloadSection('(b)', 'routing-b', run('multi-turn-bypass')), /Precise ≥ approx .*QPS 2: 0\.90 vs 1\.20 s, hit 0\.60 vs 0\.50 \(yes\).*QPS 4: 1\.70 vs 1\.60 s, hit 0\.55 vs 0\.50 \(\*\*no\*\*\)/);
  });

  it('says which run each column is from when policies were rerun (BENCH_MERGE=1)', () => {
    const r = run('multi-turn');
    assert.doesNotMatch(workloadSection('(a)', 'routing-a', r), /Columns from/);
    r.policies[1] = { ...r.policies[1], run: { started: '2026-12-08T09:30:00.000Z', tokenrouteCommit: 'def5678' } } as (typeof r.policies)[number];
    assert.match(workloadSection('(a)', 'routing-a', r), /Columns from 2 runs .*approx, llm-d — 2026-12-07T19:00Z at abc1234; precise — 2026-12-08T09:30Z at def5678\./);
  });
});
