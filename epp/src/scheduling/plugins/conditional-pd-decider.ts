// conditional-pd-decider (tokenroute) — disaggregate only when it pays: the prompt's uncached part
// on the chosen decode endpoint is at least `minUncachedTokens` AND the prefill pool has room —
// its least-loaded fresh endpoint has fewer than `maxPrefillQueue` waiting requests and KV-cache
// use below `maxPrefillKvCache`. Otherwise the decode endpoint prefills locally. This is the rule
// of Dynamo's conditional disaggregation (remote prefill when the prefill is longer than the local
// limit and the prefill queue is short; ai-dynamo/dynamo `components/.../disagg_router`), on the
// EPP's signals: counted tokens (token-producer) and the prefill servers' scraped queues.
// prefix-based-pd-decider keeps sending work to a saturated prefill pool, where a request then
// waits longer than prefilling at home; this one stops.
// Parameters: minUncachedTokens (512), maxPrefillQueue (4), maxPrefillKvCache (0.95),
// metricsStalenessThreshold ("2s": prefill endpoints whose metrics are older do not count),
// prefixPluginName (whose match to read; default the first prefix plugin).
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { DisaggDecider } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeInt, positiveInt } from '../../framework/params.js';
import { duration } from '../../framework/params.js';
import { uncachedPrompt } from '../disagg/uncached.js';
import { ROLE_LABEL, ROLES } from './roles.js';

export const CONDITIONAL_PD_DECIDER_TYPE = 'conditional-pd-decider';

export const conditionalPdDeciderParameters = z.strictObject({
  minUncachedTokens: nonNegativeInt(512),
  maxPrefillQueue: positiveInt(4),
  maxPrefillKvCache: z.number().min(0).max(1).default(0.95),
  metricsStalenessThreshold: duration('2s'),
  prefixPluginName: z.string().min(1).optional(),
});

const prefillRoles = new Set(ROLES.prefill.values);
const canPrefill = (c: Candidate) => {
  const role = c.endpoint.labels[ROLE_LABEL];
  return role !== undefined && prefillRoles.has(role);
};

export const conditionalPdDeciderPlugin = definePlugin({
  type: CONDITIONAL_PD_DECIDER_TYPE,
  parameters: conditionalPdDeciderParameters,
  create(name, params, ctx): DisaggDecider & { readonly parameters: z.output<typeof conditionalPdDeciderParameters> } {
    return {
      type: CONDITIONAL_PD_DECIDER_TYPE,
      name,
      parameters: params,
      disaggregate(_req, decode, state) {
        const p = uncachedPrompt(state, decode, params.prefixPluginName);
        if (!p) return false;
        if (p.uncachedTokens < params.minUncachedTokens) {
          state.note('disaggReason', `uncached ${p.uncachedTokens} < ${params.minUncachedTokens} tokens`);
          return false;
        }
        const now = ctx.now();
        let bestQueue = Infinity;
        let bestKv = Infinity;
        for (const c of ctx.datastore.candidates()) {
          if (!canPrefill(c) || c.metrics.updatedAt === 0 || now - c.metrics.updatedAt > params.metricsStalenessThreshold) continue;
          if (c.metrics.waitingRequests < bestQueue || (c.metrics.waitingRequests === bestQueue && c.metrics.kvCacheUsage < bestKv)) {
            bestQueue = c.metrics.waitingRequests;
            bestKv = c.metrics.kvCacheUsage;
          }
        }
        if (bestQueue === Infinity) {
          state.note('disaggReason', 'no prefill endpoint with fresh metrics');
          return false;
        }
        if (bestQueue >= params.maxPrefillQueue || bestKv >= params.maxPrefillKvCache) {
          state.note('disaggReason', `prefill pool saturated (best queue ${bestQueue}, KV ${bestKv.toFixed(2)})`);
          return false;
        }
        return true;
      },
    };
  },
});
