// soft-reflective-ceiling-policy: priority-aware ceilings with nothing to tune. Band i of N (highest
// first) reflects the saturation: ceiling_i = 1 − i·s/(N − 1); the highest band is never gated.
// Below its reflective ceiling a band is open; at s ≥ 1 every lower band is closed; in between it
// opens once every round(s/(1 − s)) dispatch decisions, so its dispatch rate falls smoothly, about
// (1 − s)/s, as the pool fills. Source: llm-d-router `pkg/epp/framework/plugins/flowcontrol/
// usagelimits/softreflectiveceiling` (README). The per-band tick counters are the only state
// (bounded by the number of bands). No parameters.
import { z } from 'zod';
import type { UsageLimitPolicy } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const SOFT_REFLECTIVE_CEILING_TYPE = 'soft-reflective-ceiling-policy';

export function createSoftReflectiveCeiling(name: string): UsageLimitPolicy {
  const ticks: number[] = [];
  return {
    type: SOFT_REFLECTIVE_CEILING_TYPE,
    name,
    computeLimit(saturation, priorities) {
      const n = priorities.length;
      const out = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        if (i === 0) {
          out[i] = 1;
          continue;
        }
        const reflective = 1 - (i * saturation) / (n - 1);
        if (saturation < reflective) out[i] = 1;
        else if (saturation >= 1) out[i] = 0;
        else {
          const period = Math.max(1, Math.round(saturation / (1 - saturation)));
          const t = (ticks[i] = ((ticks[i] ?? 0) + 1) % period);
          out[i] = t === 0 ? 1 : 0;
        }
      }
      return out;
    },
  };
}

export const softReflectiveCeilingPlugin = definePlugin({
  type: SOFT_REFLECTIVE_CEILING_TYPE,
  parameters: z.strictObject({}),
  create: (name) => createSoftReflectiveCeiling(name),
});
