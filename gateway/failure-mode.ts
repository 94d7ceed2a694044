// The InferencePool's endpointPickerRef.failureMode, applied in one place. When the EPP is
// unreachable, its stream fails or a reply misses the message timeout during the request phase,
// FailOpen forwards to an endpoint of the gateway's own choosing (round-robin over the fallback
// pool) and FailClose answers 503 at once. While waiting for the response_headers reply, FailOpen
// passes the upstream response through untouched. After response body bytes were handed to the
// EPP a failure resets the client stream in both modes: Envoy's FULL_DUPLEX_STREAMED fail-open
// also only reaches the first chunk (Envoy `source/extensions/filters/http/ext_proc/ext_proc.cc`
// at v1.36, envoy#41276). The gateway fails open anywhere in the request phase because it keeps
// a copy of the body.
import { ERRORS } from '../epp/src/framework/error-catalogue.js';
import { DESTINATION_ENDPOINT_KEY, type EndpointAddress } from '../epp/src/protocol/index.js';
import type { ExtProcFailure } from './extproc/call.js';
import type { HeaderPair } from './headers.js';
import { codedReply, type LocalReply } from './local-reply.js';
import type { RateLimitedWarn } from './log.js';
import type { FailureMode } from './options.js';
import type { GatewayStats, RequestRecord } from './record.js';

export type RequestPhaseFallback = { kind: 'fail-open'; endpoints: EndpointAddress[] } | { kind: 'fail-close'; reply: LocalReply };

export class FailureModePolicy {
  private rr = 0;

  constructor(
    readonly mode: FailureMode,
    private readonly pool: readonly EndpointAddress[],
    private readonly stats: GatewayStats,
    private readonly log: RateLimitedWarn,
  ) {}

  /** Counts an EPP failure and notes it in the request's record. */
  record(rec: RequestRecord, kind: string, message: string): void {
    this.stats.eppFailures++;
    rec.eppFailure = `${kind}: ${message}`;
  }

  /** The EPP failed before its routing answer. */
  requestPhaseFailed(rec: RequestRecord, failure: ExtProcFailure): RequestPhaseFallback {
    this.record(rec, failure.kind, failure.message);
    this.log.warn({ requestId: rec.id, failure: rec.eppFailure, failureMode: this.mode }, 'gateway: endpoint picker failed');
    if (this.mode === 'FailClose') {
      this.stats.failClose++;
      return { kind: 'fail-close', reply: failCloseReply(failure.message) };
    }
    this.stats.failOpen++;
    return { kind: 'fail-open', endpoints: this.ownPick() };
  }

  /** The EPP failed on the response headers: the response passes untouched (FailOpen) or is replaced by a 503. */
  responseHeadersFailed(rec: RequestRecord, failure: ExtProcFailure): { kind: 'pass-through' } | { kind: 'fail-close'; reply: LocalReply } {
    this.record(rec, failure.kind, failure.message);
    this.log.warn({ requestId: rec.id, failure: rec.eppFailure }, 'gateway: endpoint picker failed on the response headers');
    return this.mode === 'FailOpen' ? { kind: 'pass-through' } : { kind: 'fail-close', reply: failCloseReply(failure.message) };
  }

  /** The gateway's own pick (FailOpen, or no EPP): the pool rotated one step further each time. */
  ownPick(): EndpointAddress[] {
    const pool = this.pool;
    if (pool.length === 0) return [];
    const i = this.rr++ % pool.length;
    return [...pool.slice(i), ...pool.slice(0, i)];
  }
}

function failCloseReply(message: string): LocalReply {
  return codedReply(ERRORS.GATEWAY_EPP_UNAVAILABLE, `endpoint picker unavailable (FailClose): ${message}`);
}

/** Routing headers a client may have sent: never forwarded when the gateway routes on its own. */
export function stripRoutingHeaders(pairs: HeaderPair[]): HeaderPair[] {
  return pairs.filter(([k]) => !k.startsWith(DESTINATION_ENDPOINT_KEY) && !k.startsWith('x-tokenroute-'));
}
