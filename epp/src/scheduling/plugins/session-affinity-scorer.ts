// session-affinity-scorer — llm-d's sticky sessions: 1.0 for the endpoint named in the request's
// `x-session-token` header (base64 of the pod's "namespace/name"), 0 for the others; the response
// carries the token of the endpoint that served, so a client that sends it back returns to the
// same server — and to the KV cache of its conversation (llm-d-inference-scheduler
// `pkg/plugins/scorer/session_affinity.go`, v0.7.1). llm-d sets the token at ResponseComplete,
// after the headers have gone out; here it is added to the response headers (ResponseReceived),
// naming the endpoint that really served after any fallback. The token only scores: it never
// bypasses filters (a drained or saturated server is not chosen for it). No parameters.
import { stateKey } from '../../framework/cycle-state.js';
import type { Scorer } from '../../framework/plugins.js';
import type { EndpointServedPlugin, ResponseReceivedPlugin } from '../../framework/request-lifecycle.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const SESSION_AFFINITY_SCORER_TYPE = 'session-affinity-scorer';
export const SESSION_TOKEN_HEADER = 'x-session-token';

const SERVED = stateKey<string>('session-affinity.served');

function decodeToken(token: string | undefined): string | undefined {
  if (!token || token.length > 1024) return undefined;
  const text = Buffer.from(token, 'base64').toString('utf8');
  return text.length > 0 ? text : undefined;
}

export const sessionAffinityScorerPlugin = definePlugin({
  type: SESSION_AFFINITY_SCORER_TYPE,
  parameters: noParameters,
  create(name, _params, ctx): Scorer & EndpointServedPlugin & ResponseReceivedPlugin {
    return {
      type: SESSION_AFFINITY_SCORER_TYPE,
      name,
      score(req, candidates, _state, out) {
        const pod = decodeToken(req.headers.get(SESSION_TOKEN_HEADER));
        if (pod === undefined) return;
        for (let i = 0; i < candidates.length; i++) {
          const e = candidates[i].endpoint;
          if (`${e.namespace}/${e.podName}` === pod) out[i] = 1;
        }
      },
      endpointServed(req, endpoint) {
        req.state.write(SERVED, endpoint);
      },
      responseReceived(req) {
        const key = req.state.read(SERVED) ?? req.endpoint;
        const e = ctx.datastore.get(key)?.endpoint;
        if (!e) return;
        return new Map([[SESSION_TOKEN_HEADER, Buffer.from(`${e.namespace}/${e.podName}`).toString('base64')]]);
      },
    };
  },
});
