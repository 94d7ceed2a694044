// MetricsCollector: keeps every endpoint's model-server metrics current in the datastore. It
// follows datastore membership, shards endpoints over a small pool of scrape workers
// (worker.ts), and applies the compact batches they post. The main thread's share of a scrape is
// a few property writes: no HTTP, no text. It also refreshes the pool gauges
// (inference_pool_*) from whatever is fresh, and counts and rate-limit-logs failed scrapes.
import { Worker } from 'node:worker_threads';
import { EMPTY_METRICS, type Endpoint, type EndpointMetrics } from '../framework/endpoint.js';
import type { Datastore } from '../datastore/datastore.js';
import { RateLimitedLog, silentLogger, type Logger } from '../observability/logger.js';
import type { EppMetrics } from '../observability/metrics.js';
import type { Plugin } from '../framework/plugins.js';
import { DEFAULT_ENGINE_SELECTION, engineFor, type EngineSelection } from './engines.js';
import { FIELD } from './extract.js';
import type { FromWorker, ScrapeErrorReason, ToWorker, WireError, WireNote, WireTarget, WireUpdate, WorkerInit } from './protocol.js';
import { DEFAULT_SOURCE_CONFIG, metricsUrl, type MetricsSourceConfig } from './source.js';
import { CORE_METRICS_EXTRACTOR, isCoreMetricsExtractor } from './plugins/core-metrics-extractor.js';
import { isMetricsDataSource, METRICS_DATA_SOURCE } from './plugins/metrics-data-source.js';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';

/** The config's `dataLayer` as the loader resolves it: each source plugin with its extractor plugins. */
export interface DataLayerPlugins {
  readonly sources: readonly { readonly plugin: Plugin; readonly extractors: readonly Plugin[] }[];
}

/**
 * Source and extractor settings from a resolved `dataLayer`; undefined when it has no sources
 * (collection disabled). tokenroute scrapes with exactly one `metrics-data-source` feeding one
 * `core-metrics-extractor`; anything else is a config error, reported here with its path.
 */
export function dataLayerSettings(dl: DataLayerPlugins): { source: MetricsSourceConfig; extractor: EngineSelection } | undefined {
  if (dl.sources.length === 0) return undefined;
  if (dl.sources.length > 1) throw new TokenrouteError(ERRORS.CONFIG_DATA_LAYER, `dataLayer.sources: only one ${METRICS_DATA_SOURCE} is supported, got ${dl.sources.length}`);
  const { plugin, extractors } = dl.sources[0] as DataLayerPlugins['sources'][number];
  if (!isMetricsDataSource(plugin)) {
    throw new TokenrouteError(ERRORS.CONFIG_DATA_LAYER, `dataLayer.sources[0]: plugin ${JSON.stringify(plugin.name)} has type ${plugin.type}; tokenroute collects metrics with ${METRICS_DATA_SOURCE}`);
  }
  if (extractors.length !== 1 || !isCoreMetricsExtractor(extractors[0] as Plugin)) {
    const got = extractors.map((e) => e.type).join(', ') || 'none';
    throw new TokenrouteError(ERRORS.CONFIG_DATA_LAYER, `dataLayer.sources[0].extractors: exactly one ${CORE_METRICS_EXTRACTOR} is supported, got ${got}`);
  }
  return { source: plugin.config, extractor: (extractors[0] as Plugin & { selection: EngineSelection }).selection };
}

export interface MetricsCollectorOptions {
  readonly datastore: Datastore;
  /** The config's resolved dataLayer plugins (see dataLayerSettings); `source`/`extractor` override it. */
  readonly dataLayer?: DataLayerPlugins;
  /** Resolved metrics-data-source parameters; missing fields take GIE's defaults. */
  readonly source?: Partial<MetricsSourceConfig>;
  /** Resolved core-metrics-extractor parameters (built-in engines when absent). */
  readonly extractor?: EngineSelection;
  /** Per-endpoint scrape interval, ms (`--refresh-metrics-interval`, 50). */
  readonly interval?: number;
  /** Whole-scrape deadline, ms; overrides `source.timeoutMs` (1000). */
  readonly timeout?: number;
  /** Scrape worker threads (1). Endpoints are sharded over them by key. */
  readonly workers?: number;
  /** InferencePool name: the `name` label of the pool gauges. */
  readonly poolName?: string;
  /** Pool-gauge refresh period, ms (`--refresh-prometheus-metrics-interval`, 5000). */
  readonly refreshPrometheusMetricsInterval?: number;
  /** Metrics older than this do not count in the pool gauges, ms (`--metrics-staleness-threshold`, 2000). */
  readonly metricsStalenessThreshold?: number;
  /** At most one failure log line per endpoint per this many ms (5000). */
  readonly errorLogInterval?: number;
  readonly logger?: Logger;
  readonly metrics?: EppMetrics;
  /** Wall clock, ms; stamps updatedAt and judges staleness. */
  readonly now?: () => number;
}

/** True when `metrics` never arrived or are older than `thresholdMs` at `now`. */
export function isStale(metrics: EndpointMetrics, now: number, thresholdMs: number): boolean {
  return metrics.updatedAt === 0 || now - metrics.updatedAt > thresholdMs;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 50;
export const DEFAULT_POOL_GAUGE_INTERVAL_MS = 5000;
export const DEFAULT_METRICS_STALENESS_MS = 2000;

/** Reasons that mean no fresh values at all (as opposed to one missing series). */
const TRANSPORT_REASONS: ReadonlySet<ScrapeErrorReason> = new Set(['timeout', 'connection', 'tls', 'http_status', 'protocol', 'too_large', 'parse', 'internal']);

const WORKER_RESTART_DELAY_MS = 1000;
const WORKER_STOP_GRACE_MS = 1000;

interface EndpointState {
  endpoint: Endpoint;
  slot: number;
  /** Last scrape failed outright; the next success is logged as a recovery. */
  failing: boolean;
  /** Error reasons counted for this endpoint, so its counter series can be dropped with it. */
  reasons: Set<ScrapeErrorReason>;
}

interface Slot {
  worker: Worker | undefined;
  keys: Set<string>;
  restartTimer: NodeJS.Timeout | undefined;
}

export class MetricsCollector {
  private readonly ds: Datastore;
  private readonly source: MetricsSourceConfig;
  private readonly selection: EngineSelection;
  private readonly intervalMs: number;
  private readonly poolGaugeMs: number;
  private readonly stalenessMs: number;
  private readonly poolName: string;
  private readonly log: Logger;
  private readonly metrics: EppMetrics | undefined;
  private readonly now: () => number;
  private readonly errorLog: RateLimitedLog;
  private readonly slots: Slot[];
  private readonly states = new Map<string, EndpointState>();
  private readonly unknownEngines = new Set<string>();
  private gaugeTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private readonly onEndpoints = (added: readonly Endpoint[], removed: readonly Endpoint[]): void => this.membership(added, removed);
  /** Totals since start, for tests and the benchmark. */
  readonly counters = { batches: 0, updates: 0, errors: 0 };

  constructor(opts: MetricsCollectorOptions) {
    this.ds = opts.datastore;
    const fromConfig = opts.dataLayer ? dataLayerSettings(opts.dataLayer) : undefined;
    this.source = { ...DEFAULT_SOURCE_CONFIG, ...fromConfig?.source, ...opts.source, ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}) };
    this.selection = opts.extractor ?? fromConfig?.extractor ?? DEFAULT_ENGINE_SELECTION;
    this.intervalMs = positive(opts.interval ?? DEFAULT_SCRAPE_INTERVAL_MS, 'interval');
    this.poolGaugeMs = positive(opts.refreshPrometheusMetricsInterval ?? DEFAULT_POOL_GAUGE_INTERVAL_MS, 'refreshPrometheusMetricsInterval');
    this.stalenessMs = positive(opts.metricsStalenessThreshold ?? DEFAULT_METRICS_STALENESS_MS, 'metricsStalenessThreshold');
    positive(this.source.timeoutMs, 'timeout');
    const workers = opts.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a positive integer, got ${workers}`);
    this.poolName = opts.poolName ?? '';
    this.log = (opts.logger ?? silentLogger()).child({ component: 'datalayer' });
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.errorLog = new RateLimitedLog(opts.errorLogInterval ?? 5000, this.now);
    this.slots = Array.from({ length: workers }, () => ({ worker: undefined, keys: new Set<string>(), restartTimer: undefined }));
  }

  /** Starts the workers and scraping of every endpoint already in the datastore. */
  start(): void {
    if (this.started) throw new Error('MetricsCollector already started');
    this.started = true;
    for (let i = 0; i < this.slots.length; i++) this.spawn(i);
    this.ds.on('endpoints', this.onEndpoints);
    this.membership(
      this.ds.candidates().map((c) => c.endpoint),
      [],
    );
    this.gaugeTimer = setInterval(() => this.refreshPoolGauges(), this.poolGaugeMs);
  }

  /** Stops scraping and terminates the workers; resolves once no thread, socket or timer is left. */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.ds.off('endpoints', this.onEndpoints);
    clearInterval(this.gaugeTimer);
    this.gaugeTimer = undefined;
    await Promise.all(
      this.slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
        const w = slot.worker;
        slot.worker = undefined;
        if (!w) return;
        // Let the worker close its sockets cleanly; terminate() is the backstop.
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        let grace: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => (grace = setTimeout(resolve, WORKER_STOP_GRACE_MS)));
        w.postMessage({ t: 'stop' } satisfies ToWorker);
        await Promise.race([exited, timedOut]);
        clearTimeout(grace);
        await w.terminate();
      }),
    );
    this.states.clear();
  }

  /** Recomputes the inference_pool_* gauges from endpoints with fresh metrics (GIE semantics). */
  refreshPoolGauges(): void {
    const m = this.metrics;
    if (!m) return;
    const now = this.now();
    const name = this.poolName;
    let kv = 0;
    let queue = 0;
    let running = 0;
    let fresh = 0;
    const perPod = new Map<string, number>();
    for (const c of this.ds.candidates()) {
      if (isStale(c.metrics, now, this.stalenessMs)) continue;
      fresh++;
      kv += c.metrics.kvCacheUsage;
      queue += c.metrics.waitingRequests;
      running += c.metrics.runningRequests;
      perPod.set(c.endpoint.podName, (perPod.get(c.endpoint.podName) ?? 0) + c.metrics.waitingRequests);
    }
    m.poolReadyPods.set({ name }, fresh);
    m.poolPerPodQueue.reset();
    for (const [pod, q] of perPod) m.poolPerPodQueue.set({ name, model_server_pod: pod }, q);
    // With nothing fresh the averages keep their last values, as GIE's do.
    if (fresh === 0) return;
    m.poolAverageKvCache.set({ name }, kv / fresh);
    m.poolAverageQueue.set({ name }, queue / fresh);
    m.poolAverageRunning.set({ name }, running / fresh);
  }

  private spawn(index: number): void {
    const slot = this.slots[index] as Slot;
    const init: WorkerInit = {
      intervalMs: this.intervalMs,
      timeoutMs: this.source.timeoutMs,
      insecureSkipVerify: this.source.insecureSkipVerify,
      maxResponseBytes: this.source.maxResponseBytes,
      engines: this.selection.engines,
    };
    const w = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { tokenrouteScrapeWorker: true, init },
      name: `tokenroute-scrape-${index}`,
    });
    slot.worker = w;
    w.on('message', (msg: FromWorker) => {
      if (msg.t === 'batch') this.applyBatch(msg.updates, msg.errors, msg.notes);
    });
    w.on('error', (err) => this.log.error({ err, worker: index }, 'metrics scrape worker failed'));
    w.on('exit', (code) => {
      if (this.stopping || slot.worker !== w) return;
      // Endpoints of a dead worker would silently go stale; bring the shard back.
      slot.worker = undefined;
      this.log.error({ worker: index, code, endpoints: slot.keys.size }, 'metrics scrape worker exited; restarting');
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (this.stopping) return;
        this.spawn(index);
        this.send(index, [...slot.keys].map((k) => this.wireTarget((this.states.get(k) as EndpointState).endpoint)), []);
      }, WORKER_RESTART_DELAY_MS);
    });
  }

  private membership(added: readonly Endpoint[], removed: readonly Endpoint[]): void {
    if (this.stopping) return;
    const upserts: WireTarget[][] = this.slots.map(() => []);
    const removes: string[][] = this.slots.map(() => []);
    const readded = new Set(added.map((e) => e.key));
    for (const ep of removed) {
      if (readded.has(ep.key)) continue;
      const st = this.states.get(ep.key);
      if (!st) continue;
      this.states.delete(ep.key);
      (this.slots[st.slot] as Slot).keys.delete(ep.key);
      (removes[st.slot] as string[]).push(ep.key);
      for (const reason of st.reasons) this.metrics?.scrapeErrors.remove({ endpoint: ep.key, reason });
    }
    for (const ep of added) {
      const slot = shard(ep.key, this.slots.length);
      const prev = this.states.get(ep.key);
      this.states.set(ep.key, { endpoint: ep, slot, failing: prev?.failing ?? false, reasons: prev?.reasons ?? new Set() });
      (this.slots[slot] as Slot).keys.add(ep.key);
      (upserts[slot] as WireTarget[]).push(this.wireTarget(ep));
    }
    for (let i = 0; i < this.slots.length; i++) this.send(i, upserts[i] as WireTarget[], removes[i] as string[]);
  }

  private wireTarget(ep: Endpoint): WireTarget {
    const engine = engineFor(ep, this.selection);
    if (!engine.known && !this.unknownEngines.has(engine.requested)) {
      this.unknownEngines.add(engine.requested);
      this.log.warn({ endpoint: ep.key, engine: engine.requested, using: engine.name }, 'no metric specs for engine; using the default engine');
    }
    return { key: ep.key, url: metricsUrl(ep, this.source), engine: engine.name };
  }

  private send(index: number, upsert: WireTarget[], remove: string[]): void {
    const w = this.slots[index]?.worker;
    if (!w || (upsert.length === 0 && remove.length === 0)) return;
    w.postMessage({ t: 'targets', upsert, remove } satisfies ToWorker);
  }

  private applyBatch(updates: readonly WireUpdate[], errors: readonly WireError[], notes: readonly WireNote[]): void {
    if (this.stopping) return;
    this.counters.batches++;
    const now = this.now();
    const wallNow = Date.now();
    for (const u of updates) {
      const st = this.states.get(u[0]);
      if (!st) continue;
      const prev = this.ds.get(u[0])?.metrics ?? EMPTY_METRICS;
      const mask = u[2];
      // Keep the scrape's age but express it on our clock (tests run on a fake one).
      const updatedAt = now - Math.max(0, wallNow - u[1]);
      const next: EndpointMetrics = {
        waitingRequests: mask & FIELD.waiting ? u[3] : prev.waitingRequests,
        runningRequests: mask & FIELD.running ? u[4] : prev.runningRequests,
        kvCacheUsage: mask & FIELD.kvUsage ? u[5] : prev.kvCacheUsage,
        maxLoras: mask & FIELD.maxLoras ? u[6] : prev.maxLoras,
        cacheBlockSize: mask & FIELD.cacheBlockSize ? u[7] : prev.cacheBlockSize,
        cacheNumBlocks: mask & FIELD.cacheNumBlocks ? u[8] : prev.cacheNumBlocks,
        activeLoras: mask & FIELD.loraAdapters ? sameOr(prev.activeLoras, u[9]) : prev.activeLoras,
        waitingLoras: mask & FIELD.loraAdapters ? sameOr(prev.waitingLoras, u[10]) : prev.waitingLoras,
        updatedAt,
      };
      this.ds.updateMetrics(u[0], next);
      this.counters.updates++;
      if (st.failing) {
        st.failing = false;
        this.log.info({ endpoint: u[0] }, 'metrics scrape recovered');
      }
    }
    for (const [key, reason, message] of errors) {
      const st = this.states.get(key);
      if (!st) continue;
      this.counters.errors++;
      st.reasons.add(reason);
      this.metrics?.scrapeErrors.inc({ endpoint: key, reason });
      if (TRANSPORT_REASONS.has(reason)) st.failing = true;
      const suppressed = this.errorLog.admit(key);
      if (suppressed >= 0) this.log.warn({ endpoint: key, reason, error: message, suppressed }, 'metrics scrape failed');
    }
    for (const [key, absent] of notes) {
      if (!this.states.has(key)) continue;
      if (absent) this.log.info({ endpoint: key, specs: absent.split(',') }, 'optional metrics not exposed by endpoint');
      else this.log.info({ endpoint: key }, 'optional metrics now exposed by endpoint');
    }
  }
}

/** Reuses the previous array when unchanged so readers can compare adapter lists by identity. */
function sameOr(prev: readonly string[], next: string[]): readonly string[] {
  if (prev.length === next.length && prev.every((v, i) => v === next[i])) return prev;
  return Object.freeze(next);
}

function positive(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number of ms, got ${v}`);
  return v;
}

/** FNV-1a over the key: a stable shard, so an endpoint stays on its worker (and its socket). */
function shard(key: string, n: number): number {
  if (n === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}
