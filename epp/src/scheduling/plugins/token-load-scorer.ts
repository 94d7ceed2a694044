// token-load-scorer: scores endpoints by the prompt tokens the EPP has sent there and not yet
// seen finish (Candidate.inflight.tokens): 1 − min(1, tokens / queueThresholdTokens). Unlike the
// scraped queue it reacts instantly to the EPP's own decisions, so bursts do not pile onto one
// endpoint between scrapes. Formula and default (4,194,304 = 128 requests × 32K tokens): GIE v1.5.0
// framework/plugins/scheduling/scorer/tokenload/token_load.go.
// Parameter: queueThresholdTokens (positive integer, default 4194304). GIE silently replaces a
// value ≤ 0 by the default; tokenroute rejects it as a config error.
import { z } from 'zod';
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { positiveInt } from '../../framework/params.js';

export const TOKEN_LOAD_SCORER_TYPE = 'token-load-scorer';
export const DEFAULT_QUEUE_THRESHOLD_TOKENS = 4_194_304;

export const tokenLoadScorerParameters = z.strictObject({
  queueThresholdTokens: positiveInt(DEFAULT_QUEUE_THRESHOLD_TOKENS),
});

export const tokenLoadScorerPlugin = definePlugin({
  type: TOKEN_LOAD_SCORER_TYPE,
  parameters: tokenLoadScorerParameters,
  create(name, params): Scorer {
    const threshold = params.queueThresholdTokens;
    return {
      type: TOKEN_LOAD_SCORER_TYPE,
      name,
      score(_req, candidates, _state, out) {
        for (let i = 0; i < candidates.length; i++) {
          const tokens = candidates[i].inflight.tokens;
          if (tokens <= 0) out[i] = 1;
          else if (tokens !== tokens) out[i] = 0; // NaN: unknown load ranks last
          else out[i] = 1 - Math.min(tokens, threshold) / threshold;
        }
      },
    };
  },
});
