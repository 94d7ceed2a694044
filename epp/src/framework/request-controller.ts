// The contract between the ext_proc stream state machine (epp/src/extproc) and request control
// (parse → objective/rewrite → admission → schedule). The stream machine owns protocol framing;
// request control owns every routing decision. Errors cross this boundary as values, never throws.
import type { Cancellation, Evictor } from './cancellation.js';

/** What the proxy told us about the request, from the request_headers message and stream context. */
export interface RequestInput {
  /** Request headers with lower-cased names; pseudo-headers (`:path`, `:method`, ...) included. */
  readonly headers: ReadonlyMap<string, string>;
  /** `x-request-id` from the proxy, or a generated UUID. */
  readonly requestId: string;
  /** Full request body (empty for bodiless requests). */
  readonly body: Buffer;
  /** `metadata_context.filter_metadata`, namespaces → plain JSON objects (google.protobuf.Struct decoded). */
  readonly filterMetadata: Readonly<Record<string, Record<string, unknown>>>;
  /** ext_proc `attributes` (e.g. `xds.route_name`), flattened: attribute name → value. */
  readonly attributes: ReadonlyMap<string, unknown>;
  /** gRPC initial metadata of the stream (per-route `grpc_initial_metadata` lands here), lower-cased keys. */
  readonly grpcMetadata: ReadonlyMap<string, string>;
  /** Tells request control when the proxy gives up on the request (e.g. while it waits in flow control). */
  readonly cancellation?: Cancellation;
  /** Lets request control end the request after routing it (flow control's eviction). */
  readonly evictor?: Evictor;
}

export type RejectStatus = 400 | 401 | 403 | 404 | 429 | 500 | 503;

/** GIE's internal error code names, by the HTTP status they map to (pkg/common/error). */
export const GIE_ERROR_CODES: Readonly<Record<RejectStatus, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  429: 'ResourceExhausted',
  500: 'Internal',
  503: 'ServiceUnavailable',
};

export interface RouteDecision {
  readonly kind: 'route';
  /** Endpoint keys, best first; joined with ',' into x-gateway-destination-endpoint. */
  readonly endpoints: readonly string[];
  /** Headers to set on the upstream request besides the destination (e.g. a prefill endpoint). */
  readonly setHeaders: ReadonlyMap<string, string>;
  /** Header names to remove from the upstream request (internal headers a client tried to send). */
  readonly removeHeaders: readonly string[];
  /** The body to send upstream when it changed (model rewrite); undefined = unchanged. */
  readonly body: Buffer | undefined;
  /** Extra dynamic metadata: namespace → key → value, merged next to envoy.lb. */
  readonly metadata: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Opaque per-request state handed back on the response path. */
  readonly handle: RequestHandle;
}

export interface RejectDecision {
  readonly kind: 'reject';
  readonly status: RejectStatus;
  /** Human-readable reason; the body is `inference error: <Code> - <message>` as in GIE. */
  readonly message: string;
  /** Our catalogue code (epp/src/framework/error-catalogue.ts), sent as `x-tokenroute-error-code`. */
  readonly code: string;
  /** Headers for the client's response besides the code (e.g. x-llm-d-request-dropped-reason). */
  readonly headers?: ReadonlyMap<string, string>;
}

export type Decision = RouteDecision | RejectDecision;

/** Per-request state request control keeps between the request and the response path. */
export interface RequestHandle {
  readonly requestId: string;
  /**
   * Called once the proxy's response headers arrive (lower-cased names; `:status` included).
   * Returns headers to add to the client's response (e.g. a session token), if any.
   */
  onResponseHeaders(headers: ReadonlyMap<string, string>): ReadonlyMap<string, string> | void;
  /**
   * Called for each response body chunk; returns the chunk to send downstream (the same buffer
   * when unchanged, e.g. no model rewrite to undo). `endOfStream` marks the last chunk.
   */
  onResponseBody(chunk: Buffer, endOfStream: boolean): Buffer;
  /** The endpoint that actually served (`envoy.lb` / `x-gateway-destination-endpoint-served`). */
  onServed(endpoint: string): void;
  /** The stream ended, for whatever reason; releases in-flight accounting. Called exactly once. */
  onEnd(outcome: 'complete' | 'cancelled' | 'error'): void;
}

export interface RequestController {
  /** A request with a body, once the whole body is in. */
  handleRequest(input: RequestInput): Decision | Promise<Decision>;
  /** A request that ended at its headers (no body): GIE picks any ready endpoint, no parsing. */
  handleBodiless(input: RequestInput): Decision;
  /**
   * A request with a body, decided at its headers when they say enough (the edge filter's
   * verified headers): the body then streams through unread. Undefined: wait for the body.
   */
  handleHeaders?(input: RequestInput): Decision | Promise<Decision> | undefined;
}
