// prefix-based-pd-decider — llm-d's decider: disaggregate when the part of the prompt the chosen
// decode endpoint does not hold in its KV cache is at least `nonCachedTokens` tokens (a short or
// mostly cached prompt is cheaper to prefill where it decodes than to transfer)
// (llm-d-inference-scheduler `pkg/plugins/profile/prefix_based_pd_decider.go`, v0.7.1).
// uncached = prompt tokens − matched blocks on the decode endpoint × block size. llm-d estimates
// prompt tokens as characters ÷ 4; tokenroute counts them when it can — from the edge filter's
// headers or the EPP tokenizer (token-producer) — and falls back to the same estimate otherwise
// (`disaggTokensExact` in the decision trace says which). The match comes from a prefix plugin's
// published match info (prefix-cache-scorer or precise-prefix-cache-scorer; `prefixPluginName`
// picks one, default the first); without one, as in llm-d, the request is not disaggregated.
// Parameters: nonCachedTokens (0 = never disaggregate, llm-d's default), prefixPluginName (tokenroute).
import { z } from 'zod';
import type { DisaggDecider } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeInt } from '../../framework/params.js';
import { uncachedPrompt } from '../disagg/uncached.js';

export const PREFIX_BASED_PD_DECIDER_TYPE = 'prefix-based-pd-decider';

export const prefixBasedPdDeciderParameters = z.strictObject({
  nonCachedTokens: nonNegativeInt(0),
  prefixPluginName: z.string().min(1).optional(),
});

export const prefixBasedPdDeciderPlugin = definePlugin({
  type: PREFIX_BASED_PD_DECIDER_TYPE,
  parameters: prefixBasedPdDeciderParameters,
  create(name, params, ctx): DisaggDecider & { readonly parameters: z.output<typeof prefixBasedPdDeciderParameters> } {
    if (params.nonCachedTokens === 0) ctx.logger.info({ plugin: name }, 'prefix-based-pd-decider: nonCachedTokens is 0, P/D disaggregation disabled');
    return {
      type: PREFIX_BASED_PD_DECIDER_TYPE,
      name,
      parameters: params,
      disaggregate(_req, decode, state) {
        if (params.nonCachedTokens === 0) return false;
        const p = uncachedPrompt(state, decode, params.prefixPluginName);
        return p !== undefined && p.promptTokens >= params.nonCachedTokens && p.uncachedTokens >= params.nonCachedTokens;
      },
    };
  },
});
