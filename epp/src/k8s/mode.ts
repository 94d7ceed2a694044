// Kubernetes mode of the EPP: watches the one InferencePool named by --pool-name/--pool-namespace,
// the pods its selector matches, and the InferenceObjectives / InferenceModelRewrites that
// reference it, and keeps the datastore, objective and rewrite stores in step; or, in GIE's
// standalone-with-Kubernetes mode (--endpoint-selector, --endpoint-target-ports), just the pods
// with those labels. With --ha-enable-leader-election it also competes for the pool's Lease.
//
// Event path: an informer callback marks state dirty and a microtask recomputes it, so a whole
// batch of watch events (or a re-list) is applied at once, and still before the event loop can
// run the next ext_proc decision: a pod seen NotReady or deleted is never chosen afterwards.
// Followers keep every informer running, so taking over needs no cold start; only readiness
// (synced && leader) differs between replicas.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Datastore } from '../datastore/datastore.js';
import type { ObjectiveStore } from '../datastore/objectives.js';
import type { ModelRewriteStore, RewriteSpec } from '../datastore/model-rewrites.js';
import type { Logger } from '../observability/logger.js';
import {
  ALPHA_GROUP,
  ALPHA_VERSION,
  OBJECTIVE_KIND,
  OBJECTIVE_PLURAL,
  POOL_GROUP,
  POOL_KIND,
  POOL_PLURAL,
  POOL_VERSION,
  REWRITE_KIND,
  REWRITE_PLURAL,
  collectionPath,
  creationMs,
  type InferenceModelRewrite,
  type InferenceObjective,
  type InferencePool,
  type Pod,
  type PoolObjectReference,
} from './api-types.js';
import { classify, describeApiError, loadKubeConfig } from './client.js';
import { Informer } from './informer.js';
import { IssueReporter, type Issue } from './issues.js';
import { LeaderElector, leaseNameForPool } from './leader-election.js';
import { K8sMetrics } from './metrics.js';
import { labelSelectorString, poolEndpoints, poolIssues, poolView, type PoolView } from './pool.js';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';

/** The command-line part of Kubernetes mode (EppOptions.kubernetes). */
export interface KubernetesFlags {
  /** --kubeconfig; else $KUBECONFIG; else in-cluster. */
  readonly kubeconfigPath?: string;
  /** --pool-group (only version v1 of it is read). */
  readonly poolGroup?: string;
  /** --endpoint-selector, parsed: GIE's standalone mode that selects pods without CRDs. */
  readonly endpointSelector?: Readonly<Record<string, string>>;
  /** --endpoint-target-ports, parsed (required with endpointSelector). */
  readonly endpointTargetPorts?: readonly number[];
  /** --endpoint-picker-service: the Service in front of this EPP, to spot pools pointing elsewhere. */
  readonly eppServiceName?: string;
  /** --ha-enable-leader-election. */
  readonly leaderElection?: boolean;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

export interface KubernetesModeOptions extends KubernetesFlags {
  readonly datastore: Datastore;
  readonly logger: Logger;
  /** The EPP's Prometheus registry; the integration's metrics are added to it. */
  readonly registry: Registry;
  /** A ready KubeConfig (tests); otherwise loaded from kubeconfigPath / $KUBECONFIG / in-cluster. */
  readonly kubeConfig?: KubeConfig;
  /** --pool-name (exactly one of poolName / endpointSelector). */
  readonly poolName?: string;
  readonly poolNamespace: string;
  /** Engine of pods without the engine-type label ("" = the core-metrics-extractor's default). */
  readonly defaultEngine: string;
  /** Default: GIE's lease name for the pool; in selector mode derived from $POD_NAME. */
  readonly leaseName?: string;
  readonly identity?: string;
  /** Informer resync period (recompute from cache), ms; default 10 min; 0 = off. */
  readonly resyncMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

export interface WatchEvent {
  readonly resource: string;
  readonly type: 'add' | 'update' | 'delete';
  readonly name: string;
  /** performance.now() when the event reached the EPP. */
  readonly at: number;
}

export interface KubernetesModeEvents {
  /** Every watch/list event as it arrives (for latency measurements and debugging). */
  watch: [event: WatchEvent];
  /** Readiness (synced && leader) may have changed. */
  readiness: [ready: boolean];
}

export interface KubernetesMode {
  readonly events: EventEmitter<KubernetesModeEvents>;
  readonly metrics: K8sMetrics;
  /** All informers have their first list, and (pool mode) the pool exists. */
  isSynced(): boolean;
  /** True when leader election is off. */
  isLeader(): boolean;
  /** GIE readiness: synced && (leader || no election). */
  isReady(): boolean;
  waitForSync(): Promise<void>;
  /** Current unusable-resource reports (also logged and in tokenroute_k8s_resource_issues). */
  issues(): { kind: string; name: string; reason: string; message: string }[];
  readonly identity: string | undefined;
  close(): Promise<void>;
}

const DEFAULT_RESYNC_MS = 10 * 60_000;

export async function startKubernetesMode(opts: KubernetesModeOptions): Promise<KubernetesMode> {
  if (!!opts.poolName === !!opts.endpointSelector) throw new TokenrouteError(ERRORS.CLI_CONFLICTING_FLAGS, 'Kubernetes mode needs exactly one of --pool-name and --endpoint-selector');
  if (opts.endpointSelector && !(opts.endpointTargetPorts && opts.endpointTargetPorts.length > 0)) {
    throw new TokenrouteError(ERRORS.STARTUP_KUBERNETES, '--endpoint-selector needs --endpoint-target-ports');
  }
  const mode = new KubernetesModeImpl(opts, opts.kubeConfig ?? loadKubeConfig(opts.kubeconfigPath));
  await mode.start();
  return mode;
}

class KubernetesModeImpl implements KubernetesMode {
  readonly events = new EventEmitter<KubernetesModeEvents>();
  readonly metrics: K8sMetrics;
  private readonly log: Logger;
  private readonly reporter: IssueReporter;
  /** The pool's objectives and rewrites live in the datastore; this mode is their one writer. */
  private readonly objectives: ObjectiveStore;
  private readonly rewrites: ModelRewriteStore;
  private readonly poolGroup: string;
  private readonly ns: string;
  private poolInformer: Informer<InferencePool> | undefined;
  private podInformer!: Informer<Pod>;
  private objectiveInformer: Informer<InferenceObjective> | undefined;
  private rewriteInformer: Informer<InferenceModelRewrite> | undefined;
  private elector: LeaderElector | undefined;
  private endpointsDirty = false;
  private objectivesDirty = false;
  private rewritesDirty = false;
  private flushQueued = false;
  private synced = false;
  private lastReady = false;
  private closed = false;
  private syncWaiters: (() => void)[] = [];

  constructor(
    private readonly opts: KubernetesModeOptions,
    private readonly kc: KubeConfig,
  ) {
    this.log = opts.logger.child({ component: 'k8s' });
    this.metrics = new K8sMetrics(opts.registry);
    this.reporter = new IssueReporter(this.log, this.metrics);
    this.poolGroup = opts.poolGroup || POOL_GROUP;
    this.ns = opts.poolNamespace;
    this.objectives = opts.datastore.objectives;
    this.rewrites = opts.datastore.rewrites;
  }

  get identity(): string | undefined {
    return this.elector?.identity;
  }

  async start(): Promise<void> {
    const common = {
      kubeConfig: this.kc,
      namespace: this.ns,
      logger: this.log,
      metrics: this.metrics,
      backoffInitialMs: this.opts.backoffInitialMs,
      backoffMaxMs: this.opts.backoffMaxMs,
      resyncMs: this.opts.resyncMs ?? DEFAULT_RESYNC_MS,
    };
    const core = this.kc.makeApiClient(CoreV1Api);
    const custom = this.kc.makeApiClient(CustomObjectsApi);

    // Pods: the whole pool namespace in pool mode (a selector change then needs no new watch);
    // only the selected pods in selector mode, whose selector is fixed.
    const podSelector = this.opts.endpointSelector ? labelSelectorString(this.opts.endpointSelector) : undefined;
    this.podInformer = new Informer<Pod>({
      ...common,
      resource: 'pods',
      group: '',
      path: collectionPath('', 'v1', this.ns, 'pods'),
      labelSelector: podSelector,
      list: () => core.listNamespacedPod({ namespace: this.ns, labelSelector: podSelector }) as Promise<KubernetesListObject<Pod>>,
    });
    this.watchInformer(this.podInformer, 'pods', () => (this.endpointsDirty = true));

    if (this.opts.poolName) {
      const fieldSelector = `metadata.name=${this.opts.poolName}`;
      this.poolInformer = new Informer<InferencePool>({
        ...common,
        resource: POOL_PLURAL,
        group: this.poolGroup,
        path: collectionPath(this.poolGroup, POOL_VERSION, this.ns, POOL_PLURAL),
        fieldSelector,
        list: () =>
          custom.listNamespacedCustomObject({ group: this.poolGroup, version: POOL_VERSION, namespace: this.ns, plural: POOL_PLURAL, fieldSelector }),
      });
      this.watchInformer(this.poolInformer, POOL_PLURAL, () => (this.endpointsDirty = true));

      // The alpha CRDs are optional (GIE checks discovery the same way): without them the EPP
      // serves with priority 0 for everyone and no rewrites.
      const alpha = await this.alphaResources(custom);
      if (alpha.has(OBJECTIVE_PLURAL)) {
        this.objectiveInformer = new Informer<InferenceObjective>({
          ...common,
          resource: OBJECTIVE_PLURAL,
          group: ALPHA_GROUP,
          path: collectionPath(ALPHA_GROUP, ALPHA_VERSION, this.ns, OBJECTIVE_PLURAL),
          list: () => custom.listNamespacedCustomObject({ group: ALPHA_GROUP, version: ALPHA_VERSION, namespace: this.ns, plural: OBJECTIVE_PLURAL }),
        });
        this.watchInformer(this.objectiveInformer, OBJECTIVE_PLURAL, () => (this.objectivesDirty = true));
      }
      if (alpha.has(REWRITE_PLURAL)) {
        this.rewriteInformer = new Informer<InferenceModelRewrite>({
          ...common,
          resource: REWRITE_PLURAL,
          group: ALPHA_GROUP,
          path: collectionPath(ALPHA_GROUP, ALPHA_VERSION, this.ns, REWRITE_PLURAL),
          list: () => custom.listNamespacedCustomObject({ group: ALPHA_GROUP, version: ALPHA_VERSION, namespace: this.ns, plural: REWRITE_PLURAL }),
        });
        this.watchInformer(this.rewriteInformer, REWRITE_PLURAL, () => (this.rewritesDirty = true));
      }
    }

    if (this.opts.leaderElection) {
      this.elector = new LeaderElector({
        kubeConfig: this.kc,
        namespace: this.ns,
        name: this.opts.leaseName ?? (this.opts.poolName ? leaseNameForPool(this.ns, this.opts.poolName) : selectorModeLeaseName(this.ns)),
        identity: this.opts.identity,
        leaseDurationMs: this.opts.leaseDurationMs,
        renewDeadlineMs: this.opts.renewDeadlineMs,
        retryPeriodMs: this.opts.retryPeriodMs,
        logger: this.log,
        metrics: this.metrics,
      });
      this.elector.on('change', () => this.publishReadiness());
    } else if (this.opts.poolName) {
      this.metrics.isLeader.set({ lease: leaseNameForPool(this.ns, this.opts.poolName) }, 1);
    }

    for (const inf of this.informers()) inf.start();
    this.elector?.start();
    this.log.info(
      {
        pool: this.opts.poolName ? `${this.ns}/${this.opts.poolName}` : undefined,
        endpointSelector: podSelector,
        objectives: !!this.objectiveInformer,
        rewrites: !!this.rewriteInformer,
        leaderElection: this.opts.leaderElection,
      },
      'Kubernetes watchers started',
    );
  }

  private informers(): Informer<any>[] {
    return [this.poolInformer, this.podInformer, this.objectiveInformer, this.rewriteInformer].filter((i): i is Informer<any> => i !== undefined);
  }

  private watchInformer(inf: Informer<any>, resource: string, dirty: () => void): void {
    const onEvent = (type: WatchEvent['type']) => (obj: { metadata?: { name?: string } }) => {
      if (this.events.listenerCount('watch') > 0) this.events.emit('watch', { resource, type, name: obj.metadata?.name ?? '', at: performance.now() });
      dirty();
      this.scheduleFlush();
    };
    inf.on('add', onEvent('add'));
    inf.on('update', onEvent('update'));
    inf.on('delete', onEvent('delete'));
    const all = () => {
      this.endpointsDirty = this.objectivesDirty = this.rewritesDirty = true;
      this.scheduleFlush();
    };
    inf.on('synced', all);
    inf.on('relisted', all);
    inf.on('resync', all);
    inf.on('error', () => undefined); // logged and retried by the informer
  }

  private scheduleFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  private allInformersSynced(): boolean {
    return this.informers().every((i) => i.synced());
  }

  private flush(): void {
    if (this.closed) return;
    const informersSynced = this.allInformersSynced();
    if (this.endpointsDirty) {
      this.endpointsDirty = false;
      this.refreshEndpoints(informersSynced);
    }
    if (this.objectivesDirty) {
      this.objectivesDirty = false;
      this.refreshObjectives(informersSynced);
    }
    if (this.rewritesDirty) {
      this.rewritesDirty = false;
      this.refreshRewrites(informersSynced);
    }
    const synced = informersSynced && (!this.poolInformer || this.currentPool() !== undefined);
    if (synced !== this.synced) {
      this.synced = synced;
      if (synced) {
        this.opts.datastore.markSynced();
        this.log.info({ endpoints: this.opts.datastore.size(), objectives: this.objectives.size() }, 'synced with the API server');
        for (const w of this.syncWaiters.splice(0)) w();
      } else {
        this.log.warn('not synced: the InferencePool is gone');
      }
    }
    this.publishReadiness();
  }

  private currentPool(): InferencePool | undefined {
    return this.poolInformer?.get(this.opts.poolName!, this.ns);
  }

  private refreshEndpoints(report: boolean): void {
    const ds = this.opts.datastore;
    const pods = this.podInformer.list();
    if (!this.poolInformer) {
      const view: PoolView = { name: 'standalone', namespace: this.ns, selector: this.opts.endpointSelector!, targetPorts: this.opts.endpointTargetPorts! };
      ds.setEndpoints(poolEndpoints(pods, view, this.opts.defaultEngine));
      if (report) this.reporter.set('EndpointSelector', labelSelectorString(view.selector), pods.length === 0 ? [{ reason: 'SelectorMatchesNoPods', message: `no pod in namespace ${this.ns} matches --endpoint-selector` }] : []);
      return;
    }
    const name = `${this.ns}/${this.opts.poolName}`;
    const pool = this.currentPool();
    if (!pool) {
      ds.setEndpoints([]);
      if (this.poolInformer.synced()) this.reporter.set(POOL_KIND, name, [{ reason: 'NotFound', message: `InferencePool ${name} (group ${this.poolGroup}) does not exist; serving no endpoints until it is created` }]);
      return;
    }
    const { view, issues } = poolView(pool);
    if (!view) {
      ds.setEndpoints([]);
      this.reporter.set(POOL_KIND, name, issues);
      return;
    }
    ds.setEndpoints(poolEndpoints(pods, view, this.opts.defaultEngine));
    if (report) this.reporter.set(POOL_KIND, name, poolIssues(pool, view, pods, { eppServiceName: this.opts.eppServiceName }));
  }

  /** Whether `ref` points at our pool; mismatches of group or kind on our pool's name are issues. */
  private refersToPool(kind: string, obj: { metadata?: { name?: string } }, ref: PoolObjectReference | undefined, issues: Map<string, Issue[]>): boolean {
    if (!ref || ref.name !== this.opts.poolName) return false;
    const group = ref.group ?? POOL_GROUP;
    const refKind = ref.kind ?? POOL_KIND;
    if (group !== this.poolGroup || refKind !== POOL_KIND) {
      issues.set(obj.metadata?.name ?? '', [
        {
          reason: 'PoolRefMismatch',
          message: `poolRef is ${refKind}.${group} ${ref.name}, but this EPP serves ${POOL_KIND}.${this.poolGroup} ${ref.name}; the ${kind} is ignored`,
        },
      ]);
      return false;
    }
    return true;
  }

  private refreshObjectives(report: boolean): void {
    if (!this.objectiveInformer) return;
    const issues = new Map<string, Issue[]>();
    const mine = this.objectiveInformer.list().filter((o) => o.metadata?.namespace === this.ns && this.refersToPool(OBJECTIVE_KIND, o, o.spec?.poolRef, issues));
    this.objectives.replace(mine.map((o) => ({ name: o.metadata?.name ?? '', priority: typeof o.spec?.priority === 'number' ? o.spec.priority : undefined })));
    if (report) this.reportAll(OBJECTIVE_KIND, issues);
  }

  private refreshRewrites(report: boolean): void {
    if (!this.rewriteInformer) return;
    const issues = new Map<string, Issue[]>();
    const specs: RewriteSpec[] = [];
    for (const rw of this.rewriteInformer.list()) {
      if (rw.metadata?.namespace !== this.ns || !this.refersToPool(REWRITE_KIND, rw, rw.spec?.poolRef, issues)) continue;
      const name = rw.metadata?.name ?? '';
      const own: Issue[] = [];
      const rules = (rw.spec?.rules ?? []).map((rule, i) => {
        const targets = (rule.targets ?? [])
          .filter((t) => typeof t.modelRewrite === 'string' && t.modelRewrite !== '')
          .map((t) => ({ model: t.modelRewrite!, weight: typeof t.weight === 'number' ? t.weight : 0 }));
        if (targets.length === 0) own.push({ reason: 'RuleWithoutTargets', message: `rules[${i}] has no targets: matching requests keep their model` });
        const weighted = targets.filter((t) => t.weight > 0).length;
        if (weighted > 0 && weighted < targets.length) {
          own.push({ reason: 'MixedTargetWeights', message: `rules[${i}] sets weight on ${weighted} of ${targets.length} targets; unweighted targets get no traffic` });
        }
        return { models: (rule.matches ?? []).map((m) => m.model?.value).filter((v): v is string => !!v), targets };
      });
      if (own.length > 0) issues.set(name, dedupeReasons(own));
      specs.push({ name, createdMs: creationMs(rw), rules });
    }
    this.rewrites.replace(specs);
    if (report) this.reportAll(REWRITE_KIND, issues);
  }

  private reportAll(kind: string, issues: Map<string, Issue[]>): void {
    const names = new Set<string>();
    for (const [name, list] of issues) {
      names.add(`${this.ns}/${name}`);
      this.reporter.set(kind, `${this.ns}/${name}`, list);
    }
    this.reporter.retain(kind, names);
  }

  private async alphaResources(custom: CustomObjectsApi): Promise<Set<string>> {
    try {
      const list = await custom.getAPIResources({ group: ALPHA_GROUP, version: ALPHA_VERSION });
      return new Set(list.resources.map((r) => r.name));
    } catch (err) {
      const reason = classify(err);
      if (reason === 'not_found') {
        this.log.info(`API group ${ALPHA_GROUP}/${ALPHA_VERSION} is not installed: InferenceObjective and InferenceModelRewrite are not watched`);
      } else {
        this.log.warn(
          { err: describeApiError(err, { verb: 'get', resource: `discovery of ${ALPHA_GROUP}/${ALPHA_VERSION}`, group: ALPHA_GROUP }) },
          'could not discover the alpha CRDs; InferenceObjective and InferenceModelRewrite are not watched',
        );
      }
      return new Set();
    }
  }

  isSynced(): boolean {
    return this.synced;
  }

  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : true;
  }

  isReady(): boolean {
    return !this.closed && this.synced && this.isLeader();
  }

  waitForSync(): Promise<void> {
    if (this.synced || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  issues() {
    return this.reporter.list();
  }

  private publishReadiness(): void {
    const ready = this.isReady();
    if (ready === this.lastReady) return;
    this.lastReady = ready;
    this.events.emit('readiness', ready);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.elector?.stop();
    await Promise.all(this.informers().map((i) => i.stop()));
    for (const w of this.syncWaiters.splice(0)) w();
    this.publishReadiness();
  }
}

function dedupeReasons(issues: Issue[]): Issue[] {
  const seen = new Map<string, Issue>();
  for (const i of issues) if (!seen.has(i.reason)) seen.set(i.reason, i);
  return [...seen.values()];
}

/** Selector mode has no pool: GIE names the lease after the EPP's Deployment, from $POD_NAME. */
function selectorModeLeaseName(namespace: string): string {
  const pod = process.env.POD_NAME;
  const m = pod ? /^(.+)-[a-z0-9]+-[a-z0-9]+$/.exec(pod) : null;
  if (!m) throw new TokenrouteError(ERRORS.STARTUP_LEADER_ELECTION, '--ha-enable-leader-election with --endpoint-selector needs $POD_NAME (<deployment>-<hash>-<id>) to name the lease');
  return leaseNameForPool(namespace, m[1]);
}
