// Extension points around a routed request, after the scheduling decision and on the way back,
// as GIE's request control defines them (gateway-api-inference-extension
// `pkg/epp/framework/interface/requestcontrol/plugins.go`, v1.5.0: Admitter, PreRequest,
// ResponseReceived, ResponseStreaming, ResponseComplete). tokenroute adds EndpointServed: the
// proxy reports which endpoint of the fallback list really served (x-gateway-destination-
// endpoint-served), and load accounting must follow it. Per-request bookkeeping lives in the
// request's RequestState, never in closures. The built-in plugins (epp/src/requestcontrol/
// plugins/) are in-flight load, per-request metrics and the model-name restore.
import { implementing, type Plugin } from './plugins.js';
import { stateKey } from './cycle-state.js';
import type { Candidate } from './endpoint.js';
import type { InferenceRequest } from './request.js';
import type { RequestState } from './cycle-state.js';
import type { ErrorDefinition } from './error-catalogue.js';
import type { Evictor } from './cancellation.js';

/** A request the EPP routed (body parsed or bodiless), as the response-side points see it. */
export interface RoutedRequest {
  readonly requestId: string;
  /** The model the client asked for; '' for bodiless requests and for opaque bodies (passthrough-parser). */
  readonly incomingModel: string;
  /** False for a bodiless request (e.g. GET /v1/models), which GIE neither parses nor counts. */
  readonly hasBody: boolean;
  /** The model after rewrites (what the model server sees). */
  readonly targetModel: string;
  readonly priority: number;
  /** The flow-control tenant (x-llm-d-/x-gateway-inference-fairness-id). */
  readonly fairnessId: string;
  /** Tokens charged to the endpoint while the request is in flight. */
  readonly inflightTokens: number;
  readonly requestBytes: number;
  /** The endpoint chosen first (the destination). */
  readonly endpoint: string;
  /** When the decision was made (the EPP's clock, ms). */
  readonly routedAt: number;
  /** Per-request entries the plugins share. */
  readonly state: RequestState;
  /** Ends the request from the EPP's side while it runs (absent where nothing can, e.g. tests). */
  readonly evictor?: Evictor;
}

export type RequestOutcome = 'complete' | 'cancelled' | 'error';

/** The token usage the model server reported at the end of its response (request-metrics reads it). */
export interface ResponseUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number | undefined;
}

/** Written when the response's last chunk has passed, for the ResponseComplete plugins. */
export const RESPONSE_USAGE = stateKey<ResponseUsage>('response.usage');

/** Why admission refused a request: the catalogue entry (status, code), a message, response headers. */
export interface Rejection {
  readonly error: ErrorDefinition;
  readonly message: string;
  /** Headers for the client's response (flow control's x-llm-d-request-dropped-reason). */
  readonly headers?: ReadonlyMap<string, string>;
}

/**
 * Admission before scheduling: a rejection, or undefined to admit — now, or (flow control, a
 * request that waits for capacity) when the promise settles.
 */
export interface AdmissionPlugin extends Plugin {
  admit(req: InferenceRequest, candidates: readonly Candidate[], now: number): Rejection | undefined | Promise<Rejection | undefined>;
}

/** The request was routed: its destination is decided and about to be sent to the proxy. */
export interface RequestRoutedPlugin extends Plugin {
  requestRouted(req: RoutedRequest): void;
}

/** The proxy reported the endpoint that served (it differs from `req.endpoint` after a fallback). */
export interface EndpointServedPlugin extends Plugin {
  endpointServed(req: RoutedRequest, endpoint: string): void;
}

/**
 * The model server's response headers arrived (lower-cased names; `:status` included). A plugin
 * may return headers to add to the client's response (session-affinity-scorer's token).
 */
export interface ResponseReceivedPlugin extends Plugin {
  responseReceived(req: RoutedRequest, headers: ReadonlyMap<string, string>): ReadonlyMap<string, string> | void;
}

/**
 * One response body chunk on its way to the client. Returns the chunk to send on (the same
 * buffer when unchanged). `endOfStream` marks the last chunk.
 */
export interface ResponseStreamingPlugin extends Plugin {
  responseStreaming(req: RoutedRequest, chunk: Buffer, endOfStream: boolean): Buffer;
}

/** The request ended, for whatever reason; called exactly once per routed request. */
export interface ResponseCompletePlugin extends Plugin {
  responseComplete(req: RoutedRequest, outcome: RequestOutcome): void;
}

export const isAdmissionPlugin = implementing<AdmissionPlugin>('admit');
export const isRequestRoutedPlugin = implementing<RequestRoutedPlugin>('requestRouted');
export const isEndpointServedPlugin = implementing<EndpointServedPlugin>('endpointServed');
export const isResponseReceivedPlugin = implementing<ResponseReceivedPlugin>('responseReceived');
export const isResponseStreamingPlugin = implementing<ResponseStreamingPlugin>('responseStreaming');
export const isResponseCompletePlugin = implementing<ResponseCompletePlugin>('responseComplete');
