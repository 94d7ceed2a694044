// One HTTP stream's decode path through the filter, as Envoy's filter manager drives a Wasm HTTP
// filter (Envoy source/extensions/common/wasm/context.cc decodeHeaders / decodeData /
// decodeTrailers and FilterManager's buffering and continue rules), one method per phase:
// decodeHeaders → decodeData per frame → decodeTrailers → settle (continue, stalled) → destroy
// (proxy_on_log, proxy_on_done, proxy_on_delete). Each callback goes through cpp-host's status
// conversion and CHECK_FAIL_HTTP; deferred actions (local reply, continue, reset) run after it.
import {
  DataStatus,
  DATA_STATUS_NAMES,
  HeadersStatus,
  HEADERS_STATUS_NAMES,
  TrailersStatus,
  TRAILERS_STATUS_NAMES,
} from './envoy-abi.js';
import { HeaderMap, type HeaderPair } from './header-map.js';
import { bytesStringToUtf8, concat, StreamState, toBytes, utf8ToBytesString, type ContextState } from './state.js';
import type { CallbackRecord, FailurePolicy, HostAction, HostRequest, HostResult, LocalReply, LogEntry } from './types.js';
import type { Vm } from './vm.js';

/** What a stream needs from the host's configuration. */
export interface StreamHost {
  readonly failurePolicy: FailurePolicy;
  /** The stream's request buffer limit (route request_body_buffer_limit or the listener's). */
  readonly bufferLimitBytes: number;
  /** PluginConfig.allow_on_headers_stop_iteration. */
  readonly allowOnHeadersStopIteration: boolean;
}

export class HttpStream {
  private readonly headers: HeaderMap;
  private readonly before: HeaderPair[];
  private readonly chunks: Uint8Array[];
  private readonly trailerPairs: HeaderPair[];
  private readonly hasTrailers: boolean;
  private readonly callbacks: CallbackRecord[] = [];
  private readonly forwardedBody: Uint8Array[] = [];
  private trailers = new HeaderMap();

  // Set by run().
  private vm!: Vm;
  private stream!: StreamState;
  private ctx!: ContextState;
  private trap: string | undefined;
  private action: HostAction | undefined;
  private localReply: LocalReply | undefined;
  private headersForwarded: HeaderPair[] | null = null;
  private headersPaused = false; // StopIteration: this filter's data callbacks continue
  private stopAll = false; // StopAllIteration*: no callbacks until continue
  private stopAllBuffer = false;
  private endStreamOnHeaders = false;
  private dataPaused = false;
  private trailersPaused = false;
  private failOpenSkip = false; // the VM failed during this stream with fail-open: the filter is bypassed

  constructor(
    private readonly host: StreamHost,
    private readonly worker: number,
    private readonly req: HostRequest,
    private readonly logs: LogEntry[],
  ) {
    this.headers = buildHeaders(req);
    this.before = this.headers.pairs();
    this.chunks = normalizeBody(req.body);
    this.trailerPairs = req.trailers ? (Array.isArray(req.trailers) ? (req.trailers as HeaderPair[]) : Object.entries(req.trailers)) : [];
    this.hasTrailers = this.trailerPairs.length > 0;
  }

  /** The result when the filter never ran (Wasm FilterConfig::createFilter on a failed VM). */
  untouched(action: HostAction, localReply?: LocalReply, skipped = false): HostResult {
    const after = this.headers.pairs();
    return {
      action,
      worker: this.worker,
      contextId: 0,
      headersBefore: decodePairs(this.before),
      headersAfter: decodePairs(after),
      addedHeaders: [],
      removedHeaders: [],
      body: action === 'continue' ? concat(this.chunks) : new Uint8Array(0),
      trailers: decodePairs(this.trailerPairs.map(([k, v]) => [k.toLowerCase(), utf8ToBytesString(v)])),
      ...(localReply ? { localReply } : {}),
      logs: this.logs,
      callbacks: this.callbacks,
      filterSkipped: skipped,
    };
  }

  /** Runs the stream on `vm` (a new stream context under its root) to its end. */
  run(vm: Vm, connectionId: bigint): HostResult {
    this.vm = vm;
    const contextId = vm.nextContextId++;
    this.stream = new StreamState(this.headers, this.req.routeName, this.req.clusterName, new Map(Object.entries(this.req.properties ?? {})), connectionId);
    this.ctx = { id: contextId, parentId: vm.rootContextId, stream: this.stream };
    vm.contexts.set(contextId, this.ctx);
    this.decodeHeaders();
    for (let i = 0; i < this.chunks.length && !this.action; i++) {
      if (!this.decodeData(this.chunks[i], i === this.chunks.length - 1 && !this.hasTrailers)) break;
    }
    this.decodeTrailers();
    this.settle();
    this.destroy();
    return this.result();
  }

  // ---- phases ------------------------------------------------------------------------------------

  /** decodeHeaders: onCreate() then onRequestHeaders(headers.size(), end_stream). */
  private decodeHeaders(): void {
    const { vm, ctx, stream } = this;
    const endOfStreamOnHeaders = this.chunks.length === 0 && !this.hasTrailers;
    vm.call('proxy_on_context_create', ctx, ctx.id, vm.rootContextId);
    if (vm.failed) {
      this.trap = vm.failed;
      if (this.host.failurePolicy === 'FAIL_OPEN') this.failOpenSkip = true;
      else this.endWith(failStreamReply());
    }
    if (this.action || this.failOpenSkip) return;
    stream.endOfStream = endOfStreamOnHeaders;
    const status = vm.has('proxy_on_request_headers')
      ? this.callback('proxy_on_request_headers', [this.headers.size, endOfStreamOnHeaders ? 1 : 0], (r) => this.convertHeadersStatus(r), HEADERS_STATUS_NAMES)
      : HeadersStatus.Continue;
    if (status === HeadersStatus.Continue) {
      stream.headersAvailable = false; // decodeHeaders: request_headers_ = nullptr
      this.forwardHeaders();
    } else if (status === HeadersStatus.ContinueAndEndStream) {
      stream.headersAvailable = false;
      this.forwardHeaders();
      this.endStreamOnHeaders = true;
    } else if (status === HeadersStatus.StopIteration) {
      this.headersPaused = true;
    } else if (status !== undefined) {
      this.stopAll = true;
      this.stopAllBuffer = status === HeadersStatus.StopAllIterationAndBuffer;
    }
    if (!this.action) this.continueIfRequested();
  }

  /** One data frame (Context::decodeData and the filter manager around it); false ends the frames. */
  private decodeData(chunk: Uint8Array, last: boolean): boolean {
    const { stream } = this;
    const bufferLimit = this.host.bufferLimitBytes;
    if (this.endStreamOnHeaders) return true; // the stream already ended with the headers
    if (this.failOpenSkip) {
      this.resume();
      this.forwardedBody.push(chunk);
      return true;
    }
    if (this.stopAll) {
      // The filter manager holds the data; with StopAllIterationAndBuffer it enforces the limit.
      stream.buffered.push(chunk);
      stream.bufferedLength += chunk.length;
      if (this.stopAllBuffer && stream.bufferedLength > bufferLimit) this.endWith(payloadTooLarge());
      return true;
    }
    if (stream.bufferingRequestBody) {
      stream.buffered.push(chunk); // addDecodedData(data, false)
      stream.bufferedLength += chunk.length;
      if (stream.bufferedLength > bufferLimit) {
        // FilterManager requestDataTooLarge (non-streaming): 413 local reply; the VM is not called.
        this.endWith(payloadTooLarge());
        return false;
      }
      stream.currentChunk = null;
    } else {
      stream.currentChunk = chunk;
    }
    stream.endOfStream = last;
    const bodySize = stream.bufferingRequestBody ? stream.bufferedLength : chunk.length;
    let status: number | undefined = DataStatus.Continue;
    if (this.vm.has('proxy_on_request_body')) {
      stream.inBodyCallback = true;
      status = this.callback('proxy_on_request_body', [bodySize, last ? 1 : 0], (r) => this.convertDataStatus(r), DATA_STATUS_NAMES);
      stream.inBodyCallback = false;
      if (this.failOpenSkip) status = DataStatus.Continue;
      if (status === undefined) return false;
    }
    const wasBuffering = stream.bufferingRequestBody;
    stream.bufferingRequestBody = false;
    if (!wasBuffering && stream.currentChunk) {
      // commonHandleBufferData: a chunk the filter stops on moves into the filter manager's
      // buffer (and goes on from there when the filter continues).
      if (status !== DataStatus.StopIterationNoBuffer) {
        stream.buffered.push(stream.currentChunk);
        stream.bufferedLength += stream.currentChunk.length;
      }
    }
    stream.currentChunk = null;
    if (status === DataStatus.Continue) {
      // Continuing data also continues headers held with StopIteration (commonContinue).
      this.resume();
    } else {
      // StopIterationAndBuffer / StopIterationAndWatermark keep the data (only the first
      // enforces the limit); StopIterationNoBuffer drops this chunk.
      this.dataPaused = true;
      stream.bufferingRequestBody = status === DataStatus.StopIterationAndBuffer;
      if (stream.bufferingRequestBody && stream.bufferedLength > bufferLimit) this.endWith(payloadTooLarge());
    }
    if (!this.action) this.continueIfRequested();
    return true;
  }

  /** decodeTrailers → onRequestTrailers. */
  private decodeTrailers(): void {
    const { stream } = this;
    this.trailers = new HeaderMap(this.trailerPairs.map(([k, v]) => [k, utf8ToBytesString(v)] as HeaderPair));
    if (this.action || !this.hasTrailers || this.failOpenSkip || this.stopAll) return;
    stream.trailers = this.trailers;
    stream.trailersAvailable = true;
    const status = this.vm.has('proxy_on_request_trailers')
      ? this.callback('proxy_on_request_trailers', [this.trailers.size], (r) => this.convertTrailersStatus(r), TRAILERS_STATUS_NAMES)
      : TrailersStatus.Continue;
    if (status === TrailersStatus.Continue || this.failOpenSkip) {
      stream.trailersAvailable = false;
      this.resume();
    } else if (status !== undefined) {
      this.trailersPaused = true;
    }
    if (!this.action) this.continueIfRequested();
  }

  /** After the last frame: the request went on, or something holds it and nothing resumes it. */
  private settle(): void {
    if (this.action) return;
    if (this.failOpenSkip) this.resume();
    if (this.stopAll || this.headersPaused || this.dataPaused || this.trailersPaused) {
      this.action = 'stalled';
    } else {
      this.forwardHeaders();
      this.action = 'continue';
    }
  }

  /**
   * End of stream: access log, then filter destruction (HCM doDeferredStreamDestroy: log() before
   * destroyFilters(); Context::onDestroy → onDone + onDelete).
   */
  private destroy(): void {
    const { vm, ctx, stream } = this;
    if (!vm.failed) {
      if (vm.has('proxy_on_log')) {
        stream.headersAvailable = true; // readable in the access-log phase
        vm.call('proxy_on_log', ctx, ctx.id);
        vm.afterCall.length = 0;
      }
      vm.call('proxy_on_done', ctx, ctx.id);
      vm.afterCall.length = 0;
      vm.call('proxy_on_delete', ctx, ctx.id);
      vm.afterCall.length = 0;
      if (vm.failed) this.trap ??= vm.failed;
    }
    vm.contexts.delete(ctx.id);
  }

  private result(): HostResult {
    const after = this.headersForwarded ?? this.headers.pairs();
    const beforeDecoded = decodePairs(this.before);
    const afterDecoded = decodePairs(after);
    return {
      action: this.action!,
      worker: this.worker,
      contextId: this.ctx.id,
      headersBefore: beforeDecoded,
      headersAfter: afterDecoded,
      addedHeaders: diffAdded(beforeDecoded, afterDecoded),
      removedHeaders: diffRemoved(beforeDecoded, afterDecoded),
      body: this.action === 'continue' ? concat(this.forwardedBody.length ? this.forwardedBody : [new Uint8Array(0)]) : new Uint8Array(0),
      trailers: decodePairs(this.trailers.pairs()),
      ...(this.localReply ? { localReply: this.localReply } : {}),
      logs: this.logs,
      callbacks: this.callbacks,
      ...(this.trap ? { trap: this.trap } : {}),
      filterSkipped: this.failOpenSkip,
    };
  }

  // ---- the filter manager's moves ------------------------------------------------------------------

  private forwardHeaders(): void {
    this.headersForwarded ??= this.headers.pairs();
  }

  /** The filter manager resumes the stream: held headers and buffered data go on. */
  private resume(): void {
    this.headersPaused = this.dataPaused = this.trailersPaused = this.stopAll = false;
    this.forwardHeaders();
    this.forwardedBody.push(...this.stream.buffered);
    this.stream.buffered = [];
    this.stream.bufferedLength = 0;
  }

  private endWith(reply: LocalReply): void {
    this.localReply = reply;
    this.action = 'localReply';
  }

  private continueIfRequested(): void {
    if (this.stream.continueRequested) {
      this.stream.continueRequested = false;
      this.resume();
    }
  }

  /**
   * One callback into the VM with cpp-host's status conversion, then CHECK_FAIL_HTTP (a trap:
   * fail-open bypasses the filter, fail-closed answers 503) and the deferred actions (a local
   * reply ends the stream; proxy_continue_stream resumes it). Returns the effective status, or
   * undefined when the stream ended or the filter is now bypassed.
   */
  private callback(name: string, args: number[], convert: (r: number) => number, names: readonly string[]): number | undefined {
    const { vm, stream } = this;
    vm.stopNextIteration = false;
    const returned = vm.call(name, this.ctx, this.ctx.id, ...args);
    const converted = convert(returned ?? 0);
    vm.stopNextIteration = false;
    this.callbacks.push({ callback: name, ...(returned !== undefined ? { returned } : {}), effective: names[converted] });
    if (vm.failed) {
      this.trap ??= vm.failed;
      vm.afterCall.length = 0;
      if (this.host.failurePolicy === 'FAIL_OPEN') this.failOpenSkip = true;
      else this.endWith(failStreamReply()); // Context::failStream
      return undefined;
    }
    vm.runAfterCallActions();
    if (stream.localReply) {
      this.endWith(stream.localReply);
      return undefined;
    }
    if (stream.resetRequested) {
      this.action = 'reset';
      return undefined;
    }
    return converted;
  }

  /** cpp-host ContextBase::convertVmCallResultToFilterHeadersStatus. */
  private convertHeadersStatus(result: number): number {
    const r = result >>> 0;
    if (this.vm.stopNextIteration || r > HeadersStatus.StopAllIterationAndWatermark) return HeadersStatus.StopAllIterationAndWatermark;
    if (r === HeadersStatus.StopIteration && !this.host.allowOnHeadersStopIteration) {
      // Default for ABI 0.2.x: StopIteration pauses everything (proxy-wasm-cpp-host issue #143).
      return HeadersStatus.StopAllIterationAndWatermark;
    }
    return r;
  }

  /** cpp-host convertVmCallResultToFilterDataStatus. */
  private convertDataStatus(result: number): number {
    const r = result >>> 0;
    if (this.vm.stopNextIteration || r > DataStatus.StopIterationNoBuffer) return DataStatus.StopIterationNoBuffer;
    return r;
  }

  /** cpp-host convertVmCallResultToFilterTrailersStatus. */
  private convertTrailersStatus(result: number): number {
    const r = result >>> 0;
    if (this.vm.stopNextIteration || r > TrailersStatus.StopIteration) return TrailersStatus.StopIteration;
    return r;
  }
}

export function failStreamReply(): LocalReply {
  // Context::failStream: sendLocalReply(503, "", nullptr, Unavailable, "wasm_fail_stream").
  return { status: 503, body: '', headers: [], details: 'wasm_fail_stream', grpcStatus: 14 };
}

function payloadTooLarge(): LocalReply {
  // FilterManager ActiveStreamDecoderFilter::requestDataTooLarge.
  return { status: 413, body: 'Payload Too Large', headers: [], details: 'request_payload_too_large' };
}

function buildHeaders(req: HostRequest): HeaderMap {
  const m = new HeaderMap();
  m.add(':method', req.method ?? 'POST');
  m.add(':scheme', req.scheme ?? 'http');
  m.add(':authority', req.authority ?? 'localhost');
  m.add(':path', req.path ?? '/');
  const given = req.headers ? (Array.isArray(req.headers) ? (req.headers as HeaderPair[]) : Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as HeaderPair) : [[k, v as string] as HeaderPair]))) : [];
  for (const [k, v] of given) {
    const key = k.toLowerCase();
    if (key.startsWith(':') && m.get(key) !== undefined) m.set(key, utf8ToBytesString(v));
    else m.add(key, utf8ToBytesString(v));
  }
  return m;
}

function normalizeBody(body: HostRequest['body']): Uint8Array[] {
  if (body === undefined) return [];
  if (typeof body === 'string' || body instanceof Uint8Array) return [toBytes(body)];
  return (body as readonly (string | Uint8Array)[]).map(toBytes);
}

function decodePairs(pairs: readonly HeaderPair[]): [string, string][] {
  return pairs.map(([k, v]) => [bytesStringToUtf8(k), bytesStringToUtf8(v)]);
}

function diffAdded(before: readonly HeaderPair[], after: readonly HeaderPair[]): [string, string][] {
  const remaining = new Map<string, number>();
  for (const [k, v] of before) remaining.set(`${k}\0${v}`, (remaining.get(`${k}\0${v}`) ?? 0) + 1);
  const added: [string, string][] = [];
  for (const [k, v] of after) {
    const key = `${k}\0${v}`;
    const n = remaining.get(key) ?? 0;
    if (n > 0) remaining.set(key, n - 1);
    else added.push([k, v]);
  }
  return added;
}

function diffRemoved(before: readonly HeaderPair[], after: readonly HeaderPair[]): string[] {
  const present = new Set(after.map(([k]) => k));
  return [...new Set(before.map(([k]) => k).filter((k) => !present.has(k)))];
}
