// load-aware-scorer — llm-d's queue scorer: 0.5 for an endpoint with an empty waiting queue,
// falling linearly to 0 at `threshold` waiting requests (0.5 × (1 − min(q, threshold) ÷
// threshold)); unlike queue-scorer it is absolute, not normalised over the candidates, so it only
// separates endpoints that are actually queueing (llm-d-inference-scheduler
// `pkg/plugins/scorer/load_aware.go`, v0.7.1). Parameters: threshold (128; ≤ 0 means the default,
// as llm-d logs and does).
import { z } from 'zod';
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';

export const LOAD_AWARE_SCORER_TYPE = 'load-aware-scorer';
const DEFAULT_THRESHOLD = 128;

export const loadAwareScorerParameters = z
  .strictObject({ threshold: z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' }).default(DEFAULT_THRESHOLD) })
  .transform((p) => ({ threshold: p.threshold > 0 ? p.threshold : DEFAULT_THRESHOLD }));

export const loadAwareScorerPlugin = definePlugin({
  type: LOAD_AWARE_SCORER_TYPE,
  parameters: loadAwareScorerParameters,
  create(name, params): Scorer {
    const threshold = params.threshold;
    return {
      type: LOAD_AWARE_SCORER_TYPE,
      name,
      score(_req, candidates, _state, out) {
        for (let i = 0; i < candidates.length; i++) {
          const q = Math.min(candidates[i].metrics.waitingRequests, threshold);
          out[i] = q <= 0 ? 0.5 : 0.5 * (1 - q / threshold);
        }
      },
    };
  },
});
