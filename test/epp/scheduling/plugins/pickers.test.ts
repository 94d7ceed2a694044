// Pickers: max-score (random tie-break, top N), random, weighted-random (A-Res, proportional),
// round-robin (rotation) and least-request (fewest in-flight). Randomness is seeded, so every
// run draws the same numbers; distribution checks use bounds far wider than the sampling error.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Candidate } from '../../../../epp/src/framework/endpoint.js';
import type { Picker } from '../../../../epp/src/framework/plugins.js';
import { maxScorePickerPlugin } from '../../../../epp/src/scheduling/plugins/max-score-picker.js';
import { randomPickerPlugin } from '../../../../epp/src/scheduling/plugins/random-picker.js';
import { aResKey, weightedRandomPickerPlugin } from '../../../../epp/src/scheduling/plugins/weighted-random-picker.js';
import { roundRobinPlugin } from '../../../../epp/src/scheduling/plugins/round-robin.js';
import { leastRequestPlugin } from '../../../../epp/src/scheduling/plugins/least-request.js';
import { pickerParameters } from '../../../../epp/src/framework/params.js';
import { candidates, context, make, request, seededRandom } from '../helpers.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';

const req = request();

function pick(picker: Picker, cands: readonly Candidate[], totals: number[]): number[] {
  return picker.pick(req, cands, Float64Array.from(totals), new RequestState()).map((c) => cands.indexOf(c));
}

/** How often each index comes first over `draws` picks. */
function firstPickFrequencies(picker: Picker, cands: readonly Candidate[], totals: number[], draws: number): number[] {
  const counts = new Array<number>(cands.length).fill(0);
  const t = Float64Array.from(totals);
  for (let i = 0; i < draws; i++) counts[cands.indexOf(picker.pick(req, cands, t, new RequestState())[0])] += 1;
  return counts.map((c) => c / draws);
}

describe('picker parameters', () => {
  it('default maxNumOfEndpoints to 1', () => {
    assert.deepEqual(pickerParameters.parse({}), { maxNumOfEndpoints: 1 });
  });

  it('reject a maxNumOfEndpoints that is not a positive integer', () => {
    for (const bad of [0, -1, 2.5, '2', null]) {
      const r = maxScorePickerPlugin.parameters.safeParse({ maxNumOfEndpoints: bad });
      assert.equal(r.success, false, `maxNumOfEndpoints ${JSON.stringify(bad)}`);
      assert.equal(r.error!.issues[0].message, 'expected a positive integer');
    }
    assert.equal(randomPickerPlugin.parameters.safeParse({ maxNumOfEndpoints: 3, extra: 1 }).success, false);
  });
});

describe('max-score-picker', () => {
  const cands = candidates([{}, {}, {}, {}]);

  it('picks the highest total', () => {
    const picker = make<Picker>(maxScorePickerPlugin);
    assert.deepEqual(pick(picker, cands, [1, 3, 2, 0.5]), [1]);
  });

  it('returns the top maxNumOfEndpoints, best first', () => {
    const picker = make<Picker>(maxScorePickerPlugin, { maxNumOfEndpoints: 3 });
    assert.deepEqual(pick(picker, cands, [1, 3, 2, 0.5]), [1, 2, 0]);
  });

  it('returns every candidate when maxNumOfEndpoints exceeds their number', () => {
    const picker = make<Picker>(maxScorePickerPlugin, { maxNumOfEndpoints: 10 });
    assert.deepEqual(pick(picker, cands, [1, 3, 2, 0.5]), [1, 2, 0, 3]);
  });

  it('returns nothing for no candidates', () => {
    assert.deepEqual(make<Picker>(maxScorePickerPlugin).pick(req, [], new Float64Array(0), new RequestState()), []);
  });

  it('breaks ties uniformly at random and never picks a lower score', () => {
    const picker = make<Picker>(maxScorePickerPlugin, {}, context({ seed: 7 }));
    const freq = firstPickFrequencies(picker, cands, [2, 2, 1, 2], 6000);
    assert.equal(freq[2], 0);
    for (const i of [0, 1, 3]) assert.ok(freq[i] > 0.29 && freq[i] < 0.38, `tie ${i} picked ${freq[i]}`);
  });

  it('is deterministic for a given seed', () => {
    const a = make<Picker>(maxScorePickerPlugin, {}, context({ seed: 3 }));
    const b = make<Picker>(maxScorePickerPlugin, {}, context({ seed: 3 }));
    const totals = [5, 5, 5, 5];
    const seqA = Array.from({ length: 20 }, () => pick(a, cands, totals)[0]);
    const seqB = Array.from({ length: 20 }, () => pick(b, cands, totals)[0]);
    assert.deepEqual(seqA, seqB);
    assert.ok(new Set(seqA).size > 1, 'ties must not always resolve the same way');
  });

  it('shuffles ties within the top N', () => {
    const picker = make<Picker>(maxScorePickerPlugin, { maxNumOfEndpoints: 2 }, context({ seed: 11 }));
    const firsts = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const got = pick(picker, cands, [5, 1, 5, 5]);
      assert.equal(got.length, 2);
      assert.ok(!got.includes(1), 'the lower score must not be picked while ties remain');
      assert.notEqual(got[0], got[1]);
      firsts.add(got[0]);
    }
    assert.deepEqual([...firsts].sort(), [0, 2, 3]);
  });
});

describe('random-picker', () => {
  const cands = candidates([{}, {}, {}, {}]);

  it('ignores scores and picks uniformly', () => {
    const picker = make<Picker>(randomPickerPlugin, {}, context({ seed: 5 }));
    const freq = firstPickFrequencies(picker, cands, [100, 0, 0, 0], 8000);
    for (const f of freq) assert.ok(f > 0.21 && f < 0.29, `frequency ${f}`);
  });

  it('returns maxNumOfEndpoints distinct candidates', () => {
    const picker = make<Picker>(randomPickerPlugin, { maxNumOfEndpoints: 3 });
    for (let i = 0; i < 50; i++) {
      const got = pick(picker, cands, [0, 0, 0, 0]);
      assert.equal(got.length, 3);
      assert.equal(new Set(got).size, 3);
    }
    assert.equal(pick(make<Picker>(randomPickerPlugin, { maxNumOfEndpoints: 9 }), cands, [0, 0, 0, 0]).length, 4);
  });
});

describe('weighted-random-picker', () => {
  const cands = candidates([{}, {}, {}, {}]);

  it('picks roughly in proportion to the total score', () => {
    const picker = make<Picker>(weightedRandomPickerPlugin, {}, context({ seed: 9 }));
    const freq = firstPickFrequencies(picker, cands, [1, 2, 3, 0], 12000);
    const expected = [1 / 6, 2 / 6, 3 / 6, 0];
    freq.forEach((f, i) => assert.ok(Math.abs(f - expected[i]) < 0.03, `index ${i}: ${f} vs ${expected[i]}`));
  });

  it('picks uniformly when every score is zero', () => {
    const picker = make<Picker>(weightedRandomPickerPlugin, {}, context({ seed: 13 }));
    const freq = firstPickFrequencies(picker, cands, [0, 0, 0, 0], 8000);
    for (const f of freq) assert.ok(f > 0.21 && f < 0.29, `frequency ${f}`);
  });

  it('samples without replacement, positive scores before zero ones', () => {
    const picker = make<Picker>(weightedRandomPickerPlugin, { maxNumOfEndpoints: 3 }, context({ seed: 17 }));
    for (let i = 0; i < 100; i++) {
      const got = pick(picker, cands, [0, 1, 0, 4]);
      assert.equal(new Set(got).size, 3);
      assert.deepEqual([...got.slice(0, 2)].sort(), [1, 3]);
      assert.ok(got[2] === 0 || got[2] === 2);
    }
  });

  it('computes A-Res keys u^(1/w), 0 for non-positive weights', () => {
    assert.equal(aResKey(2, 0.25), 0.5);
    assert.equal(aResKey(1, 0.3), 0.3);
    assert.equal(aResKey(0, 0.9), 0);
    assert.equal(aResKey(-1, 0.9), 0);
    assert.equal(aResKey(1, 0), 1e-10);
  });
});

describe('round-robin', () => {
  const cands = candidates([{}, {}, {}]);

  it('rotates over the candidates in order', () => {
    const picker = make<Picker>(roundRobinPlugin);
    const got = Array.from({ length: 7 }, () => pick(picker, cands, [9, 0, 0])[0]);
    assert.deepEqual(got, [0, 1, 2, 0, 1, 2, 0]);
  });

  it('returns the next maxNumOfEndpoints in rotation order as fallbacks', () => {
    const picker = make<Picker>(roundRobinPlugin, { maxNumOfEndpoints: 2 });
    assert.deepEqual(pick(picker, cands, [0, 0, 0]), [0, 1]);
    assert.deepEqual(pick(picker, cands, [0, 0, 0]), [1, 2]);
    assert.deepEqual(pick(picker, cands, [0, 0, 0]), [2, 0]);
  });

  it('keeps rotating when the candidate list changes size', () => {
    const picker = make<Picker>(roundRobinPlugin);
    pick(picker, cands, [0, 0, 0]);
    pick(picker, cands, [0, 0, 0]);
    assert.deepEqual(pick(picker, cands.slice(0, 2), [0, 0]), [0]); // counter 2 mod 2
  });
});

describe('least-request', () => {
  it('picks the endpoint with the fewest in-flight requests, ignoring scores', () => {
    const cands = candidates([{ inflightRequests: 3 }, { inflightRequests: 1 }, { inflightRequests: 2 }]);
    const picker = make<Picker>(leastRequestPlugin);
    assert.deepEqual(pick(picker, cands, [1, 0, 0]), [1]);
  });

  it('breaks ties uniformly at random', () => {
    const cands = candidates([{ inflightRequests: 1 }, { inflightRequests: 1 }, { inflightRequests: 4 }]);
    const picker = make<Picker>(leastRequestPlugin, {}, context({ random: seededRandom(21) }));
    const freq = firstPickFrequencies(picker, cands, [0, 0, 0], 6000);
    assert.equal(freq[2], 0);
    assert.ok(Math.abs(freq[0] - 0.5) < 0.04 && Math.abs(freq[1] - 0.5) < 0.04, `ties ${freq}`);
  });

  it('returns the k least loaded, fewest first', () => {
    const cands = candidates([{ inflightRequests: 5 }, { inflightRequests: 0 }, { inflightRequests: 2 }, { inflightRequests: 9 }]);
    const picker = make<Picker>(leastRequestPlugin, { maxNumOfEndpoints: 3 });
    assert.deepEqual(pick(picker, cands, [0, 0, 0, 0]), [1, 2, 0]);
  });
});
