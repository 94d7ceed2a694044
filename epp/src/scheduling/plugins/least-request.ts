// least-request: a picker that sends the request to the endpoint with the fewest requests the
// EPP has routed there and not yet seen finish (Candidate.inflight.requests), ties broken
// uniformly at random. It reacts to the EPP's own decisions immediately, unlike scraped queue
// metrics. Source: AIBrix's `least-request` routing algorithm (AIBrix `pkg/plugins/gateway/algorithms/least_request.go`;
// vllm-project/aibrix pkg/plugins/gateway/algorithms/least_request.go), which is a selection
// strategy (min count, random tie-break), not a scorer; GIE/llm-d have no plugin of this name
// (their scorer counterpart is llm-d's active-request-scorer). Scores of the profile are ignored.
// With maxNumOfEndpoints = k the k least-loaded endpoints are returned, fewest first.
// Parameter: maxNumOfEndpoints (positive integer, default 1).
import type { Picker } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { pickerParameters } from '../../framework/params.js';
import { topIndicesDescending } from '../selection.js';

export const LEAST_REQUEST_TYPE = 'least-request';

export const leastRequestPlugin = definePlugin({
  type: LEAST_REQUEST_TYPE,
  parameters: pickerParameters,
  create(name, params, ctx): Picker & { readonly maxNumOfEndpoints: number } {
    const max = params.maxNumOfEndpoints;
    const random = ctx.random;
    return {
      type: LEAST_REQUEST_TYPE,
      name,
      maxNumOfEndpoints: max,
      pick(_req, candidates) {
        const n = candidates.length;
        if (n === 0) return [];
        if (max === 1) {
          let best = 0;
          let bestCount = candidates[0].inflight.requests;
          let ties = 1;
          for (let i = 1; i < n; i++) {
            const c = candidates[i].inflight.requests;
            if (c < bestCount) {
              best = i;
              bestCount = c;
              ties = 1;
            } else if (c === bestCount) {
              ties += 1;
              if (random() * ties < 1) best = i;
            }
          }
          return [candidates[best]];
        }
        return topIndicesDescending(n, max, (i) => -candidates[i].inflight.requests, random).map((i) => candidates[i]);
      },
    };
  },
});
