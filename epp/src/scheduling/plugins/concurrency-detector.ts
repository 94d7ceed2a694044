// concurrency-detector: a saturation detector and Filter driven by the EPP's own in-flight
// accounting (Candidate.inflight) instead of scraped metrics, so it reacts to a burst before the
// next scrape (open loop: it cannot see KV pressure).
//   requests mode: pool saturation = Σ inflight requests / (n × maxConcurrency)
//   tokens mode:   pool saturation = Σ inflight tokens   / (n × maxTokenConcurrency)
//   hybrid mode:   the larger of the two (llm-d's router: a pool is full when it runs out of
//                  either slots or token budget — many short or a few long requests)
//   (no candidates = 1). As a Filter it keeps endpoints whose in-flight load is strictly below
//   trunc(capacity × (1 + headroom)); unlike utilization-detector it does NOT fail open — when
//   every endpoint is full the profile finds no endpoint (the request gets 429).
// Source: GIE v1.5.0 framework/plugins/flowcontrol/saturationdetector/concurrency/{README.md,
// config.go,detector.go}; docs/configuration.md.
// Parameters (defaults): concurrencyMode ("requests" | "tokens", "requests"), maxConcurrency (100,
// integer > 0), maxTokenConcurrency (1000000, integer > 0), headroom (0.0, ≥ 0).
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { Filter, SaturationDetector } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeNumber, positiveInt } from '../../framework/params.js';

export const CONCURRENCY_DETECTOR_TYPE = 'concurrency-detector';

export const concurrencyDetectorParameters = z.strictObject({
  concurrencyMode: z.enum(['requests', 'tokens', 'hybrid'], { error: 'expected "requests", "tokens" or "hybrid"' }).default('requests'),
  maxConcurrency: positiveInt(100),
  maxTokenConcurrency: positiveInt(1_000_000),
  headroom: nonNegativeNumber(0),
});
export type ConcurrencyDetectorParameters = z.output<typeof concurrencyDetectorParameters>;

export interface ConcurrencyDetector extends Filter, SaturationDetector {
  readonly config: ConcurrencyDetectorParameters;
}

export function createConcurrencyDetector(name: string, config: ConcurrencyDetectorParameters): ConcurrencyDetector {
  // Load as a fraction of one endpoint's capacity, in the configured mode.
  const requests = (c: Candidate) => c.inflight.requests / config.maxConcurrency;
  const tokens = (c: Candidate) => c.inflight.tokens / config.maxTokenConcurrency;
  const load =
    config.concurrencyMode === 'requests' ? requests : config.concurrencyMode === 'tokens' ? tokens : (c: Candidate) => Math.max(requests(c), tokens(c));
  // The filter's bound in each unit, as GIE truncates it: load < trunc(capacity × (1 + headroom)).
  const requestLimit = Math.trunc(config.maxConcurrency * (1 + config.headroom));
  const tokenLimit = Math.trunc(config.maxTokenConcurrency * (1 + config.headroom));
  const under =
    config.concurrencyMode === 'requests'
      ? (c: Candidate) => c.inflight.requests < requestLimit
      : config.concurrencyMode === 'tokens'
        ? (c: Candidate) => c.inflight.tokens < tokenLimit
        : (c: Candidate) => c.inflight.requests < requestLimit && c.inflight.tokens < tokenLimit;
  return {
    type: CONCURRENCY_DETECTOR_TYPE,
    name,
    config,
    saturation(candidates) {
      const n = candidates.length;
      if (n === 0) return 1;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += load(candidates[i]);
      return sum / n;
    },
    filter(_req, candidates) {
      const n = candidates.length;
      let kept: Candidate[] | undefined;
      for (let i = 0; i < n; i++) {
        const c = candidates[i];
        if (under(c)) {
          if (kept) kept.push(c);
        } else if (!kept) {
          kept = candidates.slice(0, i);
        }
      }
      return kept ?? candidates;
    },
  };
}

export const concurrencyDetectorPlugin = definePlugin({
  type: CONCURRENCY_DETECTOR_TYPE,
  parameters: concurrencyDetectorParameters,
  create(name, params, ctx): ConcurrencyDetector {
    if (params.headroom > 1) {
      ctx.logger.info({ plugin: name, headroom: params.headroom }, 'concurrency-detector: unusually high headroom; it is a fraction (0.2 = 20%), not a percentage');
    }
    return createConcurrencyDetector(name, params);
  },
});
