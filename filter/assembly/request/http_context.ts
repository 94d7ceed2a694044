// One HTTP request through the filter, as Envoy drives it with the PluginConfig flag
// `allow_on_headers_stop_iteration: true` (Envoy api/envoy/extensions/wasm/v3/wasm.proto, v1.35;
// without it proxy-wasm-cpp-host src/context.cc convertVmCallResultToFilterHeadersStatus turns
// StopIteration into StopAllIterationAndWatermark and the body callbacks never come; Envoy
// source/extensions/common/wasm/context.cc Context::decodeData buffers the body while the filter
// answers StopIterationAndBuffer):
//
//   headers  → strip client x-tokenroute-*; not an inference POST with a body → Continue.
//              Otherwise StopIteration: the headers wait, body callbacks keep coming.
//   body     → StopIterationAndBuffer until end_of_stream (Envoy accumulates the chunks and passes
//              the total size); then read the whole body once, tokenize, add the headers, Continue.
//              Past maxBodyBytes: give up early (error too_large) without buffering more.
//   trailers → a body that ends with trailers is finished there the same way.
//
// A failure never leaves the request stuck: in passthrough mode it is sent on with
// x-tokenroute-error; in reject mode it is answered locally (400, or 413 for too_large).
import { HttpContext } from '../abi/context';
import {
  addHeader,
  getBufferBytes,
  getHeader,
  getHeaderPairs,
  getProperty,
  incrementMetric,
  monotonicNanos,
  nowNanos,
  removeHeader,
  HeaderPair,
  sendLocalResponse,
} from '../abi/host';
import { BufferType, FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, MapType } from '../abi/types';
import { OnError } from './config';
import { jsonString } from '../json/writer';
import { ProtocolValues, encodeBlockKeys, isProtocolHeader, percentEncode, protocolHeaders } from '../protocol';
import { ErrorKind, errorCode, errorName, errorStatus } from './errors';
import { metrics, warn } from './metrics';
import { Endpoint, endpointOf } from './openai';
import { processBody } from './pipeline';
import { PluginState } from './plugin_state';
import { digestKeys } from '../digest';
import { segmentCacheTotals } from '../tokenizer/segment_cache';

/** Model names longer than this are not echoed to the EPP. */
const MAX_MODEL_HEADER_CHARS = 256;

/** One HTTP stream through the filter, with the plugin configuration it started under. */
export class TokenrouteHttpContext extends HttpContext {
  plugin: PluginState;
  endpoint: Endpoint = Endpoint.None;
  profile: string = '';
  path: string = '';
  /** True between a paused headers callback and the callback that finishes the request. */
  waiting: bool = false;

  constructor(contextId: u32, plugin: PluginState) {
    super(contextId);
    this.plugin = plugin;
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    incrementMetric(metrics.requests, 1);
    const removed = stripClientHeaders();
    if (removed > 0) incrementMetric(metrics.clientHeadersRemoved, removed);

    const method = getHeader(MapType.HttpRequestHeaders, ':method');
    const path = getHeader(MapType.HttpRequestHeaders, ':path');
    this.path = path !== null ? path : '';
    this.endpoint = method !== null && method == 'POST' ? endpointOf(this.path) : Endpoint.None;
    if (this.endpoint == Endpoint.None) {
      incrementMetric(metrics.skipped, 1);
      return FilterHeadersStatus.Continue;
    }
    // Envoy's route is resolved before the decoder filters run, so the name is readable here.
    const route = getProperty('xds\0route_name');
    this.profile = this.plugin.config.profileFor(route !== null ? String.UTF8.decodeUnsafe(route.dataStart, <usize>route.length) : null);
    if (endOfStream) {
      // An inference POST without a body: no body callback will come, so finish now.
      return this.fail(ErrorKind.BadJson, 'empty body', '') ? FilterHeadersStatus.Continue : FilterHeadersStatus.StopIteration;
    }
    this.waiting = true;
    return FilterHeadersStatus.StopIteration;
  }

  onRequestBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    if (!this.waiting) return FilterDataStatus.Continue;
    const cfg = this.plugin.config;
    if (bodySize > <u32>cfg.maxBodyBytes) {
      this.waiting = false;
      return this.fail(ErrorKind.TooLarge, `body of ${bodySize}+ bytes exceeds maxBodyBytes ${cfg.maxBodyBytes}`, '')
        ? FilterDataStatus.Continue
        : FilterDataStatus.StopIterationNoBuffer;
    }
    if (!endOfStream) return FilterDataStatus.StopIterationAndBuffer;
    this.waiting = false;
    return this.finish(bodySize) ? FilterDataStatus.Continue : FilterDataStatus.StopIterationNoBuffer;
  }

  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    if (!this.waiting) return FilterTrailersStatus.Continue;
    this.waiting = false;
    // The buffered body is still readable while this filter holds it (Envoy getBuffer with
    // buffering_request_body_); its size is whatever was buffered.
    const body = getBufferBytes(BufferType.HttpRequestBody, 0, <u32>this.plugin.config.maxBodyBytes + 1);
    const size = body !== null ? <u32>body.length : 0;
    if (size > <u32>this.plugin.config.maxBodyBytes) {
      this.fail(ErrorKind.TooLarge, `body of ${size}+ bytes exceeds maxBodyBytes ${this.plugin.config.maxBodyBytes}`, '');
      return FilterTrailersStatus.Continue;
    }
    this.finish(size);
    return FilterTrailersStatus.Continue;
  }

  /** Reads the whole body, tokenizes it and adds the headers; false when a local reply was sent. */
  private finish(bodySize: u32): bool {
    const start = monotonicNanos();
    const ok = this.process(bodySize);
    const end = monotonicNanos();
    metrics.time(end > start ? (end - start) / 1000 : 0);
    return ok;
  }

  private process(bodySize: u32): bool {
    const plugin = this.plugin;
    const cfg = plugin.config;
    const body = getBufferBytes(BufferType.HttpRequestBody, 0, bodySize);
    if (body === null) return this.fail(ErrorKind.Internal, 'request body not readable', '');
    // The body → tokens → keys pipeline is shared with the standalone core (the EPP's fallback).
    const hits = segmentCacheTotals.hits;
    const misses = segmentCacheTotals.misses;
    const r = processBody(this.endpoint, body, cfg, plugin.tokens, plugin.keys);
    if (segmentCacheTotals.hits > hits) incrementMetric(metrics.tokenCacheHits, segmentCacheTotals.hits - hits);
    if (segmentCacheTotals.misses > misses) incrementMetric(metrics.tokenCacheMisses, segmentCacheTotals.misses - misses);
    if (r.error != ErrorKind.None) return this.fail(r.error, r.detail, r.model);
    const exact = r.exact;

    const v = new ProtocolValues();
    v.timeSeconds = <i64>(nowNanos() / 1_000_000_000);
    v.requestId = requestIdHeader();
    v.model = modelHeader(r.model);
    v.profile = this.profile;
    v.tokens = plugin.tokens.length;
    v.blockSize = cfg.blockSize;
    v.exact = exact;
    v.digestDense = cfg.denseBlocks;
    v.digestBlocks = r.count;
    v.blocks = encodeBlockKeys(plugin.digest, digestKeys(plugin.keys, r.count, cfg.denseBlocks, cfg.maxDigestKeys, plugin.digest));
    addAll(protocolHeaders(v, cfg.hmacKey));

    incrementMetric(metrics.tokenized, 1);
    incrementMetric(exact ? metrics.exact : metrics.approximate, 1);
    incrementMetric(metrics.tokens, plugin.tokens.length);
    return true;
  }

  /**
   * Records a failure (counter + one rate-limited log line) and applies onError. Returns true when
   * the request goes on (passthrough, with x-tokenroute-error), false when it was answered locally.
   */
  private fail(kind: ErrorKind, detail: string, model: string): bool {
    metrics.error(kind);
    const name = errorName(kind);
    const cfg = this.plugin.config;
    warn(`${name}: ${detail} (path ${this.path}${model.length > 0 ? ', model ' + percentEncode(truncate(model)) : ''})`);
    if (cfg.onError == OnError.Reject) {
      incrementMetric(metrics.rejected, 1);
      const status = errorStatus(kind);
      const code = errorCode(kind);
      // The body's message and x-tokenroute-error-code carry the catalogue code (docs/errors.md),
      // as the EPP's rejections do.
      sendLocalResponse(status, 'tokenroute_' + name, errorBody(status, `${code}: ${name}: ${detail}`), 'application/json', [new HeaderPair('x-tokenroute-error-code', code)]);
      return false;
    }
    const v = new ProtocolValues();
    v.timeSeconds = <i64>(nowNanos() / 1_000_000_000);
    v.requestId = requestIdHeader();
    v.model = modelHeader(model);
    v.profile = this.profile;
    v.error = name;
    addAll(protocolHeaders(v, cfg.hmacKey));
    return true;
  }
}

/** The x-request-id Envoy generated (or kept) for this request; '' when there is none. */
function requestIdHeader(): string {
  const id = getHeader(MapType.HttpRequestHeaders, 'x-request-id');
  return id !== null ? id : '';
}

function truncate(s: string): string {
  return s.length > MAX_MODEL_HEADER_CHARS ? s.substring(0, MAX_MODEL_HEADER_CHARS) : s;
}

function modelHeader(model: string): string {
  return model.length > MAX_MODEL_HEADER_CHARS ? '' : percentEncode(model);
}

/** Removes every x-tokenroute-* header the client sent; returns how many names were removed. */
function stripClientHeaders(): i32 {
  const pairs = getHeaderPairs(MapType.HttpRequestHeaders);
  if (pairs === null) return 0;
  const names = new Array<string>();
  for (let i = 0; i < pairs.pairs.length; i++) {
    const name = pairs.pairs[i].name;
    if (isProtocolHeader(name) && !names.includes(name)) names.push(name);
  }
  // proxy_remove_header_map_value removes every value of a name (Envoy HeaderMap::remove).
  for (let i = 0; i < names.length; i++) removeHeader(MapType.HttpRequestHeaders, names[i]);
  return names.length;
}

function addAll(pairs: Array<string>): void {
  for (let i = 0; i + 1 < pairs.length; i += 2) addHeader(MapType.HttpRequestHeaders, pairs[i], pairs[i + 1]);
}

/** vLLM's error body shape: {"object":"error","message":...,"type":"BadRequestError","param":null,"code":400}. */
function errorBody(status: u32, message: string): string {
  const type = status == 413 ? 'RequestEntityTooLarge' : status == 500 ? 'InternalServerError' : 'BadRequestError';
  return `{"object":"error","message":${jsonString(message)},"type":"${type}","param":null,"code":${status}}`;
}
