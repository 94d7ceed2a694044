// What the gateway reports: one RequestRecord per request (handed to onRequest when the request is
// over) and counters since start.

/** How the upstream endpoint list was obtained. */
export type PickSource = 'epp' | 'fail-open' | 'round-robin';

export interface AttemptRecord {
  readonly endpoint: string;
  /** response: used; retry-5xx: a 5xx answered and the next endpoint was tried; connect-error / reset: no response. */
  readonly outcome: 'response' | 'retry-5xx' | 'connect-error' | 'reset' | 'timeout';
  readonly status?: number;
  readonly error?: string;
}

export interface RequestRecord {
  id: string;
  readonly method: string;
  readonly path: string;
  /** Status sent to the client (0: none, the connection was reset). */
  status: number;
  /** Who produced the response the client got. */
  answeredBy: 'upstream' | 'filter' | 'epp' | 'gateway' | 'none';
  pickedBy?: PickSource;
  /** The endpoint list the upstream attempts walked, in order. */
  endpoints: string[];
  attempts: AttemptRecord[];
  /** The endpoint that produced the response (reported to the EPP as ...-served). */
  served?: string;
  /** Why the EPP could not be used, when the failure mode applied. */
  eppFailure?: string;
  /** Why the response was cut short or failed. */
  error?: string;
  /** The client received the whole response. */
  complete: boolean;
  /** Time from the request's arrival to the end of the EPP's request phase (its routing decision). */
  eppDecisionMs?: number;
  /** CPU time the edge filter took for this request (absent without a filter). */
  filterCpuMs?: number;
  /** Time to the first response body byte written to the client. */
  ttfbMs?: number;
  durationMs: number;
}

export interface GatewayStats {
  requests: number;
  eppFailures: number;
  failOpen: number;
  failClose: number;
  retries: number;
  upstreamResets: number;
  /** Upstream attempts that got no response headers within the response timeout. */
  upstreamTimeouts: number;
}

export function newRequestRecord(method: string, path: string): RequestRecord {
  return { id: '', method, path, status: 0, answeredBy: 'none', endpoints: [], attempts: [], complete: false, durationMs: 0 };
}

export function newGatewayStats(): GatewayStats {
  return { requests: 0, eppFailures: 0, failOpen: 0, failClose: 0, retries: 0, upstreamResets: 0, upstreamTimeouts: 0 };
}
