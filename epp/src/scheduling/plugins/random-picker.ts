// random-picker: picks maxNumOfEndpoints distinct endpoints uniformly at random, ignoring scores.
// A baseline (and what GIE's benchmarks call "random"); scorers in the same profile have no effect.
// GIE v1.5.0 framework/plugins/scheduling/picker/random_picker.go.
// Parameter: maxNumOfEndpoints (positive integer, default 1).
import type { Picker } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { pickerParameters } from '../../framework/params.js';
import { randomIndices } from '../selection.js';

export const RANDOM_PICKER_TYPE = 'random-picker';

export const randomPickerPlugin = definePlugin({
  type: RANDOM_PICKER_TYPE,
  parameters: pickerParameters,
  create(name, params, ctx): Picker & { readonly maxNumOfEndpoints: number } {
    const max = params.maxNumOfEndpoints;
    const random = ctx.random;
    return {
      type: RANDOM_PICKER_TYPE,
      name,
      maxNumOfEndpoints: max,
      pick(_req, candidates) {
        const n = candidates.length;
        if (n === 0) return [];
        if (max === 1) return [candidates[Math.floor(random() * n)]];
        return randomIndices(n, max, random).map((i) => candidates[i]);
      },
    };
  },
});
