// The session token shared by session-affinity-scorer and session-affinity-filter: the base64 of
// the serving pod's "namespace/name", read from a request header and written on the response, as
// llm-d-router does (`pkg/epp/framework/plugins/scheduling/util/sessionaffinity`; in
// llm-d-inference-scheduler v0.7.1 `pkg/plugins/scorer/session_affinity.go`, header only).
// Parameters of both plugins (llm-d-router): `headerName` (default x-session-token; trimmed and
// lower-cased, as request headers are) and `profileName` (whose target the response names; empty:
// the endpoint that served, i.e. decode in P/D). llm-d writes the token after the headers have
// gone out (ResponseComplete) and names the first choice; here it is added to the response headers
// and, without `profileName`, names the endpoint that really served after any fallback.
import { z } from 'zod';
import { stateKey } from '../../framework/cycle-state.js';
import type { Candidate } from '../../framework/endpoint.js';
import type { PreRequestPlugin } from '../../framework/plugins.js';
import type { EndpointServedPlugin, ResponseReceivedPlugin } from '../../framework/request-lifecycle.js';
import type { PluginContext } from '../../framework/registry.js';

export const SESSION_TOKEN_HEADER = 'x-session-token';

/** A header name as RFC 9110 allows it (token characters), lower-cased. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** A token longer than this names no pod (Kubernetes names are ≤ 253 + 63 characters). */
const MAX_TOKEN_LENGTH = 1024;

export const sessionParameters = z.strictObject({
  headerName: z
    .string()
    .default('')
    .transform((h) => h.trim().toLowerCase() || SESSION_TOKEN_HEADER)
    .refine((h) => HEADER_NAME.test(h), { error: 'must be an HTTP header name' }),
  profileName: z.string().default(''),
});
export type SessionParameters = z.output<typeof sessionParameters>;

/** The "namespace/pod" a token names, or undefined (absent, oversized, not base64 text). */
export function podNamedBy(token: string | undefined): string | undefined {
  if (!token || token.length > MAX_TOKEN_LENGTH) return undefined;
  const text = Buffer.from(token, 'base64').toString('utf8');
  return text.length > 0 ? text : undefined;
}

export function tokenFor(endpoint: { readonly namespace: string; readonly podName: string }): string {
  return Buffer.from(`${endpoint.namespace}/${endpoint.podName}`).toString('base64');
}

export function isSessionPod(c: Candidate, pod: string): boolean {
  return `${c.endpoint.namespace}/${c.endpoint.podName}` === pod;
}

export type SessionTokenWriter = PreRequestPlugin & EndpointServedPlugin & ResponseReceivedPlugin;

/**
 * The response side of a session plugin: remembers the endpoint to name (the `profileName`
 * profile's first target at PreRequest, or the endpoint that served) and returns the token header.
 * A profile that did not run (a decode-only request for `profileName: prefill`) writes no token.
 */
export function sessionTokenWriter(name: string, params: SessionParameters, ctx: PluginContext): Omit<SessionTokenWriter, 'type' | 'name'> {
  const named = stateKey<string>(`session-affinity.${name}.endpoint`);
  return {
    preRequest(_req, result, state) {
      if (params.profileName === '') return;
      const target = result.profileResults.get(params.profileName)?.targets[0];
      if (target) state.write(named, target.endpoint.key);
    },
    endpointServed(req, endpoint) {
      if (params.profileName === '') req.state.write(named, endpoint);
    },
    responseReceived(req) {
      const key = req.state.read(named) ?? (params.profileName === '' ? req.endpoint : undefined);
      const e = key === undefined ? undefined : ctx.datastore.get(key)?.endpoint;
      if (!e) return;
      return new Map([[params.headerName, tokenFor(e)]]);
    },
  };
}
