// session-affinity-filter — llm-d's hard sticky sessions: when the endpoint named in the request's
// session token is among the candidates it is the only one kept; otherwise (no token, a token
// naming a pod that is gone or was filtered out earlier in the profile) every candidate passes, so
// the session moves rather than fails. The response carries the token like the scorer's
// (llm-d-router `pkg/epp/framework/plugins/scheduling/filter/sessionaffinity`). Use it where
// moving a session costs more than waiting behind its load (e.g. pinning a decode rank so P→D
// transfers stay incremental); place it after the filters that must still apply (roles,
// saturation). Parameters: headerName, profileName (scheduling/session/token.ts).
import type { Filter } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { isSessionPod, podNamedBy, sessionParameters, sessionTokenWriter, type SessionTokenWriter } from '../session/token.js';

export const SESSION_AFFINITY_FILTER_TYPE = 'session-affinity-filter';

export const sessionAffinityFilterPlugin = definePlugin({
  type: SESSION_AFFINITY_FILTER_TYPE,
  parameters: sessionParameters,
  create(name, params, ctx): Filter & SessionTokenWriter {
    return {
      type: SESSION_AFFINITY_FILTER_TYPE,
      name,
      ...sessionTokenWriter(name, params, ctx),
      filter(req, candidates) {
        const pod = podNamedBy(req.headers.get(params.headerName));
        if (pod === undefined) return candidates;
        const kept = candidates.find((c) => isSessionPod(c, pod));
        return kept ? [kept] : candidates;
      },
    };
  },
});
