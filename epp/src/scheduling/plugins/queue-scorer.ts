// queue-scorer: scores endpoints by their model-server waiting queue (vllm:num_requests_waiting
// and equivalents), min–max normalised over the candidates: (max − q) / (max − min), all 1.0 when
// every queue is equal. Spreads load towards endpoints that will start the request soonest.
// Formula: GIE v1.5.0 framework/plugins/scheduling/scorer/queuedepth/queue.go. No parameters.
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';
import { scoreFewerIsBetter } from '../normalize.js';

export const QUEUE_SCORER_TYPE = 'queue-scorer';

export const queueScorerPlugin = definePlugin({
  type: QUEUE_SCORER_TYPE,
  parameters: noParameters,
  create(name): Scorer {
    return {
      type: QUEUE_SCORER_TYPE,
      name,
      score(_req, candidates, _state, out) {
        scoreFewerIsBetter(candidates, out, (c) => c.metrics.waitingRequests);
      },
    };
  },
});
