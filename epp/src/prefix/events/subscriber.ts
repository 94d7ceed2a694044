// KvEventSubscriber: the event-loop side of KV-event ingestion. It starts the subscriber worker
// (prefix/events/subscriber-worker.ts), applies the op batches it sends to a PreciseIndex (acking each,
// which is the worker's back-pressure), keeps the worker's dial list equal to the pool's ready
// endpoints in dial mode, resolves topic pod ids to pool endpoints, drops endpoints that leave the
// pool from the index, logs the worker's (already rate-limited) warnings and keeps its counters.
import { Worker } from 'node:worker_threads';
import type { PoolView } from '../../framework/endpoint.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Logger } from '../../observability/logger.js';
import { applyOps } from './ingest.js';
import type { PreciseIndex } from '../index/precise-index.js';
import type { MainToWorker, SubscriberWorkerConfig, WorkerToMain } from './subscriber-worker.js';

export interface KvEventSubscriberOptions {
  readonly config: SubscriberWorkerConfig;
  readonly index: PreciseIndex;
  readonly datastore: PoolView;
  readonly logger: Logger;
  /** dial mode: the publisher port on each endpoint (vLLM's kv-events endpoint port). */
  readonly socketPort?: number;
  /** dial mode: only endpoints with these labels are dialled (empty = all). */
  readonly podLabelSelector?: Readonly<Record<string, string>>;
}

export interface KvEventStats {
  readonly counters: Readonly<Record<string, number>>;
  readonly engineMapSize: number;
  readonly engineMapBytes: number;
  readonly sources: number;
  readonly stalled: number;
  readonly pendingOpWords: number;
  /** Op batches applied on the event loop, and the time spent applying them. */
  readonly batchesApplied: number;
  readonly applyMs: number;
  readonly blockEventsApplied: number;
}

export class KvEventSubscriber {
  private worker: Worker | undefined;
  private readonly opts: KvEventSubscriberOptions;
  private stats: Omit<KvEventStats, 'batchesApplied' | 'applyMs' | 'blockEventsApplied'> = {
    counters: {},
    engineMapSize: 0,
    engineMapBytes: 0,
    sources: 0,
    stalled: 0,
    pendingOpWords: 0,
  };
  private batchesApplied = 0;
  private applyMs = 0;
  private blockEventsApplied = 0;
  private byAddress = new Map<string, string[]>();
  private readonly onEndpoints = (added: readonly Endpoint[], removed: readonly Endpoint[]) => this.membershipChanged(added, removed);
  private boundEndpoint: string | undefined;
  private readonly statsWaiters: (() => void)[] = [];
  private readonly applyWaiters: (() => void)[] = [];

  constructor(opts: KvEventSubscriberOptions) {
    this.opts = opts;
    opts.index.resolve = (pod) => this.resolve(pod);
  }

  /** The endpoint the bind-mode socket listens on (with the real port when 0 was asked). */
  get endpoint(): string | undefined {
    return this.boundEndpoint;
  }

  async start(): Promise<void> {
    this.rebuildAddresses();
    this.opts.datastore.on('endpoints', this.onEndpoints);
    const worker = new Worker(new URL('./subscriber-worker.js', import.meta.url), {
      workerData: { kind: 'kv-subscriber', config: this.opts.config },
    });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      worker.once('error', onError);
      worker.on('message', (m: WorkerToMain) => {
        if (m.type === 'ready') {
          this.boundEndpoint = m.endpoint;
          worker.off('error', onError);
          worker.on('error', (err) => this.opts.logger.error({ err }, 'kv events: subscriber worker failed'));
          resolve();
        } else if (m.type === 'error') {
          reject(new Error(`kv events: ${m.message}`));
        } else {
          this.onWorker(m);
        }
      });
    });
    if (this.opts.config.dial) this.sendDialList();
  }

  private onWorker(m: WorkerToMain): void {
    if (m.type === 'ops') {
      const t0 = performance.now();
      applyOps(m.batch, this.opts.index);
      this.applyMs += performance.now() - t0;
      this.batchesApplied++;
      this.blockEventsApplied += m.batch.blockEvents;
      this.post({ type: 'ack' });
      for (const w of this.applyWaiters.splice(0)) w();
    } else if (m.type === 'stats') {
      this.stats = { counters: m.counters, engineMapSize: m.engineMapSize, engineMapBytes: m.engineMapBytes, sources: m.sources, stalled: m.stalled, pendingOpWords: m.pendingOpWords };
      for (const w of this.statsWaiters.splice(0)) w();
    } else if (m.type === 'log') {
      this.opts.logger.warn(m.detail, m.msg);
    }
  }

  private post(m: MainToWorker): void {
    this.worker?.postMessage(m);
  }

  getStats(): KvEventStats {
    return { ...this.stats, batchesApplied: this.batchesApplied, applyMs: this.applyMs, blockEventsApplied: this.blockEventsApplied };
  }

  /** Resolves on the worker's next stats message (tests). */
  nextStats(): Promise<KvEventStats> {
    return new Promise((resolve) => this.statsWaiters.push(() => resolve(this.getStats())));
  }

  /** Resolves after the next op batch is applied (tests). */
  nextApply(): Promise<void> {
    return new Promise((resolve) => this.applyWaiters.push(resolve));
  }

  /** Pod id from a topic or a dialled endpoint → pool endpoint keys. */
  resolve(pod: string): readonly string[] {
    if (this.opts.datastore.get(pod)) return [pod];
    return this.byAddress.get(pod.replace(/^\[(.*)\]$/, '$1')) ?? [];
  }

  private rebuildAddresses(): void {
    const m = new Map<string, string[]>();
    for (const c of this.opts.datastore.candidates()) {
      const list = m.get(c.endpoint.address);
      if (list) list.push(c.endpoint.key);
      else m.set(c.endpoint.address, [c.endpoint.key]);
    }
    this.byAddress = m;
  }

  private membershipChanged(added: readonly Endpoint[], removed: readonly Endpoint[]): void {
    this.rebuildAddresses();
    const present = new Set(this.opts.datastore.candidates().map((c) => c.endpoint.key));
    for (const ep of removed) {
      if (!present.has(ep.key) || added.some((a) => a.key === ep.key)) this.opts.index.dropEndpoint(ep.key);
    }
    if (this.opts.config.dial) this.sendDialList();
  }

  private sendDialList(): void {
    const port = this.opts.socketPort ?? 5557;
    const selector = this.opts.podLabelSelector ?? {};
    const endpoints = this.opts.datastore
      .candidates()
      .filter((c) => Object.entries(selector).every(([k, v]) => c.endpoint.labels[k] === v))
      .map((c) => ({ key: c.endpoint.key, address: c.endpoint.address, port }));
    this.post({ type: 'dial', endpoints });
  }

  async close(): Promise<void> {
    this.opts.datastore.off('endpoints', this.onEndpoints);
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ type: 'close' } satisfies MainToWorker);
    const timer = setTimeout(() => void w.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
