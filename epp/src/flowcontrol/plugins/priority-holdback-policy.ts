// priority-holdback-policy: per-band ceilings that fall with priority, so as the pool fills the
// lower bands stop dispatching first and the last headroom is kept for the higher ones. Source:
// llm-d-router `pkg/epp/framework/plugins/flowcontrol/usagelimits/priorityholdback` (README).
// Domains, over the bands that have requests waiting (highest first, N of them):
//   rank (default)  c_i = maxCeiling − i·(maxCeiling − minCeiling)/(N − 1)   (evenly by rank)
//   value           c_i = minCeiling + (p_i − pMin)/(pMax − pMin)·(maxCeiling − minCeiling)
//   explicit        c_i = ceilings[p_i]; a priority missing from the map gets 0 (fully gated)
// One band alone gets maxCeiling. Parameters: shape ("linear", the only curve), domain, minCeiling
// (required for rank and value, in [0, 1)), maxCeiling (1.0, in (0, 1]), ceilings (explicit only:
// priority → ceiling in [0, 1], non-increasing from the highest priority down).
import { z } from 'zod';
import type { UsageLimitPolicy } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const PRIORITY_HOLDBACK_TYPE = 'priority-holdback-policy';

const unit = (what: string) => z.number({ error: `expected ${what}` });

export const priorityHoldbackParameters = z
  .strictObject({
    shape: z.literal('linear', { error: 'expected "linear" (the only shape)' }).optional(),
    domain: z.enum(['rank', 'value', 'explicit'], { error: 'expected "rank", "value" or "explicit"' }).default('rank'),
    minCeiling: unit('a number in [0, 1)').min(0, { error: 'expected a number in [0, 1)' }).lt(1, { error: 'expected a number in [0, 1)' }).optional(),
    maxCeiling: unit('a number in (0, 1]').gt(0, { error: 'expected a number in (0, 1]' }).max(1, { error: 'expected a number in (0, 1]' }).optional(),
    ceilings: z.record(z.string().regex(/^-?\d+$/, { error: 'expected an integer priority' }), unit('a number in [0, 1]').min(0).max(1)).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.domain === 'explicit') {
      for (const key of ['shape', 'minCeiling', 'maxCeiling'] as const) {
        if (p[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'not allowed with domain "explicit"' });
      }
      if (!p.ceilings) {
        ctx.addIssue({ code: 'custom', path: ['ceilings'], message: 'required with domain "explicit"' });
        return;
      }
      const sorted = Object.entries(p.ceilings).map(([k, v]) => [Number(k), v] as const).sort((a, b) => b[0] - a[0]);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i][1] > sorted[i - 1][1]) {
          ctx.addIssue({ code: 'custom', path: ['ceilings', String(sorted[i][0])], message: `must not exceed the ceiling of higher priority ${sorted[i - 1][0]} (${sorted[i - 1][1]})` });
        }
      }
      return;
    }
    if (p.ceilings) ctx.addIssue({ code: 'custom', path: ['ceilings'], message: 'only with domain "explicit"' });
    if (p.minCeiling === undefined) ctx.addIssue({ code: 'custom', path: ['minCeiling'], message: `required with domain "${p.domain}" (how hard the lowest priority is held back has no universal default)` });
    else if (p.minCeiling > (p.maxCeiling ?? 1)) ctx.addIssue({ code: 'custom', path: ['minCeiling'], message: 'must not exceed maxCeiling' });
  });
export type PriorityHoldbackParameters = z.output<typeof priorityHoldbackParameters>;

export function createPriorityHoldback(name: string, params: PriorityHoldbackParameters): UsageLimitPolicy {
  const max = params.maxCeiling ?? 1;
  const min = params.minCeiling ?? 0;
  const explicit = new Map(Object.entries(params.ceilings ?? {}).map(([k, v]) => [Number(k), v]));
  return {
    type: PRIORITY_HOLDBACK_TYPE,
    name,
    computeLimit(_saturation, priorities) {
      const n = priorities.length;
      if (params.domain === 'explicit') return priorities.map((p) => explicit.get(p) ?? 0);
      if (n === 1) return [max];
      if (params.domain === 'rank') return priorities.map((_p, i) => max - (i * (max - min)) / (n - 1));
      const hi = priorities[0];
      const lo = priorities[n - 1];
      return priorities.map((p) => (hi === lo ? max : min + ((p - lo) / (hi - lo)) * (max - min)));
    },
  };
}

export const priorityHoldbackPlugin = definePlugin({
  type: PRIORITY_HOLDBACK_TYPE,
  parameters: priorityHoldbackParameters,
  create: (name, params) => createPriorityHoldback(name, params),
});
