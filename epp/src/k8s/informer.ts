// A list+watch informer for one resource, built on @kubernetes/client-node's ListWatch, with what
// ListWatch lacks for a long-running EPP:
//   - reconnect: ListWatch stops for good on an error (API server down, 403, 5xx); here every
//     error is retried with jittered exponential backoff (reset once the watch works again);
//   - resourceVersion: ListWatch resumes a closed watch from its last resourceVersion and re-lists
//     on 410 Gone (expired version, e.g. after an API-server restart); a re-list reports objects
//     that vanished meanwhile as deletes before anything else, so consumers never keep them;
//   - bounded watches: each watch asks the server to end it after 5-10 min (client-go's
//     timeoutSeconds), so a half-open connection cannot stall updates forever, and asks for
//     bookmarks, so a resumed watch starts from a recent resourceVersion;
//   - sync state: `synced()` / `waitForSync()` once the first list is in the cache;
//   - resync: an optional periodic `resync` event so consumers recompute from the cache;
//   - errors that name the missing RBAC permission, counted in tokenroute_k8s_watch_errors_total.
import { EventEmitter } from 'node:events';
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { classify, describeApiError, type Permission } from './client.js';
import type { K8sMetrics } from './metrics.js';

export interface InformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** Short name for logs and metrics, e.g. "pods" or "inferencepools". */
  readonly resource: string;
  /** API group of the resource ("" = core), for RBAC messages. */
  readonly group: string;
  readonly namespace: string;
  /** Collection path the watch runs on (list path without query). */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly logger: Logger;
  readonly metrics: K8sMetrics;
  /** First retry delay after an error, ms (default 100). */
  readonly backoffInitialMs?: number;
  /** Longest retry delay, ms (default 5000). */
  readonly backoffMaxMs?: number;
  /** Period of `resync` events, ms; 0 = none (default 0). */
  readonly resyncMs?: number;
}

export interface InformerEvents<T> {
  add: [obj: T];
  update: [obj: T];
  delete: [obj: T];
  /** The first list is in the cache. */
  synced: [];
  /** A later full list replaced the cache (after 410 Gone or a broken watch). */
  relisted: [];
  resync: [];
  /** A list or watch failed; it will be retried after `retryInMs`. */
  error: [err: unknown, message: string, retryInMs: number];
}

export class Informer<T extends KubernetesObject> extends EventEmitter<InformerEvents<T>> {
  private readonly lw: ListWatch<T>;
  private readonly log: Logger;
  private isSynced = false;
  private stopped = true;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncWaiters: (() => void)[] = [];
  private lastErrorKey = '';
  private lastErrorAt = 0;

  constructor(private readonly opts: InformerOptions<T>) {
    super();
    this.log = opts.logger.child({ component: 'informer', resource: opts.resource });
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      try {
        const list = await opts.list();
        opts.metrics.relists.inc({ resource: opts.resource });
        // ListWatch fills its cache synchronously once this promise resolves; setImmediate runs
        // after that, so `synced`/`relisted` are emitted with the new cache in place.
        setImmediate(() => this.onListed());
        return list;
      } catch (err) {
        throw Object.assign(err instanceof Error ? err : new Error(String(err)), { informerVerb: 'list' });
      }
    };
    this.lw = new ListWatch<T>(opts.path, new BoundedWatch(opts.kubeConfig), listFn, false, opts.labelSelector, opts.fieldSelector);
    this.lw.on('add', (o) => {
      this.healthy();
      this.emit('add', o);
    });
    this.lw.on('update', (o) => {
      this.healthy();
      this.emit('update', o);
    });
    this.lw.on('delete', (o) => {
      this.healthy();
      this.emit('delete', o);
    });
    this.lw.on('error', (err?: unknown) => this.onError(err));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
    if (this.opts.resyncMs && this.opts.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.emit('resync'), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.retryTimer = undefined;
    this.resyncTimer = undefined;
    await this.lw.stop();
    for (const w of this.syncWaiters.splice(0)) w();
  }

  synced(): boolean {
    return this.isSynced;
  }

  /** Resolves once the first list is cached (or the informer is stopped). */
  waitForSync(): Promise<void> {
    if (this.isSynced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Cached objects (all namespaces the informer sees). */
  list(): readonly T[] {
    return this.lw.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  latestResourceVersion(): string {
    return this.lw.latestResourceVersion();
  }

  private connect(): void {
    if (this.stopped) return;
    this.lw.start().catch((err: unknown) => this.onError(err));
  }

  private onListed(): void {
    this.healthy();
    if (!this.isSynced) {
      this.isSynced = true;
      this.log.debug({ objects: this.lw.list().length }, 'initial list synced');
      this.emit('synced');
      for (const w of this.syncWaiters.splice(0)) w();
    } else {
      this.log.info({ objects: this.lw.list().length }, 're-listed');
      this.emit('relisted');
    }
  }

  /** Data flowed: the next error starts a fresh backoff sequence. */
  private healthy(): void {
    this.attempt = 0;
    this.lastErrorKey = '';
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    const verb = (err as { informerVerb?: string })?.informerVerb ?? 'watch';
    const permission: Permission = { verb, resource: this.opts.resource, group: this.opts.group, namespace: this.opts.namespace };
    const reason = classify(err);
    const message = describeApiError(err, permission);
    this.opts.metrics.watchErrors.inc({ resource: this.opts.resource, reason });
    const initial = this.opts.backoffInitialMs ?? 100;
    const max = this.opts.backoffMaxMs ?? 5000;
    // A watch that ran quietly for a while before breaking starts a fresh backoff sequence.
    if (Date.now() - this.lastErrorAt > 2 * max) this.healthy();
    this.lastErrorAt = Date.now();
    const base = Math.min(max, initial * 2 ** Math.min(this.attempt, 20));
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    this.attempt += 1;
    // Same failure again and again (API server down for a minute): log it once, then at debug.
    const key = `${verb}:${reason}`;
    if (key !== this.lastErrorKey) {
      (reason === 'forbidden' || reason === 'not_found' || reason === 'unauthorized' ? this.log.error.bind(this.log) : this.log.warn.bind(this.log))(
        { reason, verb, retryInMs: delay },
        message,
      );
      this.lastErrorKey = key;
    } else {
      this.log.debug({ reason, verb, retryInMs: delay, attempt: this.attempt }, message);
    }
    this.emit('error', err, message, delay);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}

/** A Watch whose requests carry timeoutSeconds (5-10 min, jittered) and allowWatchBookmarks. */
class BoundedWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    return super.watch(path, { ...queryParams, timeoutSeconds, allowWatchBookmarks: true }, callback, done);
  }
}
