// The host's per-process and per-stream state (proxy-wasm-cpp-host context.h / shared_data.h /
// shared_queue.h as Envoy uses them): the stats store and shared data every worker VM sees, one
// HTTP stream's host-side members, a context's identity, and the byte helpers the ABI needs
// (Envoy hands header bytes through as they are; the host keeps them as latin1 strings).
import { Buffer } from 'node:buffer';
import type { HeaderMap } from './header-map.js';
import type { LocalReply } from './types.js';
import type { PropertyValue } from './properties.js';

/** A trap raised by a host function (V8 turns it into a wasm trap in the caller). */
export class HostTrap extends Error {}

export const utf8ToBytesString = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
export const bytesStringToUtf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
export const toBytes = (x: string | Uint8Array): Uint8Array => (typeof x === 'string' ? new Uint8Array(Buffer.from(x, 'utf8')) : x);

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  return new Uint8Array(Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
}

export interface Metric {
  type: 'counter' | 'gauge' | 'histogram';
  value: number;
  samples: number[];
}

/** A shared queue; `notify` posts proxy_on_queue_ready to the VM and root context that registered it. */
export interface SharedQueue {
  readonly token: number;
  readonly items: Uint8Array[];
  notify: () => void;
}

/** Process-wide state Envoy shares across worker VMs: the stats store and shared data. */
export class SharedState {
  readonly metrics = new Map<string, Metric>();
  readonly sharedData = new Map<string, { value: Uint8Array; cas: number }>();
  nextCas = 1;
  readonly queues = new Map<string, SharedQueue>();
  readonly queuesByToken = new Map<number, SharedQueue>();
  nextQueueToken = 1;
}

/** One stream's state on the host side (Envoy's Context members for an HTTP filter). */
export class StreamState {
  /** The headers object; `request_headers_` (headersAvailable) says whether the plugin may touch it. */
  readonly headers: HeaderMap;
  headersAvailable = true;
  trailers: HeaderMap | null = null;
  trailersAvailable = false;
  /** FilterManager's buffered request data for this filter. */
  buffered: Uint8Array[] = [];
  bufferedLength = 0;
  /** The chunk of the current data callback (request_body_buffer_), when not buffering. */
  currentChunk: Uint8Array | null = null;
  bufferingRequestBody = false;
  endOfStream = false;
  inBodyCallback = false;
  localReply: LocalReply | null = null;
  continueRequested = false;
  resetRequested = false;
  readonly filterState = new Map<string, Uint8Array>();
  constructor(
    headers: HeaderMap,
    readonly routeName: string | undefined,
    readonly clusterName: string | undefined,
    readonly extra: ReadonlyMap<string, PropertyValue>,
    readonly connectionId: bigint,
  ) {
    this.headers = headers;
  }
}

export interface ContextState {
  readonly id: number;
  readonly parentId: number;
  readonly stream?: StreamState;
}
