// weighted-random-picker: picks endpoints at random with probability proportional to their
// weighted total score, without replacement, up to maxNumOfEndpoints. Softer than max-score:
// better endpoints get more traffic but none is starved, which avoids herding on one winner.
// Algorithm: A-Res (Efraimidis & Spirakis): key = u^(1/score) with u uniform in (0, 1); the k
// largest keys win. Endpoints with score ≤ 0 get key 0 and come last (in random order); when
// no endpoint has a positive score the pick is uniform, as in GIE v1.5.0
// framework/plugins/scheduling/picker/weighted_random_picker.go (which delegates to random-picker).
// Parameter: maxNumOfEndpoints (positive integer, default 1).
import type { Picker } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { pickerParameters } from '../../framework/params.js';
import { indexOfMax, randomIndices, topIndicesDescending } from '../selection.js';

export const WEIGHTED_RANDOM_PICKER_TYPE = 'weighted-random-picker';

/** A-Res key for one item of weight `w` given a uniform draw `u` in [0, 1). */
export function aResKey(w: number, u: number): number {
  if (!(w > 0)) return 0;
  return Math.pow(u === 0 ? 1e-10 : u, 1 / w);
}

export const weightedRandomPickerPlugin = definePlugin({
  type: WEIGHTED_RANDOM_PICKER_TYPE,
  parameters: pickerParameters,
  create(name, params, ctx): Picker & { readonly maxNumOfEndpoints: number } {
    const max = params.maxNumOfEndpoints;
    const random = ctx.random;
    let keys = new Float64Array(16);
    return {
      type: WEIGHTED_RANDOM_PICKER_TYPE,
      name,
      maxNumOfEndpoints: max,
      pick(_req, candidates, totals) {
        const n = candidates.length;
        if (n === 0) return [];
        let anyPositive = false;
        for (let i = 0; i < n; i++) {
          if (totals[i] > 0) {
            anyPositive = true;
            break;
          }
        }
        if (!anyPositive) {
          if (max === 1) return [candidates[Math.floor(random() * n)]];
          return randomIndices(n, max, random).map((i) => candidates[i]);
        }
        if (keys.length < n) keys = new Float64Array(Math.max(n, keys.length * 2));
        for (let i = 0; i < n; i++) keys[i] = totals[i] > 0 ? aResKey(totals[i], random()) : 0;
        if (max === 1) return [candidates[indexOfMax(keys, n, random)]];
        const k = keys;
        return topIndicesDescending(n, max, (i) => k[i], random).map((i) => candidates[i]);
      },
    };
  },
});
