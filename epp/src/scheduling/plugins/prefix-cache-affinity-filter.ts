// prefix-cache-affinity-filter — llm-d's "sticky until saturated" filter. It keeps only the
// endpoints whose prefix-cache score (matched blocks ÷ request blocks, from a prefix plugin in the
// same profile: prefix-cache-scorer or precise-prefix-cache-scorer) reaches affinityThreshold, so
// a request sticks to where its prefix is cached; the scorers after it (token-load-scorer) then
// pick the least loaded of those. Stickiness breaks — every endpoint is kept — when the best warm
// endpoint's estimated TTFT exceeds the best cold one's by more than maxTTFTPenaltyMs, with
// TTFT ≈ (in-flight tokens + uncached prompt tokens) ÷ peakPrefillThroughput, so a hot prefix
// does not pile onto a saturated server. With explorationProbability a request skips the filter.
// When no prefix plugin published a match, or no endpoint is warm, everything is kept.
// Parameters (llm-d router Aug 2026 defaults): affinityThreshold (0.80), explorationProbability
// (0), maxTTFTPenaltyMs (18000), ttftSource ("prefillThroughput"; "latencyPredictor" is not
// available in tokenroute), peakPrefillThroughput (15928 tokens/s); tokenroute: prefixPluginName
// (which prefix plugin's match to use; default the first that published one), and ttftSource
// "ttftEstimateScorer": the TTFTs come from a ttft-estimate-scorer (ttftEstimatorName, default
// "ttft-estimate-scorer"), whose model is calibrated from the TTFTs the servers really give —
// prefill cost per token, the queue in front, the slot wait — instead of a fixed peak throughput
// (issue 15: the fixed constants made sticky-until-saturated break too late on a hot prefix).
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { Filter, ReferencingPlugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { readMatch } from '../../prefix/plugin-support.js';
import { isTtftEstimator, TTFT_ESTIMATE_SCORER_TYPE, type TtftEstimator } from './ttft-estimate-scorer.js';

export const PREFIX_CACHE_AFFINITY_FILTER_TYPE = 'prefix-cache-affinity-filter';

export const prefixCacheAffinityFilterParameters = z.strictObject({
  affinityThreshold: z.number().min(0).max(1).default(0.8),
  explorationProbability: z.number().min(0).max(1).default(0),
  maxTTFTPenaltyMs: z.number().nonnegative().default(18_000),
  ttftSource: z.enum(['prefillThroughput', 'ttftEstimateScorer'], { error: '"prefillThroughput" or "ttftEstimateScorer" ("latencyPredictor" is not available in tokenroute)' }).default('prefillThroughput'),
  peakPrefillThroughput: z.number().positive().default(15_928),
  prefixPluginName: z.string().min(1).optional(),
  ttftEstimatorName: z.string().min(1).default(TTFT_ESTIMATE_SCORER_TYPE),
});
export type PrefixCacheAffinityFilterParameters = z.output<typeof prefixCacheAffinityFilterParameters>;

export const prefixCacheAffinityFilterPlugin = definePlugin({
  type: PREFIX_CACHE_AFFINITY_FILTER_TYPE,
  parameters: prefixCacheAffinityFilterParameters,
  create(name, params, ctx): Filter & ReferencingPlugin & { readonly parameters: PrefixCacheAffinityFilterParameters } {
    let estimator: TtftEstimator | undefined;
    return {
      type: PREFIX_CACHE_AFFINITY_FILTER_TYPE,
      name,
      parameters: params,
      resolveReferences(lookup) {
        if (params.ttftSource !== 'ttftEstimateScorer') return [];
        const p = lookup.plugin(params.ttftEstimatorName);
        if (!p) return [{ path: ['ttftEstimatorName'], kind: 'undefined', name: params.ttftEstimatorName, message: `ttftSource ttftEstimateScorer needs a ${TTFT_ESTIMATE_SCORER_TYPE} plugin named "${params.ttftEstimatorName}"` }];
        if (!isTtftEstimator(p)) return [{ path: ['ttftEstimatorName'], kind: 'wrong-kind', name: params.ttftEstimatorName, message: `"${params.ttftEstimatorName}" is a ${p.type}, not a ${TTFT_ESTIMATE_SCORER_TYPE}` }];
        estimator = p;
        return [];
      },
      filter(_req, candidates, state) {
        const info = readMatch(state, params.prefixPluginName);
        if (!info || info.totalBlocks === 0 || candidates.length <= 1) return candidates;
        if (params.explorationProbability > 0 && ctx.random() < params.explorationProbability) {
          state.note(name, 'explore');
          return candidates;
        }
        const matched = info.matched(candidates);
        const warm: Candidate[] = [];
        let bestWarm = Infinity;
        let bestCold = Infinity;
        const learned = estimator ? estimator.estimateTtftMs(candidates, state, info.promptTokens, matched, info.blockSize) : undefined;
        for (let i = 0; i < candidates.length; i++) {
          const c = candidates[i];
          const uncached = Math.max(0, info.promptTokens - matched[i] * info.blockSize);
          const ttftMs = learned ? learned[i] : ((c.inflight.tokens + uncached) / params.peakPrefillThroughput) * 1000;
          if (matched[i] / info.totalBlocks >= params.affinityThreshold) {
            warm.push(c);
            if (ttftMs < bestWarm) bestWarm = ttftMs;
          } else if (ttftMs < bestCold) bestCold = ttftMs;
        }
        if (warm.length === 0 || warm.length === candidates.length) return candidates;
        if (bestWarm - bestCold > params.maxTTFTPenaltyMs) {
          state.note(name, 'saturated: stickiness broken');
          return candidates;
        }
        state.note(name, `sticky to ${warm.length} warm`);
        return warm;
      },
    };
  },
});

