// What the EPP knows about one model-server endpoint: its identity (from Kubernetes or the
// static list), its last scraped metrics, and the EPP's own count of requests it sent there.

/** Identity of one endpoint: one pod IP × one target port. Immutable; replaced when the pod changes. */
export interface Endpoint {
  /** `ip:port`, or `[v6addr]:port`: exactly the form written into x-gateway-destination-endpoint. */
  readonly key: string;
  /** The IP address without brackets. */
  readonly address: string;
  readonly port: number;
  /** Pod name (standalone mode: the key). */
  readonly podName: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Model-server engine, which picks the metric names (vllm, sglang, trtllm-serve, triton-tensorrt-llm). */
  readonly engine: string;
}

/** Model-server metrics from the last successful scrape. Replaced whole, never mutated. */
export interface EndpointMetrics {
  readonly waitingRequests: number;
  readonly runningRequests: number;
  /** KV-cache usage as a fraction in [0, 1]. */
  readonly kvCacheUsage: number;
  readonly activeLoras: readonly string[];
  readonly waitingLoras: readonly string[];
  /** Max concurrently loaded LoRA adapters; 0 when the server does not report it. */
  readonly maxLoras: number;
  /** KV block size in tokens; 0 when unknown. */
  readonly cacheBlockSize: number;
  /** Number of KV blocks on the device; 0 when unknown. */
  readonly cacheNumBlocks: number;
  /** Date.now() of the scrape these values came from; 0 = never scraped. */
  readonly updatedAt: number;
}

/** Requests (and their prompt tokens) the EPP has routed to an endpoint and not yet seen finish. */
export interface InflightLoad {
  requests: number;
  tokens: number;
}

/**
 * One schedulable endpoint as the scheduler sees it. The datastore owns these records and is
 * their only writer; a scheduling cycle runs synchronously on the event loop, so it reads a
 * consistent state without copying (writers, e.g. scraper results, are applied between cycles).
 */
export interface Candidate {
  readonly endpoint: Endpoint;
  readonly metrics: EndpointMetrics;
  readonly inflight: Readonly<InflightLoad>;
}

export const EMPTY_METRICS: EndpointMetrics = Object.freeze({
  waitingRequests: 0,
  runningRequests: 0,
  kvCacheUsage: 0,
  activeLoras: Object.freeze([]) as readonly string[],
  waitingLoras: Object.freeze([]) as readonly string[],
  maxLoras: 0,
  cacheBlockSize: 0,
  cacheNumBlocks: 0,
  updatedAt: 0,
});

/**
 * What plugins read of the pool: the current candidates and membership changes. The datastore
 * (epp/src/datastore) implements it; plugins never write endpoint state.
 */
export interface PoolView {
  candidates(): readonly Candidate[];
  get(key: string): Candidate | undefined;
  on(event: 'endpoints', listener: (added: readonly Endpoint[], removed: readonly Endpoint[]) => void): unknown;
  off(event: 'endpoints', listener: (added: readonly Endpoint[], removed: readonly Endpoint[]) => void): unknown;
}
