// round-robin: a picker that rotates over the candidates in order, ignoring scores: request i
// goes to candidates[i mod n] (and, with maxNumOfEndpoints = k, the next k − 1 as fallbacks).
// The baseline every LLM router is compared with, and what GIE's lightweight EPP (lwepp) does
// (HEAD pkg/lwepp/handlers/server.go RoundRobinPicker). Not a GIE v1.5.0 config type; tokenroute
// registers it so a profile can use it. The rotation counter is per plugin instance and starts
// at 0 (lwepp increments before use, so its first pick is index 1).
// Parameter: maxNumOfEndpoints (positive integer, default 1).
import type { Picker } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { pickerParameters } from '../../framework/params.js';

export const ROUND_ROBIN_TYPE = 'round-robin';

export const roundRobinPlugin = definePlugin({
  type: ROUND_ROBIN_TYPE,
  parameters: pickerParameters,
  create(name, params): Picker & { readonly maxNumOfEndpoints: number } {
    const max = params.maxNumOfEndpoints;
    let next = 0;
    return {
      type: ROUND_ROBIN_TYPE,
      name,
      maxNumOfEndpoints: max,
      pick(_req, candidates) {
        const n = candidates.length;
        if (n === 0) return [];
        const start = next % n;
        next = (next + 1) % Number.MAX_SAFE_INTEGER;
        const k = Math.min(max, n);
        const out = new Array<(typeof candidates)[number]>(k);
        for (let i = 0; i < k; i++) out[i] = candidates[(start + i) % n];
        return out;
      },
    };
  },
});
