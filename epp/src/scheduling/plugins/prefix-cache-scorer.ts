// prefix-cache-scorer — PLACEHOLDER, NOT IMPLEMENTED YET (replaced by the prefix-cache issue).
// In GIE it scores each endpoint by the fraction of the prompt's prefix blocks it probably holds
// in its KV cache (matched blocks / total blocks, from the approximate prefix index), so
// requests sharing a prefix land where that prefix is cached. Until the index exists this type
// only validates GIE's parameters (so the built-in default config and users' configs load) and
// scores 0 for every endpoint, which leaves the other scorers' ranking unchanged. It logs a
// warning once per instance the first time it scores.
// Parameters (GIE v1.5.0 requestcontrol/dataproducer/approximateprefix/types.go defaults):
//   autoTune (true), blockSizeTokens (16), maxPrefixBlocksToMatch (256),
//   maxPrefixTokensToMatch (0 = use maxPrefixBlocksToMatch), lruCapacityPerServer (31250),
//   blockSize (deprecated, characters): an error when set without blockSizeTokens.
import { z } from 'zod';
import type { Scorer } from '../framework.js';
import { definePlugin } from '../registry.js';
import { nonNegativeInt, positiveInt, POSITIVE_INTEGER } from '../params.js';

export const PREFIX_CACHE_SCORER_TYPE = 'prefix-cache-scorer';

export const prefixCacheScorerParameters = z
  .strictObject({
    autoTune: z.boolean({ error: 'expected a boolean' }).default(true),
    blockSizeTokens: z
      .number({ error: POSITIVE_INTEGER })
      .int({ error: POSITIVE_INTEGER })
      .positive({ error: POSITIVE_INTEGER })
      .optional(),
    maxPrefixBlocksToMatch: positiveInt(256),
    maxPrefixTokensToMatch: nonNegativeInt(0),
    lruCapacityPerServer: positiveInt(31_250),
    /** Deprecated character-based block size; only accepted next to blockSizeTokens. */
    blockSize: z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' }).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.blockSize !== undefined && p.blockSize > 0 && p.blockSizeTokens === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['blockSize'],
        message: 'blockSize is deprecated (characters); set blockSizeTokens (tokens) instead',
      });
    }
  })
  .transform((p) => ({
    autoTune: p.autoTune,
    blockSizeTokens: p.blockSizeTokens ?? 16,
    maxPrefixBlocksToMatch: p.maxPrefixBlocksToMatch,
    maxPrefixTokensToMatch: p.maxPrefixTokensToMatch,
    lruCapacityPerServer: p.lruCapacityPerServer,
  }));
export type PrefixCacheScorerParameters = z.output<typeof prefixCacheScorerParameters>;

export const prefixCacheScorerPlugin = definePlugin({
  type: PREFIX_CACHE_SCORER_TYPE,
  parameters: prefixCacheScorerParameters,
  create(name, params, ctx): Scorer & { readonly parameters: PrefixCacheScorerParameters } {
    let warned = false;
    return {
      type: PREFIX_CACHE_SCORER_TYPE,
      name,
      parameters: params,
      score() {
        // `out` is pre-zeroed by the framework: every endpoint scores 0.
        if (!warned) {
          warned = true;
          ctx.logger.warn({ plugin: name }, 'prefix-cache-scorer: not implemented yet; scoring 0 for every endpoint');
        }
      },
    };
  },
});
