// session-affinity-scorer — llm-d's soft sticky sessions: 1.0 for the endpoint named in the
// request's session token (base64 of the pod's "namespace/name"), 0 for the others; the response
// carries the token of the endpoint that served, so a client that sends it back returns to the
// same server — and to the KV cache of its conversation (llm-d-router
// `pkg/epp/framework/plugins/scheduling/scorer/sessionaffinity`; v0.7.1
// `pkg/plugins/scorer/session_affinity.go`). The token only scores: it never bypasses filters, and
// heavier load or prefix scores can outweigh it (session-affinity-filter pins instead).
// Parameters: headerName, profileName (scheduling/session/token.ts).
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { isSessionPod, podNamedBy, sessionParameters, sessionTokenWriter, type SessionTokenWriter } from '../session/token.js';

export const SESSION_AFFINITY_SCORER_TYPE = 'session-affinity-scorer';

export const sessionAffinityScorerPlugin = definePlugin({
  type: SESSION_AFFINITY_SCORER_TYPE,
  parameters: sessionParameters,
  create(name, params, ctx): Scorer & SessionTokenWriter {
    return {
      type: SESSION_AFFINITY_SCORER_TYPE,
      name,
      ...sessionTokenWriter(name, params, ctx),
      score(req, candidates, _state, out) {
        const pod = podNamedBy(req.headers.get(params.headerName));
        if (pod === undefined) return;
        for (let i = 0; i < candidates.length; i++) if (isSessionPod(candidates[i], pod)) out[i] = 1;
      },
    };
  },
});
