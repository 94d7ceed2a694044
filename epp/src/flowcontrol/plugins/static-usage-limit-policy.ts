// static-usage-limit-policy (GIE/llm-d's default usage limit): one fixed ceiling for every
// priority band — with `threshold` 1.0 (the default) a band dispatches until the pool is
// saturated; 0.8 keeps 20% of the pool's capacity as headroom. Source: llm-d-router
// `pkg/epp/framework/plugins/flowcontrol/usagelimits` (README, usagelimitpolicy.go).
// Parameters (defaults): threshold (1.0, in [0, 1]).
import { z } from 'zod';
import type { UsageLimitPolicy } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const STATIC_USAGE_LIMIT_TYPE = 'static-usage-limit-policy';

export const staticUsageLimitParameters = z.strictObject({
  threshold: z.number({ error: 'expected a number in [0, 1]' }).min(0, { error: 'expected a number in [0, 1]' }).max(1, { error: 'expected a number in [0, 1]' }).default(1),
});

export function createStaticUsageLimit(name: string, threshold: number): UsageLimitPolicy {
  // Ceilings by band count, reused: the policy answers the same list for the same count.
  const lists: number[][] = [];
  return {
    type: STATIC_USAGE_LIMIT_TYPE,
    name,
    computeLimit(_saturation, priorities) {
      const n = priorities.length;
      let list = lists[n];
      if (!list) {
        list = new Array<number>(n).fill(threshold);
        if (n < 64) lists[n] = list;
      }
      return list;
    },
  };
}

export const staticUsageLimitPlugin = definePlugin({
  type: STATIC_USAGE_LIMIT_TYPE,
  parameters: staticUsageLimitParameters,
  create: (name, params) => createStaticUsageLimit(name, params.threshold),
});
