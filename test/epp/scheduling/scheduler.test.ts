// The scheduling cycle: filters in order with early stop, weighted sum of clamped scores,
// picker input, profile selection by route, typed failures, metrics, decision traces, and the
// latency budget of a decision at 64 endpoints.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Candidate } from '../../../epp/src/framework/endpoint.js';
import type { Filter, Picker, SchedulerProfileSpec, Scorer } from '../../../epp/src/framework/plugins.js';
import { Scheduler, primaryTargets } from '../../../epp/src/scheduling/scheduler.js';
import { SingleProfileHandler } from '../../../epp/src/scheduling/plugins/single-profile-handler.js';
import { queueScorerPlugin } from '../../../epp/src/scheduling/plugins/queue-scorer.js';
import { kvCacheUtilizationScorerPlugin } from '../../../epp/src/scheduling/plugins/kv-cache-utilization-scorer.js';
import { tokenLoadScorerPlugin } from '../../../epp/src/scheduling/plugins/token-load-scorer.js';
import { runningRequestsSizeScorerPlugin } from '../../../epp/src/scheduling/plugins/running-requests-size-scorer.js';
import { maxScorePickerPlugin } from '../../../epp/src/scheduling/plugins/max-score-picker.js';
import { utilizationDetectorPlugin } from '../../../epp/src/scheduling/plugins/utilization-detector.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import { createLogger, silentLogger } from '../../../epp/src/observability/logger.js';
import { candidates, close, context, make, request, seededRandom } from './helpers.js';

function constScorer(name: string, values: number[]): Scorer {
  return { type: 'const-scorer', name, score: (_r, c, _s, out) => c.forEach((_, i) => (out[i] = values[i])) };
}

/** Picks the first candidate and remembers the totals it was given. */
function recordingPicker(): Picker & { totals: number[][]; seen: Candidate[][] } {
  const totals: number[][] = [];
  const seen: Candidate[][] = [];
  return {
    type: 'recording-picker',
    name: 'recording-picker',
    totals,
    seen,
    pick(_r, cands, t) {
      totals.push(Array.from(t));
      seen.push([...cands]);
      return cands.length > 0 ? [cands[0]] : [];
    },
  };
}

function keepFilter(name: string, keep: (c: Candidate, i: number) => boolean, calls: string[] = []): Filter {
  return {
    type: 'test-filter',
    name,
    filter(_r, cands) {
      calls.push(name);
      return cands.filter(keep);
    },
  };
}

function scheduler(
  specs: SchedulerProfileSpec[],
  opts: { metrics?: EppMetrics; trace?: boolean; handler?: SingleProfileHandler } = {},
) {
  const profiles = new Map(specs.map((s) => [s.name, s]));
  return new Scheduler({
    profiles,
    profileHandler: opts.handler ?? new SingleProfileHandler('single-profile-handler'),
    logger: silentLogger(),
    metrics: opts.metrics,
    trace: opts.trace,
  });
}

describe('Scheduler', () => {
  it('sums weight × score over the scorers and hands the totals to the picker', () => {
    const picker = recordingPicker();
    const s = scheduler([
      {
        name: 'default',
        filters: [],
        scorers: [
          { scorer: constScorer('a', [1, 0.5, 0]), weight: 2 },
          { scorer: constScorer('b', [0, 0.5, 1]), weight: 3 },
        ],
        picker,
      },
    ]);
    const cands = candidates([{}, {}, {}]);
    const out = s.schedule(request(), cands);
    assert.equal(out.ok, true);
    assert.deepEqual(picker.totals[0], [2, 2.5, 3]);
  });

  it('clamps each score to [0, 1] and turns NaN into 0 before weighting', () => {
    const picker = recordingPicker();
    const s = scheduler([
      { name: 'default', filters: [], scorers: [{ scorer: constScorer('a', [-0.5, 1.7, NaN, 0.3, Infinity]), weight: 2 }], picker },
    ]);
    s.schedule(request(), candidates([{}, {}, {}, {}, {}]));
    assert.deepEqual(picker.totals[0], [0, 2, 0, 0.6, 2]);
  });

  it('gives each scorer a zeroed buffer even when reused', () => {
    const picker = recordingPicker();
    const silent: Scorer = { type: 'silent', name: 'silent', score() {} };
    const s = scheduler([
      { name: 'default', filters: [], scorers: [{ scorer: constScorer('a', [1, 1]), weight: 1 }, { scorer: silent, weight: 5 }], picker },
    ]);
    s.schedule(request(), candidates([{}, {}]));
    s.schedule(request(), candidates([{}, {}]));
    assert.deepEqual(picker.totals, [
      [1, 1],
      [1, 1],
    ]);
  });

  it('runs filters in order and scores only the survivors', () => {
    const calls: string[] = [];
    const picker = recordingPicker();
    const cands = candidates([{}, {}, {}, {}]);
    const s = scheduler([
      {
        name: 'default',
        filters: [keepFilter('f1', (_c, i) => i !== 0, calls), keepFilter('f2', (c) => c !== cands[2], calls)],
        scorers: [{ scorer: constScorer('a', [0.1, 0.2]), weight: 1 }],
        picker,
      },
    ]);
    const out = s.schedule(request(), cands);
    assert.deepEqual(calls, ['f1', 'f2']);
    assert.deepEqual(picker.seen[0], [cands[1], cands[3]]);
    assert.ok(out.ok && out.targets[0] === cands[1]);
  });

  it('stops at the filter that leaves nothing and fails with no-endpoint (429)', () => {
    const calls: string[] = [];
    const picker = recordingPicker();
    const s = scheduler([
      { name: 'default', filters: [keepFilter('none', () => false, calls), keepFilter('after', () => true, calls)], scorers: [], picker },
    ]);
    const out = s.schedule(request(), candidates([{}, {}]));
    assert.deepEqual(calls, ['none']);
    assert.equal(picker.totals.length, 0, 'picker must not run');
    assert.ok(!out.ok);
    assert.equal(out.reason, 'no-endpoint');
    assert.equal(out.status, 429);
  });

  it('fails with no-candidates (503) when there is nothing to schedule over', () => {
    const out = scheduler([{ name: 'default', filters: [], scorers: [], picker: recordingPicker() }]).schedule(request(), []);
    assert.ok(!out.ok);
    assert.equal(out.reason, 'no-candidates');
    assert.equal(out.status, 503);
  });

  it('returns a failure value, not a throw, when a plugin throws', () => {
    const boom: Scorer = {
      type: 'boom',
      name: 'boom',
      score() {
        throw new Error('kaboom');
      },
    };
    const out = scheduler([{ name: 'default', filters: [], scorers: [{ scorer: boom, weight: 1 }], picker: recordingPicker() }]).schedule(
      request(),
      candidates([{}]),
    );
    assert.ok(!out.ok);
    assert.equal(out.reason, 'no-endpoint');
    assert.equal(out.status, 500);
    assert.match(out.message, /kaboom/);
    assert.ok(out.error instanceof Error);
  });

  it('runs the profile the request selects (by route) and makes it primary', () => {
    const a = recordingPicker();
    const b = recordingPicker();
    const handler = new SingleProfileHandler('single-profile-handler');
    handler.setDefaultProfile('a');
    const s = scheduler(
      [
        { name: 'a', filters: [], scorers: [], picker: a },
        { name: 'b', filters: [], scorers: [], picker: b },
      ],
      { handler },
    );
    const cands = candidates([{}]);
    const viaRoute = s.schedule(request({ profile: 'b' }), cands);
    assert.ok(viaRoute.ok && viaRoute.result.primaryProfile === 'b');
    assert.equal(b.totals.length, 1);
    assert.equal(a.totals.length, 0);
    const viaDefault = s.schedule(request(), cands);
    assert.ok(viaDefault.ok && viaDefault.result.primaryProfile === 'a');
    assert.deepEqual(primaryTargets(viaDefault.result), cands);
  });

  it('combines real plugins as GIE does (queue 2 + kv 2, max-score)', () => {
    const ctx = context();
    const s = scheduler([
      {
        name: 'default',
        filters: [],
        scorers: [
          { scorer: make<Scorer>(queueScorerPlugin, {}, ctx), weight: 2 },
          { scorer: make<Scorer>(kvCacheUtilizationScorerPlugin, {}, ctx), weight: 2 },
        ],
        picker: make<Picker>(maxScorePickerPlugin, {}, ctx),
      },
    ], { trace: true });
    // queue: [1, 0, 0.5]; kv: [0.1, 0.9, 0.6] → totals 2.2, 1.8, 2.2 → tie between 0 and 2.
    const cands = candidates([{ waiting: 0, kv: 0.9 }, { waiting: 4, kv: 0.1 }, { waiting: 2, kv: 0.4 }]);
    const out = s.schedule(request(), cands);
    assert.ok(out.ok);
    assert.ok(out.targets[0] === cands[0] || out.targets[0] === cands[2]);
    const totals = out.trace!.profiles[0].candidates.map((c) => c.total);
    assert.ok(close(totals[0], 2.2) && close(totals[1], 1.8) && close(totals[2], 2.2), `totals ${totals}`);
  });

  it('records GIE scheduler metrics with reused label children (attempts only when asked)', async () => {
    const metrics = new EppMetrics();
    const ctx = context();
    const s = scheduler(
      [
        {
          name: 'default',
          filters: [make<Filter>(utilizationDetectorPlugin, {}, ctx)],
          scorers: [{ scorer: make<Scorer>(queueScorerPlugin, {}, ctx), weight: 1 }],
          picker: make<Picker>(maxScorePickerPlugin, {}, ctx),
        },
      ],
      { metrics },
    );
    const cands = candidates([{ podName: 'pod-a', namespace: 'ns1', key: '10.1.1.1:8000' }]);
    s.schedule(request({ targetModel: 'llama' }), cands);
    s.schedule(request({ targetModel: 'llama' }), cands);
    const text = await metrics.registry.metrics();
    assert.match(text, /inference_extension_scheduler_e2e_duration_seconds_count 2/);
    for (const [ep, type, name] of [
      ['Filter', 'utilization-detector', 'utilization-detector'],
      ['Scorer', 'queue-scorer', 'queue-scorer'],
      ['Picker', 'max-score-picker', 'max-score-picker'],
      ['ProfilePicker', 'single-profile-handler', 'single-profile-handler'],
      ['ProcessProfilesResults', 'single-profile-handler', 'single-profile-handler'],
    ]) {
      const line = `inference_extension_plugin_duration_seconds_count{extension_point="${ep}",plugin_type="${type}",plugin_name="${name}"}`;
      assert.ok(text.includes(line), `missing ${line}`);
    }
    assert.match(
      text,
      /inference_extension_scheduler_attempts_total\{status="success",target_model_name="llama",pod_name="pod-a",namespace="ns1",port="8000"\} 2/,
    );
    s.schedule(request({ targetModel: 'llama' }), []); // no candidates: not an attempt
    const fail = scheduler([{ name: 'default', filters: [keepFilter('none', () => false)], scorers: [], picker: recordingPicker() }], {
      metrics,
    });
    fail.schedule(request({ targetModel: 'llama' }), cands);
    const after = await metrics.registry.metrics();
    assert.match(after, /inference_extension_scheduler_attempts_total\{status="failure",target_model_name="llama",pod_name="",namespace="",port=""\} 1/);
    // Counted once per cycle, by the scheduler alone.
    const once = new EppMetrics();
    scheduler([{ name: 'default', filters: [], scorers: [], picker: recordingPicker() }], { metrics: once }).schedule(request(), cands);
    assert.match(await once.registry.metrics(), /inference_extension_scheduler_attempts_total\{status="success"[^}]*\} 1\n/);
  });
});

describe('decision trace', () => {
  const spec = (): SchedulerProfileSpec => {
    return {
      name: 'default',
      filters: [keepFilter('drop-first', (_c, i) => i !== 0)],
      scorers: [
        { scorer: constScorer('s1', [0.5, 2]), weight: 2 },
        { scorer: constScorer('s2', [1, NaN]), weight: 1 },
      ],
      picker: recordingPicker(),
    };
  };

  it('records filters, raw scores, weights, totals and targets', () => {
    const s = scheduler([spec()], { trace: true });
    const cands = candidates([{ key: '10.9.9.1:80' }, { key: '10.9.9.2:80' }, { key: '10.9.9.3:80' }]);
    const out = s.schedule(request({ requestId: 'r-42' }), cands);
    assert.ok(out.ok);
    const trace = out.trace!;
    assert.equal(trace.requestId, 'r-42');
    assert.equal(trace.outcome, 'success');
    assert.equal(trace.primaryProfile, 'default');
    const p = trace.profiles[0];
    assert.deepEqual(p.filters, [{ name: 'drop-first', type: 'test-filter', before: 3, after: 2 }]);
    assert.deepEqual(p.scorers, [
      { name: 's1', type: 'const-scorer', weight: 2 },
      { name: 's2', type: 'const-scorer', weight: 1 },
    ]);
    assert.equal(p.candidates[0].key, '10.9.9.2:80');
    assert.deepEqual(p.candidates[0].scores, { s1: 0.5, s2: 1 });
    assert.equal(p.candidates[0].total, 2); // 2×0.5 + 1×1
    assert.equal(p.candidates[1].scores.s1, 2); // raw, before clamping
    assert.ok(Number.isNaN(p.candidates[1].scores.s2));
    assert.equal(p.candidates[1].total, 2); // 2×1 + 1×0
    assert.deepEqual(p.targets, ['10.9.9.2:80']);
  });

  it('is logged at debug level with the request id, and not built otherwise', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const cands = candidates([{}, {}]);
    const debug = new Scheduler({
      profiles: new Map([['default', spec()]]),
      profileHandler: new SingleProfileHandler('h'),
      logger: createLogger('debug', sink),
    });
    const out = debug.schedule(request({ requestId: 'r-7' }), cands);
    assert.ok(out.trace);
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'scheduling decision');
    assert.equal(logged?.requestId, 'r-7');
    assert.equal(logged?.decision.profiles[0].profile, 'default');

    const quiet = new Scheduler({
      profiles: new Map([['default', spec()]]),
      profileHandler: new SingleProfileHandler('h'),
      logger: createLogger('info', sink),
    });
    assert.equal(quiet.schedule(request(), cands).trace, undefined);
  });
});

describe('scheduler latency', () => {
  it('decides among 64 endpoints with 4 scorers in well under 100 µs', () => {
    const random = seededRandom(1);
    const ctx = context({ random });
    const metrics = new EppMetrics();
    const s = scheduler(
      [
        {
          name: 'default',
          filters: [make<Filter>(utilizationDetectorPlugin, { queueDepthThreshold: 1000 }, ctx)],
          scorers: [
            { scorer: make<Scorer>(queueScorerPlugin, {}, ctx), weight: 2 },
            { scorer: make<Scorer>(kvCacheUtilizationScorerPlugin, {}, ctx), weight: 2 },
            { scorer: make<Scorer>(runningRequestsSizeScorerPlugin, {}, ctx), weight: 1 },
            { scorer: make<Scorer>(tokenLoadScorerPlugin, {}, ctx), weight: 1 },
          ],
          picker: make<Picker>(maxScorePickerPlugin, {}, ctx),
        },
      ],
      { metrics },
    );
    const cands = candidates(
      Array.from({ length: 64 }, () => ({
        waiting: Math.floor(random() * 10),
        running: Math.floor(random() * 50),
        kv: random() * 0.7,
        inflightTokens: Math.floor(random() * 100_000),
      })),
    );
    const req = request();
    for (let i = 0; i < 2000; i++) s.schedule(req, cands); // warm up the JIT
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const out = s.schedule(req, cands);
      if (!out.ok) assert.fail('decision failed');
    }
    const perDecisionUs = ((performance.now() - t0) * 1000) / n;
    assert.ok(perDecisionUs < 100, `a decision took ${perDecisionUs.toFixed(1)} µs on average`);
  });
});
