// utilization-detector: roofline endpoint score, pool average, staleness (stale or never
// scraped = saturated), the Filter's relaxed limits and fail-open, and its parameters.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import {
  utilizationDetectorPlugin,
  type UtilizationDetector,
} from '../../../../epp/src/scheduling/plugins/utilization-detector.js';
import { NOW, candidate, candidates, close, context, make, request } from '../helpers.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';

const detector = (params: unknown = {}, now = NOW) => make<UtilizationDetector>(utilizationDetectorPlugin, params, context({ now: () => now }));

describe('utilization-detector parameters', () => {
  it('default to GIE values', () => {
    assert.deepEqual(utilizationDetectorPlugin.parameters.parse({}), {
      queueDepthThreshold: 5,
      kvCacheUtilThreshold: 0.8,
      metricsStalenessThreshold: 200,
      headroom: 0,
    });
  });

  it('parse metricsStalenessThreshold as a Go duration', () => {
    const ms = (text: string) => utilizationDetectorPlugin.parameters.parse({ metricsStalenessThreshold: text }).metricsStalenessThreshold;
    assert.equal(ms('2s'), 2000);
    assert.equal(ms('1m30s'), 90_000);
    assert.equal(ms('1.5s'), 1500);
    assert.equal(ms('750us'), 0.75);
  });

  it('reject out-of-range values, naming what is expected', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ queueDepthThreshold: 0 }, /positive integer/],
      [{ kvCacheUtilThreshold: 0 }, /\(0, 1\]/],
      [{ kvCacheUtilThreshold: 1.2 }, /\(0, 1\]/],
      [{ metricsStalenessThreshold: '0s' }, /positive duration/],
      [{ metricsStalenessThreshold: 'soon' }, /invalid duration/],
      [{ metricsStalenessThreshold: 200 }, /Go duration/],
      [{ headroom: -0.1 }, /non-negative/],
    ];
    for (const [params, message] of cases) {
      const r = utilizationDetectorPlugin.parameters.safeParse(params);
      assert.equal(r.success, false, JSON.stringify(params));
      assert.match(r.error!.issues[0].message, message);
      assert.deepEqual(r.error!.issues[0].path, Object.keys(params));
    }
    assert.equal(utilizationDetectorPlugin.parameters.safeParse({ queueDepth: 3 }).success, false);
  });
});

describe('utilization-detector saturation', () => {
  it('scores an endpoint max(queue / queueThreshold, kv / kvThreshold)', () => {
    const d = detector();
    assert.equal(d.endpointScore(candidate({ waiting: 5, kv: 0.4 }), NOW), 1); // max(1, 0.5)
    assert.ok(close(d.endpointScore(candidate({ waiting: 1, kv: 0.6 }), NOW), 0.75)); // max(0.2, 0.75)
  });

  it('is the unweighted average of endpoint scores', () => {
    const d = detector();
    // 0.5 (kv 0.4/0.8) + 2 (queue 10/5) + 1 (stale) = 3.5 / 3
    const cands = candidates([{ kv: 0.4 }, { waiting: 10 }, { updatedAt: NOW - 1000 }]);
    assert.ok(close(d.saturation(cands, NOW), 3.5 / 3));
  });

  it('counts stale and never-scraped endpoints as fully saturated', () => {
    const d = detector();
    assert.equal(d.saturation(candidates([{ updatedAt: 0 }]), NOW), 1);
    assert.equal(d.saturation(candidates([{ updatedAt: NOW - 200 }]), NOW), 0, '200 ms old is still fresh');
    assert.equal(d.saturation(candidates([{ updatedAt: NOW - 201 }]), NOW), 1, '201 ms old is stale');
  });

  it('is 1 (saturated) with no candidates and below 1 for an idle pool', () => {
    const d = detector();
    assert.equal(d.saturation([], NOW), 1);
    assert.equal(d.saturation(candidates([{}, {}]), NOW), 0);
  });

  it('treats NaN metrics as saturated', () => {
    assert.equal(detector().saturation(candidates([{ waiting: NaN }]), NOW), 1);
  });
});

describe('utilization-detector filter', () => {
  it('removes stale endpoints and endpoints at or over a threshold', () => {
    const d = detector();
    const cands = candidates([
      { waiting: 4, kv: 0.79 }, // kept
      { waiting: 5 }, // queue at threshold
      { kv: 0.8 }, // kv at threshold
      { updatedAt: NOW - 500 }, // stale
      { updatedAt: 0 }, // never scraped
      { waiting: NaN }, // broken scrape
      {}, // kept
    ]);
    assert.deepEqual(d.filter(request(), cands, new RequestState()), [cands[0], cands[6]]);
  });

  it('relaxes the limits by headroom', () => {
    const d = detector({ headroom: 0.2 }); // queue limit 6, kv limit 0.96
    const cands = candidates([{ waiting: 5 }, { waiting: 6 }, { kv: 0.95 }, { kv: 0.96 }]);
    assert.deepEqual(d.filter(request(), cands, new RequestState()), [cands[0], cands[2]]);
  });

  it('returns the same array when it removes nothing', () => {
    const cands = candidates([{}, {}]);
    assert.equal(detector().filter(request(), cands, new RequestState()), cands);
  });

  it('fails open: returns every candidate when all would be removed', () => {
    const cands = candidates([{ waiting: 50 }, { updatedAt: 0 }]);
    assert.equal(detector().filter(request(), cands, new RequestState()), cands);
  });

  it('uses the context clock for staleness', () => {
    const cands = candidates([{ updatedAt: NOW }, { updatedAt: NOW - 1500 }]);
    const d = detector({ metricsStalenessThreshold: '1s' }, NOW + 600);
    assert.deepEqual(d.filter(request(), cands, new RequestState()), [cands[0]]);
  });
});
