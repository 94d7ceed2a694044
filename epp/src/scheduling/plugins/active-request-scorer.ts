// active-request-scorer — llm-d's in-flight request scorer: 1.0 for an endpoint with at most
// `idleThreshold` requests in flight, otherwise (max − n) ÷ max × maxBusyScore, where n is the
// endpoint's in-flight requests and max the largest count among the candidates, so the busiest
// endpoint scores 0 (llm-d-inference-scheduler `pkg/plugins/scorer/active_request.go`, v0.7.1).
// llm-d keeps its own TTL cache of requests (requestTimeout, 2 min) because it cannot see every
// end; tokenroute's in-flight count (Candidate.inflight, the inflight-load lifecycle plugin) is
// released exactly once on every end, so no timeout is needed and `requestTimeout` is accepted
// and unused. Parameters: idleThreshold (0), maxBusyScore (1.0, in [0, 1]), requestTimeout.
import { z } from 'zod';
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeInt } from '../../framework/params.js';

export const ACTIVE_REQUEST_SCORER_TYPE = 'active-request-scorer';

export const activeRequestScorerParameters = z.strictObject({
  idleThreshold: nonNegativeInt(0),
  maxBusyScore: z.number().min(0).max(1).default(1),
  /** llm-d's TTL for requests it never saw end; unused here (in-flight counts are exact). */
  requestTimeout: z.string().optional(),
});

export const activeRequestScorerPlugin = definePlugin({
  type: ACTIVE_REQUEST_SCORER_TYPE,
  parameters: activeRequestScorerParameters,
  create(name, params): Scorer & { readonly parameters: z.output<typeof activeRequestScorerParameters> } {
    return {
      type: ACTIVE_REQUEST_SCORER_TYPE,
      name,
      parameters: params,
      score(_req, candidates, _state, out) {
        let max = 0;
        for (const c of candidates) if (c.inflight.requests > max) max = c.inflight.requests;
        for (let i = 0; i < candidates.length; i++) {
          const n = candidates[i].inflight.requests;
          out[i] = n <= params.idleThreshold || max === 0 ? 1 : ((max - n) / max) * params.maxBusyScore;
        }
      },
    };
  },
});
