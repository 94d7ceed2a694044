// Formulas of the metric scorers (queue, running requests, KV cache, LoRA affinity, token load)
// against hand-computed values, including the edge cases: equal values, one candidate, NaN.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Scorer } from '../../../../epp/src/framework/plugins.js';
import { queueScorerPlugin } from '../../../../epp/src/scheduling/plugins/queue-scorer.js';
import { runningRequestsSizeScorerPlugin } from '../../../../epp/src/scheduling/plugins/running-requests-size-scorer.js';
import { kvCacheUtilizationScorerPlugin } from '../../../../epp/src/scheduling/plugins/kv-cache-utilization-scorer.js';
import { loraAffinityScorerPlugin } from '../../../../epp/src/scheduling/plugins/lora-affinity-scorer.js';
import { tokenLoadScorerPlugin } from '../../../../epp/src/scheduling/plugins/token-load-scorer.js';
import { candidates, make, request, scores } from '../helpers.js';

describe('queue-scorer', () => {
  const scorer = make<Scorer>(queueScorerPlugin);

  it('min-max normalises the waiting queue: (max − q) / (max − min)', () => {
    // min 0, max 10: 0 → 1, 5 → 0.5, 10 → 0, 2 → 0.8
    assert.deepEqual(scores(scorer, candidates([{ waiting: 0 }, { waiting: 5 }, { waiting: 10 }, { waiting: 2 }])), [1, 0.5, 0, 0.8]);
  });

  it('gives every candidate 1.0 when all queues are equal', () => {
    assert.deepEqual(scores(scorer, candidates([{ waiting: 3 }, { waiting: 3 }, { waiting: 3 }])), [1, 1, 1]);
  });

  it('gives a single candidate 1.0', () => {
    assert.deepEqual(scores(scorer, candidates([{ waiting: 42 }])), [1]);
  });

  it('scores a NaN queue 0 and leaves it out of min/max', () => {
    assert.deepEqual(scores(scorer, candidates([{ waiting: 0 }, { waiting: NaN }, { waiting: 4 }])), [1, 0, 0]);
  });

  it('takes no parameters', () => {
    assert.equal(queueScorerPlugin.parameters.safeParse({}).success, true);
    assert.equal(queueScorerPlugin.parameters.safeParse({ threshold: 1 }).success, false);
  });
});

describe('running-requests-size-scorer', () => {
  const scorer = make<Scorer>(runningRequestsSizeScorerPlugin);

  it('gives fewer running requests a higher score, min-max normalised', () => {
    // min 2, max 6: 2 → 1, 4 → 0.5, 6 → 0, 5 → 0.25
    assert.deepEqual(scores(scorer, candidates([{ running: 2 }, { running: 4 }, { running: 6 }, { running: 5 }])), [1, 0.5, 0, 0.25]);
  });

  it('ignores the waiting queue', () => {
    assert.deepEqual(scores(scorer, candidates([{ running: 1, waiting: 100 }, { running: 3, waiting: 0 }])), [1, 0]);
  });

  it('gives 1.0 to all when equal and to a single candidate', () => {
    assert.deepEqual(scores(scorer, candidates([{ running: 7 }, { running: 7 }])), [1, 1]);
    assert.deepEqual(scores(scorer, candidates([{ running: 7 }])), [1]);
  });
});

describe('kv-cache-utilization-scorer', () => {
  const scorer = make<Scorer>(kvCacheUtilizationScorerPlugin);

  it('scores 1 − KV usage', () => {
    assert.deepEqual(scores(scorer, candidates([{ kv: 0 }, { kv: 0.25 }, { kv: 0.9 }, { kv: 1 }])), [1, 0.75, 1 - 0.9, 0]);
  });

  it('scores a NaN usage 0 and leaves out-of-range values for the framework to clamp', () => {
    const s = scores(scorer, candidates([{ kv: NaN }, { kv: 1.25 }]));
    assert.equal(s[0], 0);
    assert.equal(s[1], -0.25);
  });
});

describe('lora-affinity-scorer', () => {
  const scorer = make<Scorer>(loraAffinityScorerPlugin);
  const req = request({ targetModel: 'sql-lora' });

  it('scores 1.0 when the adapter is active', () => {
    assert.deepEqual(scores(scorer, candidates([{ activeLoras: ['other', 'sql-lora'], maxLoras: 2 }]), req), [1]);
  });

  it('scores 0.8 when the adapter is not loaded but active + waiting < maxLoras', () => {
    assert.deepEqual(scores(scorer, candidates([{ activeLoras: ['a'], waitingLoras: [], maxLoras: 2 }]), req), [0.8]);
  });

  it('checks room before waiting, as GIE does (waiting + room → 0.8)', () => {
    assert.deepEqual(scores(scorer, candidates([{ activeLoras: ['a'], waitingLoras: ['sql-lora'], maxLoras: 3 }]), req), [0.8]);
  });

  it('scores 0.6 when the adapter is waiting and there is no room', () => {
    assert.deepEqual(scores(scorer, candidates([{ activeLoras: ['a'], waitingLoras: ['sql-lora'], maxLoras: 2 }]), req), [0.6]);
  });

  it('scores 0 with no room and no affinity, and when max_lora is unknown (0)', () => {
    assert.deepEqual(
      scores(scorer, candidates([{ activeLoras: ['a', 'b'], maxLoras: 2 }, { activeLoras: [], maxLoras: 0 }]), req),
      [0, 0],
    );
  });
});

describe('token-load-scorer', () => {
  it('scores 1 − min(1, inflight tokens / queueThresholdTokens)', () => {
    const scorer = make<Scorer>(tokenLoadScorerPlugin, { queueThresholdTokens: 1000 });
    assert.deepEqual(
      scores(scorer, candidates([{ inflightTokens: 0 }, { inflightTokens: 250 }, { inflightTokens: 1000 }, { inflightTokens: 5000 }])),
      [1, 0.75, 0, 0],
    );
  });

  it('defaults queueThresholdTokens to 4194304', () => {
    const scorer = make<Scorer>(tokenLoadScorerPlugin);
    assert.deepEqual(scores(scorer, candidates([{ inflightTokens: 2_097_152 }, { inflightTokens: 1_048_576 }])), [0.5, 0.75]);
    assert.deepEqual(tokenLoadScorerPlugin.parameters.parse({}), { queueThresholdTokens: 4_194_304 });
  });

  it('scores a NaN load 0', () => {
    const scorer = make<Scorer>(tokenLoadScorerPlugin);
    assert.deepEqual(scores(scorer, candidates([{ inflightTokens: NaN }])), [0]);
  });

  it('rejects a non-positive or non-integer threshold', () => {
    for (const bad of [0, -5, 1.5, '100']) {
      const r = tokenLoadScorerPlugin.parameters.safeParse({ queueThresholdTokens: bad });
      assert.equal(r.success, false, `queueThresholdTokens ${JSON.stringify(bad)} must be rejected`);
      assert.equal(r.error!.issues[0].message, 'expected a positive integer');
    }
  });
});
