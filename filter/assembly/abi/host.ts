// Thin typed wrappers over the proxy-wasm host calls this filter uses. Nothing here throws: a
// non-OK status is returned (or mapped to null) so a host refusal never becomes a trap, which in
// Envoy would fail the whole worker VM (cpp-host V8::call → fail(RuntimeError)).
import {
  proxy_add_header_map_value,
  proxy_define_metric,
  proxy_get_buffer_bytes,
  proxy_get_current_time_nanoseconds,
  proxy_get_header_map_pairs,
  proxy_get_header_map_value,
  proxy_get_property,
  proxy_increment_metric,
  proxy_log,
  proxy_record_metric,
  proxy_remove_header_map_value,
  proxy_send_local_response,
  wasi_clock_time_get,
} from './imports';
import { RESULT_PTR, RESULT_SIZE, RESULT_U64, takeResultBytes } from './memory';
import { BufferType, LogLevel, MapType, MetricType, WasmResult } from './types';

/** An AS string as UTF-8 bytes (lone surrogates become U+FFFD, never an abort). */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
}

export function log(level: LogLevel, message: string): void {
  const b = utf8(message);
  proxy_log(level, changetype<usize>(b), <usize>b.byteLength);
}

/** Wall-clock time in nanoseconds (Envoy: the dispatcher's system time), 0 when unavailable. */
export function nowNanos(): u64 {
  store<u64>(RESULT_U64, 0);
  if (proxy_get_current_time_nanoseconds(RESULT_U64) != WasmResult.Ok) return 0;
  return load<u64>(RESULT_U64);
}

/** Monotonic time in nanoseconds for durations (WASI clock 1), 0 when unavailable. */
export function monotonicNanos(): u64 {
  store<u64>(RESULT_U64, 0);
  if (wasi_clock_time_get(1, 1, RESULT_U64) != 0) return 0;
  return load<u64>(RESULT_U64);
}

function clearResult(): void {
  store<usize>(RESULT_PTR, 0);
  store<usize>(RESULT_SIZE, 0);
}

/** Bytes [start, start+maxSize) of a host buffer; null when the host has no such buffer. */
export function getBufferBytes(bufferType: BufferType, start: u32, maxSize: u32): Uint8Array | null {
  clearResult();
  const status = proxy_get_buffer_bytes(bufferType, start, maxSize, RESULT_PTR, RESULT_SIZE);
  if (status != WasmResult.Ok) return null;
  return takeResultBytes();
}

/**
 * A property as raw bytes, or null when not found. Path segments are separated by NUL (Envoy's
 * Context::getProperty splits the path on '\0'; a dotted name would be looked up as the filter
 * state key `wasm.<name>`).
 */
export function getProperty(path: string): Uint8Array | null {
  const p = utf8(path);
  clearResult();
  const status = proxy_get_property(changetype<usize>(p), <usize>p.byteLength, RESULT_PTR, RESULT_SIZE);
  if (status != WasmResult.Ok) return null;
  return takeResultBytes();
}

/** All pairs of a header map in the 0.2.1 serialization; null when the map is unavailable. */
export function getHeaderPairs(mapType: MapType): HeaderPairs | null {
  clearResult();
  if (proxy_get_header_map_pairs(mapType, RESULT_PTR, RESULT_SIZE) != WasmResult.Ok) return null;
  return HeaderPairs.parse(takeResultBytes());
}

export function getHeader(mapType: MapType, name: string): string | null {
  const k = utf8(name);
  clearResult();
  const status = proxy_get_header_map_value(mapType, changetype<usize>(k), <usize>k.byteLength, RESULT_PTR, RESULT_SIZE);
  if (status != WasmResult.Ok) return null;
  const v = takeResultBytes();
  return String.UTF8.decodeUnsafe(v.dataStart, <usize>v.length);
}

export function addHeader(mapType: MapType, name: string, value: string): WasmResult {
  const k = utf8(name);
  const v = utf8(value);
  return proxy_add_header_map_value(mapType, changetype<usize>(k), <usize>k.byteLength, changetype<usize>(v), <usize>v.byteLength);
}

export function removeHeader(mapType: MapType, name: string): WasmResult {
  const k = utf8(name);
  return proxy_remove_header_map_value(mapType, changetype<usize>(k), <usize>k.byteLength);
}

/**
 * Sends a local reply. Envoy defers it until the current callback returns and then stops the
 * filter chain (cpp-host send_local_response sets stopNextIteration); grpc_status -1 means none.
 */
export function sendLocalResponse(status: u32, details: string, body: string, contentType: string, extraHeaders: HeaderPair[] = []): WasmResult {
  const d = utf8(details);
  const b = utf8(body);
  const pairs = [new HeaderPair('content-type', contentType)];
  for (let i = 0; i < extraHeaders.length; i++) pairs.push(extraHeaders[i]);
  const headers = serializePairs(pairs);
  return proxy_send_local_response(
    status,
    changetype<usize>(d), <usize>d.byteLength,
    changetype<usize>(b), <usize>b.byteLength,
    changetype<usize>(headers), <usize>headers.byteLength,
    -1,
  );
}

/** Defines a metric; returns its id, or u32.MAX_VALUE when the host refused. */
export function defineMetric(metricType: MetricType, name: string): u32 {
  const n = utf8(name);
  store<u32>(RESULT_U64, 0);
  if (proxy_define_metric(metricType, changetype<usize>(n), <usize>n.byteLength, RESULT_U64) != WasmResult.Ok) return u32.MAX_VALUE;
  return load<u32>(RESULT_U64);
}

/** Adds to a counter (Envoy refuses deltas ≤ 0 on counters, so those are skipped here). */
export function incrementMetric(id: u32, delta: i64): void {
  if (id == u32.MAX_VALUE || delta <= 0) return;
  proxy_increment_metric(id, delta);
}

export function recordMetric(id: u32, value: u64): void {
  if (id == u32.MAX_VALUE) return;
  proxy_record_metric(id, value);
}

export class HeaderPair {
  constructor(public name: string, public value: string) {}
}

/**
 * Header pairs in the proxy-wasm 0.2.1 serialization: u32 count, then (u32 name length, u32 value
 * length) per pair, then each name and value followed by a NUL (cpp-host PairsUtil). Little-endian.
 */
export class HeaderPairs {
  pairs: Array<HeaderPair> = new Array<HeaderPair>();

  static parse(data: Uint8Array): HeaderPairs {
    const out = new HeaderPairs();
    const n = data.length;
    if (n < 4) return out; // empty map: size 0 (or a single NUL byte)
    const base = data.dataStart;
    const count = load<u32>(base);
    if (<u64>count * 8 + 4 > <u64>n) return out;
    let pos: u64 = 4 + <u64>count * 8;
    for (let i: u32 = 0; i < count; i++) {
      const klen = <u64>load<u32>(base + 4 + <usize>i * 8);
      const vlen = <u64>load<u32>(base + 8 + <usize>i * 8);
      if (pos + klen + 1 + vlen + 1 > <u64>n) return out;
      const name = String.UTF8.decodeUnsafe(base + <usize>pos, <usize>klen);
      pos += klen + 1;
      const value = String.UTF8.decodeUnsafe(base + <usize>pos, <usize>vlen);
      pos += vlen + 1;
      out.pairs.push(new HeaderPair(name, value));
    }
    return out;
  }
}

export function serializePairs(pairs: Array<HeaderPair>): ArrayBuffer {
  const names = new Array<ArrayBuffer>(pairs.length);
  const values = new Array<ArrayBuffer>(pairs.length);
  let size = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    names[i] = utf8(pairs[i].name);
    values[i] = utf8(pairs[i].value);
    size += names[i].byteLength + values[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, <u32>pairs.length);
  let pos = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    store<u32>(base + 4 + <usize>i * 8, <u32>names[i].byteLength);
    store<u32>(base + 8 + <usize>i * 8, <u32>values[i].byteLength);
    memory.copy(base + <usize>pos, changetype<usize>(names[i]), <usize>names[i].byteLength);
    pos += names[i].byteLength + 1; // ArrayBuffer memory is zeroed: the NUL is already there
    memory.copy(base + <usize>pos, changetype<usize>(values[i]), <usize>values[i].byteLength);
    pos += values[i].byteLength + 1;
  }
  return out;
}
