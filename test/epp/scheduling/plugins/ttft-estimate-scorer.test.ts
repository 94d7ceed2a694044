// ttft-estimate-scorer and its model (scheduling/latency/ttft-model.ts): the learned coefficients
// find the cost a server really has (prefill per token, whether queued prefills delay a request,
// the slot wait), stay at their priors without data or with learning off; the scorer ranks a
// warm endpoint first until the queue in front of it costs more than the prefill it saves, keeps
// the EPP's own backlog of not-yet-started prefills per endpoint, and learns only from streamed
// responses served where it routed them. prefix-cache-affinity-filter's `ttftEstimateScorer`
// source reads the same estimates.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { TtftModel } from '../../../../epp/src/scheduling/latency/ttft-model.js';
import { ttftEstimateScorerPlugin, type TtftEstimateScorer } from '../../../../epp/src/scheduling/plugins/ttft-estimate-scorer.js';
import { prefixCacheAffinityFilterPlugin } from '../../../../epp/src/scheduling/plugins/prefix-cache-affinity-filter.js';
import { publishMatch } from '../../../../epp/src/prefix/plugin-support.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';
import { EppMetrics } from '../../../../epp/src/observability/metrics.js';
import { EMPTY_METRICS, type Candidate } from '../../../../epp/src/framework/endpoint.js';
import type { PrecisePrefixCacheScorer } from '../../../../epp/src/scheduling/plugins/precise-prefix-cache-scorer.js';
import type { Datastore } from '../../../../epp/src/datastore/datastore.js';
import type { Filter, ReferencingPlugin } from '../../../../epp/src/framework/plugins.js';
import type { RoutedRequest } from '../../../../epp/src/framework/request-lifecycle.js';
import { candidate, context, make, request, seededRandom } from '../helpers.js';
import { docsExample, pipeline } from '../../prefix/keys/pipeline.js';

const OPTS = { prefillMsPerToken: 0.1, overheadMs: 10, window: 400, minObservations: 20, refreshEvery: 5, learn: true };

describe('TtftModel', () => {
  it('learns a server whose prefills run side by side: per-token cost found, backlog coefficient near 0', () => {
    const m = new TtftModel(OPTS);
    const r = seededRandom(1);
    for (let i = 0; i < 400; i++) {
      const uncached = r() * 2000;
      const backlog = r() * 4000;
      const slot = r() < 0.3 ? r() * 2000 : 0;
      m.observe(uncached, backlog, slot, 20 + 2 * uncached + slot + (r() - 0.5) * 20);
    }
    const [c0, c1, c2, c3] = m.coefficients();
    assert.ok(Math.abs(c1 - 2) < 0.1, `per-token ${c1} for 2`);
    assert.ok(c2 < 0.1, `backlog ${c2} for 0`);
    assert.ok(Math.abs(c3 - 1) < 0.1, `slot wait ${c3} for 1`);
    assert.ok(c0 >= 0 && c0 < 60, `overhead ${c0} for 20`);
    assert.ok(Math.abs(m.estimate(1000, 0, 0) - 2020) < 150);
  });

  it('learns a server that prefills one batch at a time (backlog costs as much as the own prompt)', () => {
    const m = new TtftModel(OPTS);
    const r = seededRandom(2);
    for (let i = 0; i < 400; i++) {
      const uncached = r() * 2000;
      const backlog = r() * 4000;
      m.observe(uncached, backlog, 0, 5 + 0.5 * (uncached + backlog));
    }
    const [, c1, c2] = m.coefficients();
    assert.ok(Math.abs(c1 - 0.5) < 0.05 && Math.abs(c2 - 0.5) < 0.05, `c1 ${c1}, c2 ${c2}`);
  });

  it('pins a coefficient the data would make negative at 0 and keeps the priors without data or learning', () => {
    const m = new TtftModel(OPTS);
    const r = seededRandom(3);
    for (let i = 0; i < 200; i++) {
      const backlog = r() * 4000;
      const uncached = r() * 1000;
      m.observe(uncached, backlog, 0, Math.max(0, 3000 + uncached - 0.5 * backlog));
    }
    assert.equal(m.coefficients()[2], 0);
    assert.ok(m.coefficients().every((c) => c >= 0));
    assert.deepEqual(Array.from(new TtftModel(OPTS).coefficients()), [10, 0.1, 0.1, 1]);
    const off = new TtftModel({ ...OPTS, learn: false });
    for (let i = 0; i < 100; i++) off.observe(100, 0, 0, 5000);
    assert.deepEqual(Array.from(off.coefficients()), [10, 0.1, 0.1, 1]);
    assert.equal(off.observationCount(), 0);
  });

  it('ignores nonsense observations', () => {
    const m = new TtftModel({ ...OPTS, minObservations: 1, refreshEvery: 1 });
    m.observe(100, 0, 0, NaN);
    m.observe(100, 0, 0, -5);
    m.observe(100, 0, 0, Infinity);
    assert.equal(m.observationCount(), 0);
    m.observeDecode(NaN);
    assert.equal(m.meanDecodeMs(123), 123);
  });
});

/**
 * A request whose prompt the prefix plugin matched `matchedBlocks` blocks of, per candidate; with
 * `heldBlocks`, a plugin that also knows how many blocks each candidate holds (the precise index).
 */
function stateWithMatch(promptTokens: number, matchedBlocks: number[], blockSize = 16, heldBlocks?: number[]): RequestState {
  const state = new RequestState();
  publishMatch(state, {
    plugin: 'prefix',
    blockSize,
    totalBlocks: Math.ceil(promptTokens / blockSize),
    promptTokens,
    tokensExact: true,
    matched: () => Float64Array.from(matchedBlocks),
    ...(heldBlocks ? { heldBlocks: () => Float64Array.from(heldBlocks) } : {}),
  });
  return state;
}

/** A candidate whose server reports a KV cache of `kvBlocks` blocks of 16 tokens. */
function withKv(c: Candidate, kvBlocks: number): Candidate {
  return { ...c, metrics: { ...c.metrics, cacheNumBlocks: kvBlocks, cacheBlockSize: 16 } };
}

function score(s: TtftEstimateScorer, cands: readonly Candidate[], state: RequestState): number[] {
  const out = new Float64Array(cands.length);
  s.score(request(), cands, state, out);
  return Array.from(out);
}

function routed(state: RequestState, endpoint: string, routedAt: number): RoutedRequest {
  return { requestId: 'r', incomingModel: 'm', hasBody: true, targetModel: 'm', priority: 0, fairnessId: 'f', inflightTokens: 0, requestBytes: 0, endpoint, routedAt, state };
}

describe('ttft-estimate-scorer', () => {
  it('prefers the endpoint holding the prefix while it is free, and a cold one once the warm one must queue', () => {
    // 2 ms a token (peak 500 tokens/s), 20 ms overhead: 2,000 tokens cold ≈ 4 s, warm (1,600 cached) ≈ 0.8 s.
    const s = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 500, slotCapacity: 4, decodeMsPrior: 2000 });
    const warm = candidate({ key: '10.9.0.1:8000' });
    const cold = candidate({ key: '10.9.0.2:8000' });
    const [w, c] = score(s, [warm, cold], stateWithMatch(2000, [100, 0]));
    assert.equal(w, 1);
    assert.ok(c < 0.3, `cold ${c}`);
    // The warm one is full (4 running) with 8 waiting: 9 × 2 s ÷ 4 = 4.5 s of slot wait > the 3.2 s it saves.
    const busyWarm = candidate({ key: '10.9.0.1:8000', running: 4, waiting: 8 });
    const [w2, c2] = score(s, [busyWarm, cold], stateWithMatch(2000, [100, 0]));
    assert.equal(c2, 1);
    assert.ok(w2 < 1, `busy warm ${w2}`);
  });

  it('charges what a placement evicts: a prompt no server holds goes to the one with room, not the full one', () => {
    // 2 ms a token, learning off. An 800-token prompt (50 blocks), cached nowhere; a holds 100 of
    // its 100 blocks, b 20 of 100. Equal TTFT estimates, but on a it pushes out 50 cached blocks
    // while b would be 70% full after it: a pays (1 − 0.7) × 50 × 16 × 2 ms = 480 ms, b nothing.
    const s = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 500, learn: false });
    const a = withKv(candidate({ key: '10.9.5.1:8000' }), 100);
    const b = withKv(candidate({ key: '10.9.5.2:8000' }), 100);
    const state = stateWithMatch(800, [0, 0], 16, [100, 20]);
    const [sa, sb] = score(s, [a, b], state);
    assert.equal(sb, 1);
    const est = s.estimateTtftMs([a, b], new RequestState(), 800, Float64Array.of(0, 0), 16);
    assert.equal(est[0], est[1], 'the TTFT estimates themselves are equal');
    assert.ok(Math.abs(sa - est[0] / (est[0] + 480)) < 1e-9, `a ${sa}`);
    assert.deepEqual(state.notes()?.['ttft-estimate-scorer.evictionMs'], [480, 0]);
    // b fuller (40 of 100: 90% after): a still pays for the 10% difference.
    const [sa2, sb2] = score(s, [a, b], stateWithMatch(800, [0, 0], 16, [100, 40]));
    assert.equal(sb2, 1);
    assert.ok(sa2 < 1);
    // Both full: evicting is the price of either, no charge, a tie.
    assert.deepEqual(score(s, [a, b], stateWithMatch(800, [0, 0], 16, [100, 100])), [1, 1]);
    // evictionWeight 0, or a plugin that does not know what servers hold, or servers that do not
    // report their KV size: the estimate alone, a tie.
    const off = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 500, learn: false, evictionWeight: 0 });
    assert.deepEqual(score(off, [a, b], stateWithMatch(800, [0, 0], 16, [100, 20])), [1, 1]);
    assert.deepEqual(score(s, [a, b], stateWithMatch(800, [0, 0])), [1, 1]);
    assert.deepEqual(score(s, [candidate({ key: '10.9.5.1:8000' }), candidate({ key: '10.9.5.2:8000' })], stateWithMatch(800, [0, 0], 16, [100, 20])), [1, 1]);
  });

  it('a full server holding the prefix still beats a cold one with room when the hit saves more than it evicts', () => {
    const s = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 500, learn: false });
    const warmFull = withKv(candidate({ key: '10.9.6.1:8000' }), 100);
    const coldRoomy = withKv(candidate({ key: '10.9.6.2:8000' }), 100);
    // 45 of 50 blocks cached on the full one: 5 new blocks on a full cache while the other would be
    // half full (5 × 16 × 2 ms × 0.5 = 80 ms); the cold one: 1.6 s of prefill.
    const [w, c] = score(s, [warmFull, coldRoomy], stateWithMatch(800, [45, 0], 16, [100, 0]));
    assert.equal(w, 1);
    assert.ok(c < 0.5, `cold ${c}`);
  });

  it('counts the prefill it already sent to an endpoint until the first token comes back', () => {
    const s = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 1000, learn: false });
    const a = candidate({ key: '10.9.1.1:8000' });
    const b = candidate({ key: '10.9.1.2:8000' });
    const st1 = stateWithMatch(3000, [0, 0]);
    score(s, [a, b], st1);
    const r1 = routed(st1, a.endpoint.key, 0);
    s.requestRouted(r1);
    // A second identical request: a now has 3,000 tokens queued in front (c2 = 1 ms/token prior).
    const est = s.estimateTtftMs([a, b], new RequestState(), 3000, undefined, 16);
    assert.ok(est[0] > est[1] + 2500, `a ${est[0]} b ${est[1]}`);
    s.responseReceived(r1, new Map([[':status', '200'], ['content-type', 'text/event-stream']]));
    s.responseStreaming(r1, Buffer.from('data: {}\n\n'), false);
    const after = s.estimateTtftMs([a, b], new RequestState(), 3000, undefined, 16);
    assert.equal(after[0], after[1]);
  });

  it('learns from streamed first tokens where it routed, not from whole JSON bodies or fallbacks', () => {
    let now = 0;
    const ctx = { ...context(), now: () => now };
    const s = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { minObservations: 1 }, ctx);
    const a = candidate({ key: '10.9.2.1:8000' });
    const one = (contentType: string, fallbackTo?: string) => {
      const st = stateWithMatch(1000, [0]);
      score(s, [a], st);
      const r = routed(st, a.endpoint.key, now);
      s.requestRouted(r);
      if (fallbackTo) s.endpointServed(r, fallbackTo);
      s.responseReceived(r, new Map([['content-type', contentType]]));
      now += 700;
      s.responseStreaming(r, Buffer.from('x'), false);
      now += 300;
      s.responseComplete(r, 'complete');
    };
    one('application/json');
    assert.equal(s.model.observationCount(), 0);
    const fallback = candidate({ key: '10.9.2.2:8000' });
    (ctx.datastore as Datastore).upsertEndpoint(fallback.endpoint);
    one('text/event-stream', fallback.endpoint.key);
    assert.equal(s.model.observationCount(), 0, 'a fallback served: the features were the first choice\'s');
    one('text/event-stream');
    assert.equal(s.model.observationCount(), 1);
    assert.equal(s.model.meanDecodeMs(0), 300);
  });

  it('feeds prefix-cache-affinity-filter: stickiness breaks when the learned estimates say the warm endpoint is slower', () => {
    const est = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 500, slotCapacity: 2, decodeMsPrior: 3000 });
    const f = make<Filter & ReferencingPlugin>(prefixCacheAffinityFilterPlugin, { ttftSource: 'ttftEstimateScorer', maxTTFTPenaltyMs: 1000 });
    assert.deepEqual(f.resolveReferences({ plugin: (n) => (n === 'ttft-estimate-scorer' ? est : undefined), profiles: new Set() }), []);
    const warm = candidate({ key: '10.9.3.1:8000' });
    const cold = candidate({ key: '10.9.3.2:8000' });
    assert.deepEqual(f.filter(request(), [warm, cold], stateWithMatch(2000, [125, 0])), [warm]);
    const full = candidate({ key: '10.9.3.1:8000', running: 2, waiting: 6 }); // 7 × 3 s ÷ 2 = 10.5 s of slot wait
    assert.deepEqual(f.filter(request(), [full, cold], stateWithMatch(2000, [125, 0])), [full, cold]);
  });

  it('shows its model in metrics while started: coefficients, observations, observed ÷ estimated', async () => {
    const metrics = new EppMetrics();
    let now = 0;
    const s = make<TtftEstimateScorer>(ttftEstimateScorerPlugin, { peakPrefillThroughput: 1000 }, { ...context(), metrics, now: () => now });
    await s.start();
    const a = candidate({ key: '10.9.4.1:8000' });
    const st = stateWithMatch(980, [0]);
    score(s, [a], st); // estimate 20 + 980 × 1 = 1,000 ms
    const r = routed(st, a.endpoint.key, 0);
    s.requestRouted(r);
    s.responseReceived(r, new Map([['content-type', 'text/event-stream']]));
    now = 2000;
    s.responseStreaming(r, Buffer.from('x'), false);
    const text = await metrics.registry.metrics();
    assert.match(text, /tokenroute_ttft_estimate_coefficient\{plugin="ttft-estimate-scorer",term="prefill_ms_per_token"\} 1\n/);
    assert.match(text, /tokenroute_ttft_estimate_coefficient\{plugin="ttft-estimate-scorer",term="observations"\} 1\n/);
    assert.match(text, /tokenroute_ttft_estimate_observed_ratio_bucket\{le="1.25"\} 0\n/);
    assert.match(text, /tokenroute_ttft_estimate_observed_ratio_bucket\{le="2"\} 1\n/);
    await s.close();
    assert.doesNotMatch(await metrics.registry.metrics(), /tokenroute_ttft_estimate_coefficient\{/);
  });

  it('reports a missing or wrong estimator by its field', () => {
    const f = make<Filter & ReferencingPlugin>(prefixCacheAffinityFilterPlugin, { ttftSource: 'ttftEstimateScorer', ttftEstimatorName: 'est' });
    assert.deepEqual(f.resolveReferences({ plugin: () => undefined, profiles: new Set() }).map((i) => [i.path, i.kind]), [[['ttftEstimatorName'], 'undefined']]);
    const notOne = { type: 'queue-scorer', name: 'est' };
    assert.deepEqual(f.resolveReferences({ plugin: () => notOne, profiles: new Set() }).map((i) => [i.path, i.kind]), [[['ttftEstimatorName'], 'wrong-kind']]);
    assert.equal(ttftEstimateScorerPlugin.parameters.safeParse({ peakPrefillThroughput: 0 }).success, false);
    assert.equal(ttftEstimateScorerPlugin.parameters.safeParse({ window: 2 }).success, false);
    assert.equal(ttftEstimateScorerPlugin.parameters.safeParse({ bogus: 1 }).success, false);
  });
});

describe('docs/configuration.md ttft-estimate-scorer example', () => {
  it('loads as written and scores with the estimate', async () => {
    const p = await pipeline(docsExample('- type: ttft-estimate-scorer'), [{ address: '127.0.6.9', port: 8000 }]);
    try {
      const plugin = p.config.plugins.get('ttft-estimate-scorer');
      assert.equal(plugin?.type, 'ttft-estimate-scorer');
      assert.deepEqual(p.config.profiles.get('default')!.scorers.map((s) => [s.scorer.name, s.weight]), [['precise-prefix-cache-scorer', 0], ['ttft-estimate-scorer', 1]]);
    } finally {
      await p.close();
    }
  });

  it('sends prompts no server holds to the server whose cache has room (what the precise index holds × the KV size the server reports)', async () => {
    const eps = [{ address: '127.0.6.10', port: 8000 }, { address: '127.0.6.11', port: 8000 }];
    const p = await pipeline(docsExample('- type: ttft-estimate-scorer'), eps);
    try {
      const [full, roomy] = eps.map((e) => `${e.address}:${e.port}`);
      for (const key of [full, roomy]) p.datastore.updateMetrics(key, { ...EMPTY_METRICS, cacheNumBlocks: 64, cacheBlockSize: 16, updatedAt: Date.now() });
      // The full server's KV events said it stored 64 blocks (of other prompts): its cache is full.
      const index = p.plugin<PrecisePrefixCacheScorer>('precise-prefix-cache-scorer').index.index;
      const id = index.endpointId(full);
      for (let b = 1; b <= 64; b++) index.add(b, 0xabc, id);
      const chosen = [];
      for (let i = 0; i < 8; i++) chosen.push(await p.route('/v1/completions', { model: 'Qwen/Qwen3-32B', prompt: `cold prompt ${i} `.repeat(40), max_tokens: 1 }));
      // Equal TTFT estimates (both cold, idle): without the charge each would be a coin toss.
      assert.deepEqual(chosen, Array(8).fill(roomy));
    } finally {
      await p.close();
    }
  });
});
