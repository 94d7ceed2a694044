// The EPP's single source of endpoint state: membership (from Kubernetes watchers or the
// static list), metrics (from scrapers) and in-flight load (from the request path). One writer
// per concern (also the pool's objectives and model rewrites); the scheduler reads `candidates()`, an array replaced whenever membership changes.
import { EventEmitter } from 'node:events';
import { ObjectiveStore } from './objectives.js';
import { ModelRewriteStore } from './model-rewrites.js';
import { EMPTY_METRICS, type Candidate, type Endpoint, type EndpointMetrics, type InflightLoad } from '../framework/endpoint.js';

interface EndpointRecord extends Candidate {
  endpoint: Endpoint;
  metrics: EndpointMetrics;
  inflight: InflightLoad;
}

export interface DatastoreEvents {
  /** Membership changed: endpoints added, removed or replaced. */
  endpoints: [added: readonly Endpoint[], removed: readonly Endpoint[]];
}

export class Datastore extends EventEmitter<DatastoreEvents> {
  /** The pool's InferenceObjectives (written by the Kubernetes mode; empty in standalone mode). */
  readonly objectives = new ObjectiveStore();
  /** The pool's InferenceModelRewrites (likewise). */
  readonly rewrites = new ModelRewriteStore();
  private readonly records = new Map<string, EndpointRecord>();
  private list: readonly Candidate[] = [];
  private synced = false;

  /** Ready means the endpoint source has delivered its first full view (GIE readiness rule). */
  isSynced(): boolean {
    return this.synced;
  }

  markSynced(): void {
    this.synced = true;
  }

  /** The current endpoints. Do not mutate; the array is replaced, never edited, on membership change. */
  candidates(): readonly Candidate[] {
    return this.list;
  }

  get(key: string): Candidate | undefined {
    return this.records.get(key);
  }

  size(): number {
    return this.records.size;
  }

  /**
   * Replaces the whole membership with `endpoints`. Endpoints whose identity is unchanged keep
   * their metrics and in-flight counts; others start empty.
   */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const next = new Map<string, Endpoint>();
    for (const ep of endpoints) next.set(ep.key, ep);
    const added: Endpoint[] = [];
    const removed: Endpoint[] = [];
    for (const [key, rec] of this.records) {
      const ep = next.get(key);
      if (!ep) {
        removed.push(rec.endpoint);
        this.records.delete(key);
      } else if (!sameEndpoint(ep, rec.endpoint)) {
        removed.push(rec.endpoint);
        added.push(ep);
        rec.endpoint = ep;
      }
    }
    for (const [key, ep] of next) {
      if (this.records.has(key)) continue;
      this.records.set(key, { endpoint: ep, metrics: EMPTY_METRICS, inflight: { requests: 0, tokens: 0 } });
      added.push(ep);
    }
    if (added.length === 0 && removed.length === 0) return;
    this.list = Object.freeze([...this.records.values()]);
    this.emit('endpoints', added, removed);
  }

  upsertEndpoint(endpoint: Endpoint): void {
    const all = [...this.records.values()].map((r) => r.endpoint).filter((e) => e.key !== endpoint.key);
    all.push(endpoint);
    this.setEndpoints(all);
  }

  removeEndpoint(key: string): void {
    if (!this.records.has(key)) return;
    this.setEndpoints([...this.records.values()].map((r) => r.endpoint).filter((e) => e.key !== key));
  }

  /** Called by scrapers. Ignored for endpoints that left the pool while the scrape was in flight. */
  updateMetrics(key: string, metrics: EndpointMetrics): void {
    const rec = this.records.get(key);
    if (rec) rec.metrics = metrics;
  }

  /** The request path counts what it sends; `tokens` is the prompt-size estimate of that request. */
  addInflight(key: string, tokens: number): void {
    const rec = this.records.get(key);
    if (!rec) return;
    rec.inflight.requests += 1;
    rec.inflight.tokens += tokens;
  }

  removeInflight(key: string, tokens: number): void {
    const rec = this.records.get(key);
    if (!rec) return;
    rec.inflight.requests = Math.max(0, rec.inflight.requests - 1);
    rec.inflight.tokens = Math.max(0, rec.inflight.tokens - tokens);
  }
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  if (a.address !== b.address || a.port !== b.port || a.podName !== b.podName || a.engine !== b.engine) return false;
  if (a.namespace !== b.namespace) return false;
  const ak = Object.keys(a.labels);
  const bk = Object.keys(b.labels);
  return ak.length === bk.length && ak.every((k) => a.labels[k] === b.labels[k]);
}
