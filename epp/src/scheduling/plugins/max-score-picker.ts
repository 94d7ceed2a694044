// max-score-picker: picks the endpoints with the highest weighted total score, best first, up to
// maxNumOfEndpoints (the first is the destination, the rest are the fallback list). Ties are
// broken uniformly at random, so equal endpoints share load instead of the first always winning.
// GIE v1.5.0 framework/plugins/scheduling/picker/max_score_picker.go: shuffle, stable sort by
// score descending, cut to maxNumOfEndpoints. With maxNumOfEndpoints = 1 (the default) the same
// distribution is obtained in one pass without allocating.
// Parameter: maxNumOfEndpoints (positive integer, default 1).
import type { Picker } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { pickerParameters } from '../../framework/params.js';
import { indexOfMax, topIndicesDescending } from '../selection.js';

export const MAX_SCORE_PICKER_TYPE = 'max-score-picker';

export const maxScorePickerPlugin = definePlugin({
  type: MAX_SCORE_PICKER_TYPE,
  parameters: pickerParameters,
  create(name, params, ctx): Picker & { readonly maxNumOfEndpoints: number } {
    const max = params.maxNumOfEndpoints;
    const random = ctx.random;
    return {
      type: MAX_SCORE_PICKER_TYPE,
      name,
      maxNumOfEndpoints: max,
      pick(_req, candidates, totals) {
        const n = candidates.length;
        if (n === 0) return [];
        if (max === 1) return [candidates[indexOfMax(totals, n, random)]];
        return topIndicesDescending(n, max, (i) => totals[i], random).map((i) => candidates[i]);
      },
    };
  },
});
