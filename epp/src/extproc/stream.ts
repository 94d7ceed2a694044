// One ext_proc stream (= one HTTP request through the proxy) as a state machine: it turns the
// proxy's ProcessingRequests into RequestController calls and answers with ProcessingResponses in
// the order Envoy requires. Transport-agnostic (a Sink receives the replies) so the same code runs
// under the gRPC server, in benchmarks and in unit tests.
//
// Request path, by the proxy's request body mode (ProtocolConfiguration, field 11 of the first
// message; absent → FULL_DUPLEX_STREAMED, GIE's assumption, overridable):
//   FULL_DUPLEX_STREAMED  headers: no reply yet; body chunks: accumulate; at end_of_stream (or at
//                         request_trailers, which then mark the end) ask the controller, then send
//                         ONE headers response (destination header, clear_route_cache, envoy.lb
//                         dynamic metadata), the body as StreamedBodyResponse chunks of ≤ 62,000
//                         bytes (the last with end_of_stream, unless trailers follow), and, if the
//                         request had trailers, the trailers response last: Envoy's duplex mode
//                         requires headers → body → trailers order.
//   BUFFERED              headers: CONTINUE at once (Envoy waits for it before buffering); the one
//                         buffered body message: decide and put the destination header mutation,
//                         clear_route_cache and the dynamic metadata on the BodyResponse. Legal
//                         because in BUFFERED mode Envoy keeps the request headers until the body
//                         response (processor_state.cc applies header mutations in the
//                         BufferedBodyCallback and clears the route cache there), and it applies
//                         dynamic_metadata from body responses too.
//   NONE / end_of_stream  route at the headers via handleBodiless and answer immediately.
//   STREAMED, BUFFERED_PARTIAL  not supported by GIE: routed at the headers like bodiless, body
//                         chunks then pass through unchanged (one empty BodyResponse each).
// Response path: response_headers → handle.onResponseHeaders, CONTINUE + GIE's debug header;
// a stream whose first message is response_headers had its request phase skipped by the proxy
// (processing mode SKIP for request headers on the route): its response passes through unchanged
// (CONTINUE, body chunks streamed back as they are), with no routed request behind it;
// response_body → handle.onResponseBody per chunk (duplex: StreamedBodyResponse right away;
// other modes: a body mutation only when the handle changed the chunk); response_trailers →
// TrailersResponse. The served endpoint (envoy.lb/x-gateway-destination-endpoint-served) is
// reported once.
//
// Error semantics:
//   - RejectDecision → ImmediateResponse (GIE status/body) and the stream ends cleanly (OK).
//   - The controller throws or its promise rejects → 500 ImmediateResponse, stream ends OK.
//   - Body over maxRequestBodyBytes → 400 ImmediateResponse (BadRequest).
//   - Protocol violations (body before headers, a second request_headers, a message with no
//     payload, ...) → the stream fails with a gRPC status (FAILED_PRECONDITION or
//     INVALID_ARGUMENT). Only a broken or misconfigured proxy can cause them, never the client,
//     so the proxy's own failure mode (failure_mode_allow = FailOpen/FailClose) should decide
//     the HTTP outcome; Envoy turns a gRPC error into its status_on_error (500) when failing
//     closed. GIE's Go EPP does the same for unknown message types.
//   - A response-path hook throws → logged, data passes through unchanged, hooks are not called
//     again, and the handle ends with 'error': failing a served inference over bookkeeping would
//     be worse than losing that bookkeeping.
//   - Cancel / stream error / half-close before the request was answered → nothing more is
//     written, handle.onEnd('cancelled') exactly once (also when the controller's promise settles
//     after the cancel).
// Completion: the handle ends 'complete' as soon as the last response-path message is answered
// (response end_of_stream or trailers), not when the gRPC stream closes: Envoy may reset the
// stream right after its last response, which must not count as a cancel. A graceful half-close
// after the request was answered (proxy not sending the response path) is also 'complete'.
import { randomUUID } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from '../observability/logger.js';
import type { EppMetrics } from '../observability/metrics.js';
import type { Cancellation, Evictor } from '../framework/cancellation.js';
import type {
  Decision,
  RejectStatus,
  RequestController,
  RequestHandle,
  RequestInput,
  RouteDecision,
} from '../framework/request-controller.js';
import { immediateResponseFor } from '../protocol/errors.js';
import { ERRORS, type ErrorDefinition } from '../framework/error-catalogue.js';
import { buildHeaderMutation, decodeHeaderMap, type HeaderValueField } from '../protocol/headers.js';
import {
  DESTINATION_ENDPOINT_KEY,
  MAX_BODY_CHUNK_BYTES,
  REQUEST_ID_HEADER,
  WENT_INTO_RESP_HEADERS_HEADER,
} from '../protocol/keys.js';
import { decodeFilterMetadata, destinationMetadata, flattenAttributes, servedEndpoint } from '../protocol/metadata.js';
import type {
  BodySendMode,
  CommonResponse,
  HeaderMutation,
  HttpBody,
  HttpHeaders,
  ProcessingRequest,
  ProcessingResponse,
  ProtoStruct,
  ProtocolConfiguration,
} from '../protocol/types.js';
import { asBuffer, BodyAccumulator, BodyTooLargeError, EMPTY, parseContentLength } from './body.js';
import { isPromiseLike } from '../util/promise.js';

/** Where a stream's replies go. */
export interface ExtProcSink {
  send(response: ProcessingResponse): void;
  /** Finish the stream with status OK. */
  end(): void;
  /** Finish the stream with a gRPC error status. */
  fail(code: GrpcStatus, details: string): void;
}

export interface ExtProcOptions {
  readonly controller: RequestController;
  readonly logger: Logger;
  readonly metrics?: EppMetrics;
  /** Largest request body accepted (bytes); beyond it the request gets a 400. Default 64 MiB. */
  readonly maxRequestBodyBytes: number;
  /** Request body mode assumed when the proxy sends no protocol_config. Default FULL_DUPLEX_STREAMED. */
  readonly defaultRequestBodyMode: BodySendMode;
  /** Response body mode assumed when the proxy sends no protocol_config. Default FULL_DUPLEX_STREAMED. */
  readonly defaultResponseBodyMode: BodySendMode;
  /** Largest StreamedBodyResponse chunk. Default 62,000 bytes (GIE). */
  readonly bodyChunkBytes: number;
  /**
   * A stream the proxy sends nothing on for this long (while the EPP is not itself deciding) is
   * closed and its request released: a paused proxy, or a reset that never arrived, must not hold
   * in-flight load and memory forever. Default 10 minutes (the longest wait for a model server's
   * first response byte it allows); 0 disables it.
   */
  readonly streamIdleTimeoutMs: number;
  /**
   * Most request-body messages one stream may send (default 16,384). Each message costs the EPP
   * a fixed amount of CPU whatever its size, so a body trickled in tiny chunks is refused (400)
   * instead of stealing the event loop from every other stream.
   */
  readonly maxRequestBodyMessages: number;
  /**
   * Bodies at least this large (default 1 MiB) are decided on a later turn of the event loop, so
   * the messages of other streams already received are handled before the long parse.
   */
  readonly yieldBeforeBodyBytes: number;
}

export const DEFAULT_MAX_REQUEST_BODY_MESSAGES = 16_384;

/**
 * A request body larger than about this is streamed back to the proxy one slice per event-loop
 * turn (992,000 bytes: 16 of GIE's 62,000-byte chunks).
 */
export const STREAM_BACK_SLICE_BYTES = 16 * MAX_BODY_CHUNK_BYTES;

export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 10 * 60_000;

export const DEFAULT_MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;

export function resolveExtProcOptions(
  o: Pick<ExtProcOptions, 'controller' | 'logger'> & Partial<ExtProcOptions>,
): ExtProcOptions {
  const chunk = o.bodyChunkBytes ?? MAX_BODY_CHUNK_BYTES;
  if (!(chunk > 0 && chunk <= MAX_BODY_CHUNK_BYTES)) throw new RangeError(`bodyChunkBytes must be in 1..${MAX_BODY_CHUNK_BYTES}`);
  const max = o.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  if (!(max > 0)) throw new RangeError('maxRequestBodyBytes must be positive');
  return {
    controller: o.controller,
    logger: o.logger,
    metrics: o.metrics,
    maxRequestBodyBytes: max,
    defaultRequestBodyMode: o.defaultRequestBodyMode ?? 'FULL_DUPLEX_STREAMED',
    defaultResponseBodyMode: o.defaultResponseBodyMode ?? 'FULL_DUPLEX_STREAMED',
    bodyChunkBytes: chunk,
    streamIdleTimeoutMs: o.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    maxRequestBodyMessages: o.maxRequestBodyMessages ?? DEFAULT_MAX_REQUEST_BODY_MESSAGES,
    yieldBeforeBodyBytes: o.yieldBeforeBodyBytes ?? 1 << 20,
  };
}

/** How a stream ended, as counted in tokenroute_extproc_streams_total. */
export type StreamOutcome = 'complete' | 'cancelled' | 'error' | 'rejected' | 'idle_timeout' | 'evicted';

type ReqPhase =
  | 'headers' // waiting for request_headers
  | 'body' // full duplex: collecting chunks
  | 'buffered-body' // BUFFERED: headers answered, waiting for the one body message
  | 'deciding' // controller running; incoming messages are queued
  | 'passthrough' // routed at the headers, body chunks still flowing (STREAMED/BUFFERED_PARTIAL)
  | 'echo' // full duplex, routed at the headers: each body chunk goes straight back, unread
  | 'done'; // request path answered
type RespPhase = 'idle' | 'body' | 'done';

/** Where the routing answer goes, which decides its shape. */
type Placement = 'headers' | 'duplex' | 'buffered';

const WENT_INTO: Record<HeaderValueField, HeaderMutation> = {
  raw_value: buildHeaderMutation([[WENT_INTO_RESP_HEADERS_HEADER, 'true']], [], 'raw_value'),
  value: buildHeaderMutation([[WENT_INTO_RESP_HEADERS_HEADER, 'true']], [], 'value'),
};

export class ExtProcStream implements Evictor {
  private reqMode: BodySendMode;
  private respMode: BodySendMode;
  private modesKnown = false;
  private field: HeaderValueField = 'raw_value';

  private reqPhase: ReqPhase = 'headers';
  private respPhase: RespPhase = 'idle';
  private headers: Map<string, string> | undefined;
  private requestId = '';
  private filterMetadata: Record<string, ProtoStruct> | undefined;
  private attributes: Record<string, ProtoStruct> | undefined;
  private body: BodyAccumulator | undefined;
  private reqBodyMessages = 0;
  private respBodyMessages = 0;
  private reqTrailersAnswered = false;
  private pending: ProcessingRequest[] | undefined;

  private handle: RequestHandle | undefined;
  /** Created with the first decision input; fired if the stream ends before the request is answered. */
  private cancellation: StreamCancellation | undefined;
  /** The proxy skipped the request phase: the response path passes through, unrouted. */
  private requestSkipped = false;
  private servedReported = false;
  private hooksBroken = false;
  private respEosDelivered = false;

  /** When the proxy last sent a message (Date.now()), for the idle reclaim. */
  private lastActivityMs = Date.now();

  /** Set once the stream's result is final: no more processing of input, no more writes. */
  private terminal = false;
  private sinkClosed = false;
  private outcome: StreamOutcome | undefined;

  constructor(
    private readonly opts: ExtProcOptions,
    private readonly sink: ExtProcSink,
    private readonly grpcMetadata: ReadonlyMap<string, string> = new Map(),
  ) {
    this.reqMode = opts.defaultRequestBodyMode;
    this.respMode = opts.defaultResponseBodyMode;
  }

  /** The outcome once decided (for tests and logs). */
  get result(): StreamOutcome | undefined {
    return this.outcome;
  }

  // ---- inputs from the transport -------------------------------------------------------------

  onMessage(msg: ProcessingRequest): void {
    if (this.terminal) return;
    this.lastActivityMs = Date.now();
    if (this.reqPhase === 'deciding') {
      // Envoy does not send more while it waits for us, but a queue keeps order if one does.
      (this.pending ??= []).push(msg);
      return;
    }
    this.dispatchSafely(msg);
  }

  /** The proxy half-closed its side: it will send nothing more. */
  onClientEnd(): void {
    if (this.sinkClosed) return;
    if (!this.terminal) {
      // A graceful close after the request was answered (and no response body was in flight)
      // is the proxy saying "done"; anything earlier means it gave up on the request.
      // (Routed at its headers, a request whose body the proxy never sent — a route with request body
      // mode NONE — is answered too.)
      const answered = (this.reqPhase === 'done' || this.reqPhase === 'echo') && this.respPhase !== 'body';
      this.finish(answered ? 'complete' : 'cancelled');
      this.terminal = true;
      this.release();
    }
    this.closeSink();
  }

  /** Nothing more will be read or written on this stream. */
  get closed(): boolean {
    return this.terminal && this.sinkClosed;
  }

  /**
   * Whether the proxy has been silent for `idleMs` on a stream still open (the EPP's own
   * deciding time does not count).
   */
  isIdle(nowMs: number, idleMs: number): boolean {
    return !this.sinkClosed && this.reqPhase !== 'deciding' && nowMs - this.lastActivityMs >= idleMs;
  }

  /** Closes a silent stream: its request ends 'cancelled' (once), the proxy gets DEADLINE_EXCEEDED. */
  onIdleTimeout(idleMs: number): void {
    if (this.sinkClosed) return;
    const errorCode = ERRORS.STREAM_IDLE_TIMEOUT.code;
    this.opts.logger.warn({ requestId: this.requestId || undefined, idleMs, errorCode }, `${errorCode}: ext_proc stream silent for ${idleMs} ms; closed`);
    if (!this.terminal) {
      this.terminal = true;
      this.release();
    }
    this.finish('idle_timeout');
    this.failSink(GrpcStatus.DEADLINE_EXCEEDED, `${errorCode}: no message from the proxy for ${idleMs} ms`);
  }

  /**
   * Evictor: request control ends this routed request while it runs (flow control reclaiming its
   * capacity). The proxy gets an immediate response — the client's answer before the model
   * server's response headers, a reset after them (Envoy cannot send a second set of headers) —
   * and the request's handle ends 'cancelled', releasing its in-flight load.
   */
  evict(status: 429 | 503, message: string, code: string, headers: ReadonlyMap<string, string>): boolean {
    if (this.terminal || this.sinkClosed || !this.handle) return false;
    this.sendReject(status, message, code, 'evicted', headers);
    return true;
  }

  /** The call was cancelled or failed under us: nothing may be written any more. */
  onCancel(): void {
    this.sinkClosed = true;
    if (this.outcome === undefined) this.finish('cancelled');
    if (!this.terminal) {
      this.terminal = true;
      this.release();
    }
  }

  // ---- dispatch -------------------------------------------------------------------------------

  private dispatchSafely(msg: ProcessingRequest): void {
    try {
      this.dispatch(msg);
    } catch (err) {
      this.internalFailure(err);
    }
  }

  private dispatch(msg: ProcessingRequest): void {
    if (!this.modesKnown) this.initModes(msg.protocol_config);
    switch (msg.request ?? requestKind(msg)) {
      case 'request_headers':
        return this.onRequestHeaders(msg.request_headers ?? {}, msg);
      case 'request_body':
        return this.onRequestBody(msg.request_body ?? {}, msg);
      case 'request_trailers':
        return this.onRequestTrailers(msg);
      case 'response_headers':
        return this.onResponseHeaders(msg.response_headers ?? {}, msg);
      case 'response_body':
        return this.onResponseBody(msg.response_body ?? {}, msg);
      case 'response_trailers':
        return this.onResponseTrailers(msg);
      default:
        return this.violation(GrpcStatus.INVALID_ARGUMENT, 'ProcessingRequest carries no request or response message');
    }
  }

  private initModes(pc: ProtocolConfiguration | undefined): void {
    this.modesKnown = true;
    if (!pc) return;
    // Present config with an absent field means NONE: proto3 does not encode the zero value.
    this.reqMode = this.normalizeMode(pc.request_body_mode, 'request');
    this.respMode = this.normalizeMode(pc.response_body_mode, 'response');
  }

  private normalizeMode(v: BodySendMode | number | undefined, which: string): BodySendMode {
    switch (v) {
      case undefined:
      case 'NONE':
      case 0:
        return 'NONE';
      case 'STREAMED':
      case 1:
        return 'STREAMED';
      case 'BUFFERED':
      case 2:
        return 'BUFFERED';
      case 'BUFFERED_PARTIAL':
      case 3:
        return 'BUFFERED_PARTIAL';
      case 'FULL_DUPLEX_STREAMED':
      case 4:
        return 'FULL_DUPLEX_STREAMED';
      default: {
        const fallback = which === 'request' ? this.opts.defaultRequestBodyMode : this.opts.defaultResponseBodyMode;
        this.opts.logger.warn({ mode: v, which, fallback }, 'unknown ext_proc body mode in protocol_config');
        return fallback;
      }
    }
  }

  // ---- request path ---------------------------------------------------------------------------

  private onRequestHeaders(h: HttpHeaders, msg: ProcessingRequest): void {
    if (this.reqPhase !== 'headers') {
      return this.violation(GrpcStatus.FAILED_PRECONDITION, 'request_headers received twice on one stream');
    }
    const decoded = decodeHeaderMap(h.headers);
    this.headers = decoded.headers;
    if (decoded.field) this.field = decoded.field;
    this.requestId = decoded.headers.get(REQUEST_ID_HEADER) || randomUUID();
    this.captureContext(msg);

    const mode = this.reqMode;
    const bodiless = h.end_of_stream === true || mode === 'NONE';
    // The edge filter read the body inside the proxy: when its headers say enough, decide now and
    // let the body stream through (issue 13).
    if (mode !== 'BUFFERED' && this.decideAtHeaders(bodiless ? 'done' : mode === 'FULL_DUPLEX_STREAMED' ? 'echo' : 'passthrough')) return;
    if (bodiless) {
      return this.decide('bodiless', EMPTY, 'headers', 'done', false);
    }
    if (mode === 'STREAMED' || mode === 'BUFFERED_PARTIAL') {
      return this.decide('bodiless', EMPTY, 'headers', 'passthrough', false);
    }
    if (mode === 'BUFFERED') {
      this.reqPhase = 'buffered-body';
      this.send({ request_headers: {} });
      return;
    }
    this.reqPhase = 'body';
    this.body = new BodyAccumulator(this.opts.maxRequestBodyBytes, parseContentLength(decoded.headers.get('content-length')));
  }

  private onRequestBody(b: HttpBody, msg: ProcessingRequest): void {
    switch (this.reqPhase) {
      case 'body': {
        if (++this.reqBodyMessages > this.opts.maxRequestBodyMessages) {
          this.opts.metrics?.limitRejections.inc({ limit: 'body_messages' });
          return this.reject(ERRORS.REQUEST_BODY_TOO_FRAGMENTED, `request body arrived in more than ${this.opts.maxRequestBodyMessages} messages`, 'rejected');
        }
        this.captureContext(msg);
        if (b.body) {
          try {
            this.body!.append(b.body);
          } catch (err) {
            if (err instanceof BodyTooLargeError) return this.reject(ERRORS.REQUEST_BODY_TOO_LARGE, err.message, 'rejected');
            throw err;
          }
        }
        if (b.end_of_stream === true) this.decideWithCollectedBody(false);
        return;
      }
      case 'buffered-body': {
        this.reqBodyMessages++;
        this.captureContext(msg);
        const body = b.body ? asBuffer(b.body) : EMPTY;
        if (body.length > this.opts.maxRequestBodyBytes) {
          return this.reject(ERRORS.REQUEST_BODY_TOO_LARGE, new BodyTooLargeError(this.opts.maxRequestBodyBytes).message, 'rejected');
        }
        // BUFFERED sends the whole body in one message (end_of_stream is false only when trailers follow).
        return this.decide('body', body, 'buffered', 'done', false);
      }
      case 'passthrough':
        this.send({ request_body: {} });
        if (b.end_of_stream === true) this.reqPhase = 'done';
        return;
      case 'echo': {
        // Nothing is kept, so the body-size limit (a memory bound) does not apply; the message
        // count (a CPU bound) does.
        if (++this.reqBodyMessages > this.opts.maxRequestBodyMessages) {
          this.opts.metrics?.limitRejections.inc({ limit: 'body_messages' });
          return this.reject(ERRORS.REQUEST_BODY_TOO_FRAGMENTED, `request body arrived in more than ${this.opts.maxRequestBodyMessages} messages`, 'rejected');
        }
        const eos = b.end_of_stream === true;
        this.send({ request_body: { response: { body_mutation: { streamed_response: { body: b.body ? asBuffer(b.body) : EMPTY, end_of_stream: eos } } } } });
        if (eos) this.reqPhase = 'done';
        return;
      }
      case 'headers':
        return this.violation(GrpcStatus.FAILED_PRECONDITION, 'request_body received before request_headers');
      default:
        return this.violation(GrpcStatus.FAILED_PRECONDITION, 'request_body received after the request body ended');
    }
  }

  private onRequestTrailers(msg: ProcessingRequest): void {
    switch (this.reqPhase) {
      case 'body':
        // Duplex mode: trailers are how the proxy says the body is complete.
        this.captureContext(msg);
        return this.decideWithCollectedBody(true);
      case 'passthrough':
      case 'echo':
      case 'done':
        if (this.reqTrailersAnswered) {
          return this.violation(GrpcStatus.FAILED_PRECONDITION, 'request_trailers received twice on one stream');
        }
        this.reqTrailersAnswered = true;
        this.reqPhase = 'done';
        this.send({ request_trailers: {} });
        return;
      case 'headers':
        return this.violation(GrpcStatus.FAILED_PRECONDITION, 'request_trailers received before request_headers');
      default:
        return this.violation(GrpcStatus.FAILED_PRECONDITION, 'request_trailers received before the buffered request body');
    }
  }

  private decideWithCollectedBody(trailers: boolean): void {
    const body = this.body ? this.body.finish() : EMPTY;
    this.body = undefined;
    if (body.length < this.opts.yieldBeforeBodyBytes) return this.decide('body', body, 'duplex', 'done', trailers);
    // A large body: parsing it holds the event loop for a while, so let the messages other
    // streams already sent go first (incoming messages of this stream queue meanwhile).
    this.reqPhase = 'deciding';
    setImmediate(() => {
      if (!this.terminal) this.decide('body', body, 'duplex', 'done', trailers);
    });
  }

  /** Asks the controller and applies its answer, synchronously or when its promise settles. */
  /** Asks for a decision at the headers; false when the controller needs the body. */
  private decideAtHeaders(next: ReqPhase): boolean {
    const handleHeaders = this.opts.controller.handleHeaders;
    if (!handleHeaders) return false;
    let result: Decision | Promise<Decision> | undefined;
    try {
      result = handleHeaders.call(this.opts.controller, this.buildInput(EMPTY));
    } catch (err) {
      this.controllerFailed(err);
      return true;
    }
    if (result === undefined) return false;
    this.reqPhase = 'deciding';
    this.settle(result, EMPTY, 'headers', next, false);
    return true;
  }

  private decide(kind: 'bodiless' | 'body', body: Buffer, placement: Placement, next: ReqPhase, trailers: boolean): void {
    this.reqPhase = 'deciding';
    const input = this.buildInput(body);
    let result: Decision | Promise<Decision>;
    try {
      result = kind === 'body' ? this.opts.controller.handleRequest(input) : this.opts.controller.handleBodiless(input);
    } catch (err) {
      return this.controllerFailed(err);
    }
    this.settle(result, body, placement, next, trailers);
  }

  /** Applies the controller's answer now, or when its promise settles. */
  private settle(result: Decision | Promise<Decision>, body: Buffer, placement: Placement, next: ReqPhase, trailers: boolean): void {
    if (isPromiseLike(result)) {
      result.then(
        (d) => this.afterDecision(d, body, placement, next, trailers),
        (err: unknown) => {
          if (!this.terminal) this.controllerFailed(err);
        },
      );
      return;
    }
    this.afterDecision(result, body, placement, next, trailers);
  }

  private afterDecision(d: Decision, body: Buffer, placement: Placement, next: ReqPhase, trailers: boolean): void {
    if (this.terminal) {
      // Cancelled while deciding: the proxy is gone, but request control still holds state.
      if (d && d.kind === 'route') endHandle(d.handle, 'cancelled', this.opts.logger);
      return;
    }
    try {
      this.applyDecision(d, body, placement, next, trailers);
    } catch (err) {
      this.internalFailure(err);
    }
    this.drainPending();
  }

  private applyDecision(d: Decision, body: Buffer, placement: Placement, next: ReqPhase, trailers: boolean): void {
    if (!d || (d.kind !== 'route' && d.kind !== 'reject')) {
      return this.controllerFailed(new Error('request controller returned no decision'));
    }
    if (d.kind === 'reject') return this.sendReject(d.status, d.message, d.code, 'rejected', d.headers);
    if (d.endpoints.length === 0) {
      endHandle(d.handle, 'error', this.opts.logger);
      return this.controllerFailed(new Error('route decision without endpoints'));
    }
    this.handle = d.handle;
    this.reqPhase = next;
    const destination = d.endpoints.length === 1 ? d.endpoints[0] : d.endpoints.join(',');
    const dynamic_metadata = destinationMetadata(destination, d.metadata);

    if (placement === 'headers') {
      if (d.body !== undefined) {
        this.opts.logger.debug({ requestId: this.requestId }, 'body rewrite ignored: request routed at its headers');
      }
      this.send({ request_headers: { response: this.routeCommon(destination, d, undefined) }, dynamic_metadata });
      return;
    }

    if (placement === 'buffered') {
      const common = this.routeCommon(destination, d, d.body?.length);
      if (d.body !== undefined) common.body_mutation = { body: d.body };
      this.send({ request_body: { response: common }, dynamic_metadata });
      return;
    }

    // Full duplex: headers, then the body in order, then (if any) the trailers response.
    const out = d.body ?? body;
    this.send({ request_headers: { response: this.routeCommon(destination, d, d.body?.length) }, dynamic_metadata });
    // A body response when the proxy sent no body message would be spurious to Envoy.
    if (this.reqBodyMessages === 0) return this.answerRequestTrailers(trailers);
    if (out.length <= this.streamBackSlice()) {
      this.sendStreamedBody('request_body', out, !trailers, 0, out.length);
      return this.answerRequestTrailers(trailers);
    }
    // A large body goes back one slice per event-loop turn, so the messages of other streams are
    // handled between slices instead of after all of it; this stream's own messages queue meanwhile.
    this.reqPhase = 'deciding';
    this.streamBackInSlices(out, 0, !trailers, () => {
      this.reqPhase = next;
      this.answerRequestTrailers(trailers);
      this.drainPending();
    });
  }

  /** Whole chunks, about STREAM_BACK_SLICE_BYTES: slicing never changes the chunks Envoy receives. */
  private streamBackSlice(): number {
    const chunk = this.opts.bodyChunkBytes;
    return chunk * Math.max(1, Math.floor(STREAM_BACK_SLICE_BYTES / chunk));
  }

  private answerRequestTrailers(trailers: boolean): void {
    if (!trailers) return;
    this.reqTrailersAnswered = true;
    this.send({ request_trailers: {} });
  }

  private streamBackInSlices(body: Buffer, from: number, endOfStream: boolean, done: () => void): void {
    const to = Math.min(body.length, from + this.streamBackSlice());
    this.sendStreamedBody('request_body', body, endOfStream, from, to);
    if (to === body.length) return done();
    setImmediate(() => {
      if (!this.terminal) this.streamBackInSlices(body, to, endOfStream, done);
    });
  }

  private routeCommon(destination: string, d: RouteDecision, newBodyLength: number | undefined): CommonResponse {
    const set: [string, string][] = [[DESTINATION_ENDPOINT_KEY, destination]];
    for (const [k, v] of d.setHeaders) {
      if (k !== DESTINATION_ENDPOINT_KEY) set.push([k, v]);
    }
    if (newBodyLength !== undefined) set.push(['content-length', String(newBodyLength)]);
    return { header_mutation: buildHeaderMutation(set, d.removeHeaders, this.field), clear_route_cache: true };
  }

  /** Sends body[from, to) as streamed-response chunks; end_of_stream rides on the body's last chunk. */
  private sendStreamedBody(kind: 'request_body' | 'response_body', body: Buffer, endOfStream: boolean, from = 0, to = body.length): void {
    const size = this.opts.bodyChunkBytes;
    const len = body.length;
    if (len === 0) {
      this.send({ [kind]: { response: { body_mutation: { streamed_response: { body: EMPTY, end_of_stream: endOfStream } } } } });
      return;
    }
    for (let off = from; off < to; off += size) {
      const end = off + size < to ? off + size : to;
      this.send({
        [kind]: {
          response: { body_mutation: { streamed_response: { body: body.subarray(off, end), end_of_stream: endOfStream && end === len } } },
        },
      });
    }
  }

  private buildInput(body: Buffer): RequestInput {
    return {
      headers: this.headers ?? new Map(),
      requestId: this.requestId,
      body,
      filterMetadata: decodeFilterMetadata({ filter_metadata: this.filterMetadata }),
      attributes: flattenAttributes(this.attributes),
      grpcMetadata: this.grpcMetadata,
      cancellation: (this.cancellation ??= new StreamCancellation()),
      evictor: this,
    };
  }

  /** Keeps the latest filter metadata per namespace and the first attributes (Envoy sends them once). */
  private captureContext(msg: ProcessingRequest): void {
    const fm = msg.metadata_context?.filter_metadata;
    if (fm) this.filterMetadata = this.filterMetadata ? Object.assign(this.filterMetadata, fm) : { ...fm };
    if (!this.attributes && msg.attributes) {
      for (const _ in msg.attributes) {
        this.attributes = msg.attributes;
        break;
      }
    }
  }

  private drainPending(): void {
    const q = this.pending;
    if (!q) return;
    while (q.length > 0 && !this.terminal && this.reqPhase !== 'deciding') this.dispatchSafely(q.shift()!);
    if (q.length === 0) this.pending = undefined;
  }

  // ---- response path --------------------------------------------------------------------------

  private onResponseHeaders(h: HttpHeaders, msg: ProcessingRequest): void {
    if (!this.handle && this.reqPhase === 'headers' && this.respPhase === 'idle') {
      // The proxy skipped the request phase (request_header_mode SKIP): nothing was routed here,
      // so the response passes through (GIE processes such a response path as usual).
      this.reqPhase = 'done';
      this.requestSkipped = true;
    }
    const handle = this.handle;
    if (!this.requestSkipped && (!handle || (this.reqPhase !== 'done' && this.reqPhase !== 'passthrough' && this.reqPhase !== 'echo'))) {
      return this.violation(GrpcStatus.FAILED_PRECONDITION, 'response_headers received before the request was routed');
    }
    if (this.respPhase !== 'idle') {
      return this.violation(GrpcStatus.FAILED_PRECONDITION, 'response_headers received twice on one stream');
    }
    this.reportServed(msg);
    let added: ReadonlyMap<string, string> | void = undefined;
    if (handle && !this.hooksBroken) {
      try {
        added = handle.onResponseHeaders(decodeHeaderMap(h.headers).headers);
      } catch (err) {
        this.hookFailed(err, 'onResponseHeaders');
      }
    }
    const mutation = added && added.size > 0 ? buildHeaderMutation([[WENT_INTO_RESP_HEADERS_HEADER, 'true'], ...added], [], this.field) : WENT_INTO[this.field];
    this.send({ response_headers: { response: { header_mutation: mutation } } });
    if (h.end_of_stream === true) {
      this.respPhase = 'done';
      this.respEosDelivered = true;
      this.finish('complete');
    } else {
      this.respPhase = 'body';
    }
  }

  private onResponseBody(b: HttpBody, msg: ProcessingRequest): void {
    if (this.respPhase !== 'body') {
      return this.violation(
        GrpcStatus.FAILED_PRECONDITION,
        this.respPhase === 'idle' ? 'response_body received before response_headers' : 'response_body received after the response ended',
      );
    }
    this.respBodyMessages++;
    this.reportServed(msg);
    const chunk = b.body ? asBuffer(b.body) : EMPTY;
    const eos = b.end_of_stream === true;
    if (this.respMode === 'FULL_DUPLEX_STREAMED') {
      const out = this.transformResponse(chunk, eos);
      this.send({ response_body: { response: { body_mutation: { streamed_response: { body: out, end_of_stream: eos } } } } });
    } else {
      // BUFFERED hands over the whole body in one message, so it is the end for the handle even
      // when trailers follow.
      const whole = this.respMode === 'BUFFERED';
      const out = this.transformResponse(chunk, whole || eos);
      const common: CommonResponse = {};
      if (out !== chunk && !out.equals(chunk)) {
        common.body_mutation = { body: out };
        // Envoy rejects a buffered body mutation whose length disagrees with content-length;
        // the response headers are still held in BUFFERED mode, so fix the header with it.
        if (whole) common.header_mutation = buildHeaderMutation([['content-length', String(out.length)]], [], this.field);
      }
      this.send({ response_body: { response: common } });
    }
    if (eos) {
      this.respPhase = 'done';
      this.finish('complete');
    }
  }

  private onResponseTrailers(msg: ProcessingRequest): void {
    if (this.respPhase !== 'body') {
      return this.violation(
        GrpcStatus.FAILED_PRECONDITION,
        this.respPhase === 'idle' ? 'response_trailers received before response_headers' : 'response_trailers received after the response ended',
      );
    }
    this.reportServed(msg);
    if (!this.respEosDelivered) {
      // Trailers end the body: let the handle flush whatever it held back.
      const tail = this.transformResponse(EMPTY, true);
      if (tail.length > 0) {
        if (this.respMode === 'FULL_DUPLEX_STREAMED' && this.respBodyMessages > 0) {
          this.sendStreamedBody('response_body', tail, false);
        } else {
          this.opts.logger.warn(
            { requestId: this.requestId, bytes: tail.length, mode: this.respMode },
            'response body tail dropped: the proxy body mode cannot carry data after trailers',
          );
        }
      }
    }
    this.send({ response_trailers: {} });
    this.respPhase = 'done';
    this.finish('complete');
  }

  private transformResponse(chunk: Buffer, eos: boolean): Buffer {
    if (eos) this.respEosDelivered = true;
    if (this.hooksBroken || !this.handle) return chunk;
    try {
      const out = this.handle!.onResponseBody(chunk, eos);
      return out ? asBuffer(out) : chunk;
    } catch (err) {
      this.hookFailed(err, 'onResponseBody');
      return chunk;
    }
  }

  private reportServed(msg: ProcessingRequest): void {
    if (this.servedReported || this.hooksBroken || !this.handle || !msg.metadata_context) return;
    const served = servedEndpoint(msg.metadata_context);
    if (served === undefined) return;
    this.servedReported = true;
    try {
      this.handle!.onServed(served);
    } catch (err) {
      this.hookFailed(err, 'onServed');
    }
  }

  private hookFailed(err: unknown, hook: string): void {
    this.hooksBroken = true;
    this.opts.logger.error({ err, hook, requestId: this.requestId }, 'response-path hook failed; passing the response through');
  }

  // ---- endings --------------------------------------------------------------------------------

  /** A rejection of this layer's own (body limits, internal failures), with its catalogue status. */
  private reject(definition: ErrorDefinition, message: string, outcome: StreamOutcome): void {
    this.sendReject(definition.status as RejectStatus, message, definition.code, outcome);
  }

  private sendReject(status: RejectStatus, message: string, code: string, outcome: StreamOutcome, headers?: ReadonlyMap<string, string>): void {
    if (this.terminal) return;
    this.send({ immediate_response: immediateResponseFor(status, message, code, this.field, headers) });
    this.terminal = true;
    this.release();
    this.finish(outcome);
    this.closeSink();
  }

  private controllerFailed(err: unknown): void {
    this.opts.logger.error({ err, requestId: this.requestId }, 'request controller failed');
    this.reject(ERRORS.REQUEST_INTERNAL, `internal error while handling request ${this.requestId}`, 'error');
  }

  /** A bug in this layer: answer 500 if the request path is still open, else fail the stream. */
  private internalFailure(err: unknown): void {
    if (this.terminal) return;
    if (!this.handle) return this.controllerFailed(err);
    this.opts.logger.error({ err, requestId: this.requestId }, 'ext_proc stream failed');
    this.terminal = true;
    this.release();
    this.finish('error');
    this.failSink(GrpcStatus.INTERNAL, 'internal error in the endpoint picker');
  }

  private violation(code: GrpcStatus, message: string): void {
    if (this.terminal) return;
    const errorCode = ERRORS.STREAM_PROTOCOL_VIOLATION.code;
    this.opts.logger.warn({ requestId: this.requestId || undefined, code, errorCode }, `${errorCode}: ext_proc protocol violation: ${message}`);
    this.terminal = true;
    this.release();
    this.finish('error');
    this.failSink(code, `${errorCode}: ext_proc protocol violation: ${message}`);
  }

  private finish(outcome: StreamOutcome): void {
    if (this.outcome !== undefined) return;
    const final: StreamOutcome = outcome === 'complete' && this.hooksBroken ? 'error' : outcome;
    this.outcome = final;
    // The proxy gave up (or the stream broke) before the request was answered: whoever waits on
    // it (flow control's queue) lets go at once.
    if (final !== 'complete' && final !== 'rejected') this.cancellation?.fire();
    this.opts.metrics?.extprocStreams.inc({ outcome: final });
    if (this.handle) endHandle(this.handle, final === 'rejected' ? 'error' : final === 'idle_timeout' || final === 'evicted' ? 'cancelled' : final, this.opts.logger);
  }

  private release(): void {
    this.body?.discard();
    this.body = undefined;
    this.pending = undefined;
  }

  private send(response: ProcessingResponse): void {
    if (this.terminal || this.sinkClosed) return;
    this.sink.send(response);
  }

  private closeSink(): void {
    if (this.sinkClosed) return;
    this.sinkClosed = true;
    this.sink.end();
  }

  private failSink(code: GrpcStatus, details: string): void {
    if (this.sinkClosed) return;
    this.sinkClosed = true;
    this.sink.fail(code, details);
  }
}

/** The request's cancellation as request control sees it: fired once when the stream ends unanswered. */
class StreamCancellation implements Cancellation {
  cancelled = false;
  private listener: (() => void) | undefined;

  onCancel(listener: () => void): () => void {
    if (this.cancelled) {
      listener();
      return () => {};
    }
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = undefined;
    };
  }

  fire(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const l = this.listener;
    this.listener = undefined;
    l?.();
  }
}

function endHandle(handle: RequestHandle, outcome: 'complete' | 'cancelled' | 'error', logger: Logger): void {
  try {
    handle.onEnd(outcome);
  } catch (err) {
    logger.error({ err, requestId: handle.requestId }, 'request handle onEnd failed');
  }
}

/** The oneof case of a message built without proto-loader's discriminator. */
function requestKind(msg: ProcessingRequest): ProcessingRequest['request'] {
  if (msg.request_headers) return 'request_headers';
  if (msg.request_body) return 'request_body';
  if (msg.request_trailers) return 'request_trailers';
  if (msg.response_headers) return 'response_headers';
  if (msg.response_body) return 'response_body';
  if (msg.response_trailers) return 'response_trailers';
  return undefined;
}
