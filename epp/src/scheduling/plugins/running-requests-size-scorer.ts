// running-requests-size-scorer: scores endpoints by the number of requests the model server is
// running (vllm:num_requests_running and equivalents), min–max normalised like the queue scorer:
// (max − r) / (max − min), all 1.0 when equal; fewer running requests = higher score.
// Formula: GIE v1.5.0 framework/plugins/scheduling/scorer/runningrequests/runningrequest.go. No parameters.
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';
import { scoreFewerIsBetter } from '../normalize.js';

export const RUNNING_REQUESTS_SIZE_SCORER_TYPE = 'running-requests-size-scorer';

export const runningRequestsSizeScorerPlugin = definePlugin({
  type: RUNNING_REQUESTS_SIZE_SCORER_TYPE,
  parameters: noParameters,
  create(name): Scorer {
    return {
      type: RUNNING_REQUESTS_SIZE_SCORER_TYPE,
      name,
      score(_req, candidates, _state, out) {
        scoreFewerIsBetter(candidates, out, (c) => c.metrics.runningRequests);
      },
    };
  },
});
