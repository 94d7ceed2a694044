// Messages between the MetricsCollector (main thread) and its scrape workers. Everything is
// plain data so structured clone stays cheap: a worker sends at most one `batch` per tick,
// holding numbers and short strings, never parsed metric families.
import type { EngineConfig } from './engines.js';

/** `workerData` of a scrape worker. */
export interface WorkerInit {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly insecureSkipVerify: boolean;
  readonly maxResponseBytes: number;
  /** Ticks per interval, endpoints spread over them round-robin; default ≈ one tick per 10 ms (max 10). */
  readonly phases?: number;
  /** Engine configs by name; targets name one of these. */
  readonly engines: readonly EngineConfig[];
}

/** One endpoint to scrape. Re-sending a key replaces its URL/engine. */
export interface WireTarget {
  readonly key: string;
  readonly url: string;
  readonly engine: string;
}

export type ToWorker =
  | { readonly t: 'targets'; readonly upsert: readonly WireTarget[]; readonly remove: readonly string[] }
  | { readonly t: 'stop' };

/**
 * A successful extraction. `mask` (extract.ts FIELD bits) says which values are real; the
 * others keep the endpoint's previous value. `scrapedAt` is the worker's Date.now() when the
 * page had been read.
 */
export type WireUpdate = [
  key: string,
  scrapedAt: number,
  mask: number,
  waiting: number,
  running: number,
  kvUsage: number,
  maxLoras: number,
  cacheBlockSize: number,
  cacheNumBlocks: number,
  activeLoras: string[],
  waitingLoras: string[],
];

export type ScrapeErrorReason =
  | 'timeout'
  | 'connection'
  | 'tls'
  | 'http_status'
  | 'protocol'
  | 'too_large'
  | 'parse'
  | 'missing_metric'
  | 'invalid_value'
  | 'internal';

export type WireError = [key: string, reason: ScrapeErrorReason, message: string];

/** Sent only when an endpoint's set of absent optional specs changes (absent = comma list, '' = none). */
export type WireNote = [key: string, absent: string];

export type FromWorker =
  | {
      readonly t: 'batch';
      readonly updates: readonly WireUpdate[];
      readonly errors: readonly WireError[];
      readonly notes: readonly WireNote[];
    }
  | { readonly t: 'stopped' };
