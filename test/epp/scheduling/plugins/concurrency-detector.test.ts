// concurrency-detector: aggregate in-flight / aggregate capacity in requests and tokens mode,
// the Filter's truncated relaxed limit, and no fail-open.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import {
  concurrencyDetectorPlugin,
  type ConcurrencyDetector,
} from '../../../../epp/src/scheduling/plugins/concurrency-detector.js';
import { NOW, candidates, make, request } from '../helpers.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';

const detector = (params: unknown = {}) => make<ConcurrencyDetector>(concurrencyDetectorPlugin, params);

describe('concurrency-detector', () => {
  it('defaults to requests mode with GIE capacities', () => {
    assert.deepEqual(concurrencyDetectorPlugin.parameters.parse({}), {
      concurrencyMode: 'requests',
      maxConcurrency: 100,
      maxTokenConcurrency: 1_000_000,
      headroom: 0,
    });
  });

  it('computes Σ in-flight requests / (n × maxConcurrency)', () => {
    const d = detector();
    assert.equal(d.saturation(candidates([{ inflightRequests: 50 }, { inflightRequests: 150 }]), NOW), 1);
    assert.equal(d.saturation(candidates([{ inflightRequests: 10 }, { inflightRequests: 30 }]), NOW), 0.2);
    assert.equal(d.saturation([], NOW), 1);
  });

  it('computes Σ in-flight tokens / (n × maxTokenConcurrency) in tokens mode', () => {
    const d = detector({ concurrencyMode: 'tokens', maxTokenConcurrency: 1000 });
    assert.equal(d.saturation(candidates([{ inflightTokens: 500, inflightRequests: 999 }, { inflightTokens: 1000 }]), NOW), 0.75);
  });

  it('hybrid mode: an endpoint is as full as the fuller of its slots and its token budget', () => {
    const d = detector({ concurrencyMode: 'hybrid', maxConcurrency: 10, maxTokenConcurrency: 1000 });
    // Endpoint 0: 2 of 10 slots but 800 of 1000 tokens (a few long prompts) → 0.8;
    // endpoint 1: 6 of 10 slots, 100 tokens (many short ones) → 0.6. Pool: (0.8 + 0.6) / 2.
    const cands = candidates([{ inflightRequests: 2, inflightTokens: 800 }, { inflightRequests: 6, inflightTokens: 100 }, { inflightRequests: 1, inflightTokens: 1000 }]);
    assert.equal(d.saturation(cands.slice(0, 2), NOW), 0.7);
    // As a filter: under both bounds; the third is out of token budget.
    assert.deepEqual(d.filter(request(), cands, new RequestState()), [cands[0], cands[1]]);
  });

  it('keeps endpoints strictly below capacity × (1 + headroom), truncated', () => {
    const d = detector({ maxConcurrency: 10, headroom: 0.25 }); // limit trunc(12.5) = 12
    const cands = candidates([{ inflightRequests: 11 }, { inflightRequests: 12 }, { inflightRequests: 0 }]);
    assert.deepEqual(d.filter(request(), cands, new RequestState()), [cands[0], cands[2]]);
  });

  it('filters on tokens in tokens mode', () => {
    const d = detector({ concurrencyMode: 'tokens', maxTokenConcurrency: 100 });
    const cands = candidates([{ inflightTokens: 99, inflightRequests: 500 }, { inflightTokens: 100 }]);
    assert.deepEqual(d.filter(request(), cands, new RequestState()), [cands[0]]);
  });

  it('does not fail open: every endpoint full leaves none', () => {
    const d = detector({ maxConcurrency: 1 });
    assert.deepEqual(d.filter(request(), candidates([{ inflightRequests: 1 }, { inflightRequests: 3 }]), new RequestState()), []);
  });

  it('rejects an unknown mode and non-positive capacities', () => {
    assert.match(concurrencyDetectorPlugin.parameters.safeParse({ concurrencyMode: 'bytes' }).error!.issues[0].message, /"requests", "tokens" or "hybrid"/);
    assert.equal(concurrencyDetectorPlugin.parameters.safeParse({ maxConcurrency: 0 }).success, false);
    assert.equal(concurrencyDetectorPlugin.parameters.safeParse({ maxTokenConcurrency: -1 }).success, false);
  });
});
