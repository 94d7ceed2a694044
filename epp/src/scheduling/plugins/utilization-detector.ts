// utilization-detector: the default saturation detector, and a Filter. It judges endpoints by
// their scraped metrics with a roofline model — an endpoint is as saturated as its most
// constrained resource:
//   endpoint score  = max(waitingQueue / queueDepthThreshold, kvCacheUsage / kvCacheUtilThreshold)
//   pool saturation = unweighted average of the endpoint scores over the candidates (≥ 1 = saturated;
//                     no candidates = 1).
// An endpoint whose metrics are older than metricsStalenessThreshold, or were never scraped, counts
// as fully saturated (score 1): traffic must not flow into an endpoint nobody can see.
// As a Filter it removes stale endpoints and endpoints at or over the relaxed limits
// threshold × (1 + headroom) (kept iff queue < limit and KV < limit); if that would remove every
// candidate it fails open and returns them all, so the scorers pick the least bad.
// Source: GIE v1.5.0 framework/plugins/flowcontrol/saturationdetector/utilization/{README.md,
// config.go,detector.go}; docs/configuration.md. A non-finite metric counts as saturated/stale.
// Parameters (defaults): queueDepthThreshold (5, integer > 0), kvCacheUtilThreshold (0.8, in (0, 1]),
// metricsStalenessThreshold ("200ms", Go duration > 0), headroom (0.0, ≥ 0).
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { Filter, SaturationDetector } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeNumber, positiveInt } from '../../framework/params.js';
import { parseGoDuration } from '../../framework/duration.js';

export const UTILIZATION_DETECTOR_TYPE = 'utilization-detector';

const KV_THRESHOLD = 'expected a number in (0, 1]';

/** A Go duration string > 0, parsed to milliseconds. */
export function positiveDuration(defaultText: string) {
  return z
    .string({ error: 'expected a Go duration string such as "200ms" or "1.5s"' })
    .transform((text, ctx) => {
      const parsed = parseGoDuration(text);
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', message: parsed.message });
        return z.NEVER;
      }
      if (!(parsed.ms > 0)) {
        ctx.addIssue({ code: 'custom', message: `expected a positive duration, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return parsed.ms;
    })
    .prefault(defaultText);
}

export const utilizationDetectorParameters = z.strictObject({
  queueDepthThreshold: positiveInt(5),
  kvCacheUtilThreshold: z
    .number({ error: KV_THRESHOLD })
    .gt(0, { error: KV_THRESHOLD })
    .lte(1, { error: KV_THRESHOLD })
    .default(0.8),
  /** Milliseconds after parsing. */
  metricsStalenessThreshold: positiveDuration('200ms'),
  headroom: nonNegativeNumber(0),
});
export type UtilizationDetectorParameters = z.output<typeof utilizationDetectorParameters>;

export interface UtilizationDetector extends Filter, SaturationDetector {
  readonly config: UtilizationDetectorParameters;
  /** The roofline score of one endpoint at time `now` (1 when stale). */
  endpointScore(candidate: Candidate, now: number): number;
}

export function createUtilizationDetector(
  name: string,
  config: UtilizationDetectorParameters,
  now: () => number,
): UtilizationDetector {
  const { queueDepthThreshold: qT, kvCacheUtilThreshold: kvT, metricsStalenessThreshold: staleMs, headroom } = config;
  const qLimit = qT * (1 + headroom);
  const kvLimit = kvT * (1 + headroom);

  const isFresh = (c: Candidate, t: number): boolean => {
    const at = c.metrics.updatedAt;
    return at > 0 && t - at <= staleMs;
  };

  const endpointScore = (c: Candidate, t: number): number => {
    if (!isFresh(c, t)) return 1;
    const score = Math.max(c.metrics.waitingRequests / qT, c.metrics.kvCacheUsage / kvT);
    return Number.isFinite(score) ? score : 1;
  };

  return {
    type: UTILIZATION_DETECTOR_TYPE,
    name,
    config,
    endpointScore,
    saturation(candidates, t) {
      const n = candidates.length;
      if (n === 0) return 1;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += endpointScore(candidates[i], t);
      return sum / n;
    },
    filter(_req, candidates) {
      const t = now();
      const n = candidates.length;
      let kept: Candidate[] | undefined;
      for (let i = 0; i < n; i++) {
        const c = candidates[i];
        const ok = isFresh(c, t) && c.metrics.waitingRequests < qLimit && c.metrics.kvCacheUsage < kvLimit;
        if (ok) {
          if (kept) kept.push(c);
        } else if (!kept) {
          kept = candidates.slice(0, i); // first removal: copy what was kept so far
        }
      }
      if (!kept) return candidates; // nothing removed
      return kept.length === 0 ? candidates : kept; // fail open when everything would go
    },
  };
}

export const utilizationDetectorPlugin = definePlugin({
  type: UTILIZATION_DETECTOR_TYPE,
  parameters: utilizationDetectorParameters,
  create(name, params, ctx): UtilizationDetector {
    if (params.headroom > 1) {
      ctx.logger.info({ plugin: name, headroom: params.headroom }, 'utilization-detector: unusually high headroom; it is a fraction (0.2 = 20%), not a percentage');
    }
    return createUtilizationDetector(name, params, ctx.now);
  },
});
