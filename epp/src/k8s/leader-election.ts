// Active-passive HA (GIE --ha-enable-leader-election): replicas compete for one
// coordination.k8s.io/v1 Lease per pool, `epp-<ns>-<pool>.gateway-api-inference-extension.sigs.k8s.io`.
// @kubernetes/client-node has no leader election, so this is a small Lease elector with
// client-go's timing model: leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s.
//   - Writes use the Lease's resourceVersion (optimistic concurrency): of two replicas racing for
//     an expired lease, the API server lets exactly one update win (409 for the other).
//   - The leader renews every retryPeriod and counts itself leader only until renewDeadline after
//     the start of its last successful renew, so it stops before anyone else may take over.
//   - A follower takes over when the lease is expired: renewTime + leaseDuration has passed, and
//     (guard against clock skew) leaseDuration − retryPeriod has passed since it saw that renewal
//     on its own clock. It schedules a check at that instant, so a dead leader is replaced about
//     one lease duration after its last renewal. Safe as long as renewDeadline + retryPeriod ≤
//     leaseDuration (checked).
//   - stop() releases the lease (holder cleared), so a rolling restart hands over in ~retryPeriod.
// Only the verbs get, create, update on leases are used (manifests/epp/rbac.yaml).
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { classify, describeApiError } from './client.js';
import type { K8sMetrics } from './metrics.js';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';
import { DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS } from './lease-timing.js';


/** GIE's lease name for a pool. */
export function leaseNameForPool(namespace: string, pool: string): string {
  return `epp-${namespace}-${pool}.gateway-api-inference-extension.sigs.k8s.io`;
}

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica; default `<hostname>_<uuid>` as controller-runtime. */
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
  readonly metrics?: K8sMetrics;
}

export interface LeaderElectorEvents {
  /** Leadership gained or lost; read isLeader(). */
  change: [leader: boolean];
}

interface Observed {
  holder: string;
  renewTime: string;
  resourceVersion: string;
  /** Monotonic ms when this record was first seen. */
  at: number;
}

const mono = () => performance.now();

export function validateLeaseTiming(leaseMs: number, renewMs: number, retryMs: number): void {
  if (!(retryMs > 0) || !(renewMs > 0) || !(leaseMs > 0)) throw new TokenrouteError(ERRORS.STARTUP_LEADER_ELECTION, 'leader election: durations must be positive');
  if (renewMs + retryMs > leaseMs) {
    throw new TokenrouteError(ERRORS.STARTUP_LEADER_ELECTION, `leader election: renew deadline (${renewMs} ms) + retry period (${retryMs} ms) must not exceed the lease duration (${leaseMs} ms)`);
  }
}

export class LeaderElector extends EventEmitter<LeaderElectorEvents> {
  readonly identity: string;
  private readonly api: CoordinationV1Api;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  private leading = false;
  /** Monotonic deadline of our leadership (start of last successful renew + renewDeadline). */
  private leaderUntil = 0;
  private observed: Observed | undefined;
  /** The lease as last read, when the next round is scheduled for the moment it expires. */
  private expiring: V1Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight: Promise<void> | undefined;
  private lastErrorKey = '';

  constructor(private readonly opts: LeaderElectionOptions) {
    super();
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.leaseMs = opts.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewMs = opts.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryMs = opts.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    validateLeaseTiming(this.leaseMs, this.renewMs, this.retryMs);
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.log = opts.logger.child({ component: 'leader-election', lease: `${opts.namespace}/${opts.name}`, identity: this.identity });
    opts.metrics?.isLeader.set({ lease: opts.name }, 0);
  }

  isLeader(): boolean {
    return this.leading && mono() < this.leaderUntil;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.log.info({ leaseDurationMs: this.leaseMs, renewDeadlineMs: this.renewMs, retryPeriodMs: this.retryMs }, 'leader election started');
    this.schedule(0);
  }

  /** Stops competing; a leader releases the lease so a follower takes over at once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight?.catch(() => undefined);
    const wasLeader = this.isLeader();
    this.setLeading(false);
    if (wasLeader) await this.release();
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inflight = this.tick().finally(() => (this.inflight = undefined));
    }, Math.max(0, ms));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const started = mono();
    let next = this.retryMs;
    try {
      next = await this.tryAcquireOrRenew(started);
      this.lastErrorKey = '';
    } catch (err) {
      this.reportError(err);
    }
    if (this.leading && mono() >= this.leaderUntil) this.stepDown('could not renew the lease within the renew deadline');
    this.schedule(next);
  }

  /** One round; returns ms until the next round. */
  private async tryAcquireOrRenew(started: number): Promise<number> {
    // Scheduled for the instant the observed lease expires: take it over straight away. If the
    // holder renewed meanwhile, its resourceVersion changed and the update is refused (409).
    const expiring = this.expiring;
    this.expiring = undefined;
    if (expiring && this.observed?.resourceVersion === expiring.metadata?.resourceVersion) {
      const spec = expiring.spec ?? {};
      const durationMs = (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
      if (this.expiresIn(timeText(spec.renewTime), durationMs, started) <= 0) {
        this.log.info({ previous: spec.holderIdentity }, 'lease expired; trying to take over');
        return this.write(expiring, started, true);
      }
    }
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
    } catch (err) {
      if (classify(err) !== 'not_found') throw Object.assign(asError(err), { leaseVerb: 'get' });
      return this.create(started);
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewTime = timeText(spec.renewTime);
    const rv = lease.metadata?.resourceVersion ?? '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime || this.observed.resourceVersion !== rv) {
      this.observed = { holder, renewTime, resourceVersion: rv, at: started };
    }

    // Our own lease (also after a restart with the same identity): renew it.
    if (holder === this.identity) return this.write(lease, started, false);
    if (this.leading) this.stepDown(`lease now held by ${holder || '(nobody)'}`);
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
    if (holder !== '') {
      const expiresIn = this.expiresIn(renewTime, durationMs, started);
      if (expiresIn > 0) {
        if (expiresIn < this.retryMs) this.expiring = lease;
        return Math.min(this.retryMs, expiresIn + 1);
      }
      this.log.info({ previous: holder }, 'lease expired; trying to take over');
    }
    return this.write(lease, started, true);
  }

  /** Monotonic ms until the observed lease counts as expired (≤ 0: expired). */
  private expiresIn(renewTime: string, durationMs: number, now: number): number {
    const observedAt = this.observed?.at ?? now;
    const renewMs = Date.parse(renewTime);
    const byTimestamp = Number.isFinite(renewMs) ? renewMs + durationMs - Date.now() : Number.POSITIVE_INFINITY;
    const byObservation = observedAt + durationMs - this.retryMs - now;
    return Math.max(byTimestamp, byObservation);
  }

  private async create(started: number): Promise<number> {
    const now = new V1MicroTime();
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.opts.name, namespace: this.opts.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.round(this.leaseMs / 1000)),
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
    try {
      await this.api.createNamespacedLease({ namespace: this.opts.namespace, body });
    } catch (err) {
      if (classify(err) === 'conflict') return 0; // someone created it first: look again now
      throw Object.assign(asError(err), { leaseVerb: 'create' });
    }
    this.becomeLeader(started);
    return this.retryMs;
  }

  /** Renews (our lease) or takes over (expired/released lease) with optimistic concurrency. */
  private async write(lease: V1Lease, started: number, acquire: boolean): Promise<number> {
    const now = new V1MicroTime();
    const spec = lease.spec ?? {};
    const body: V1Lease = {
      ...lease,
      metadata: { ...lease.metadata, managedFields: undefined },
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.max(1, Math.round(this.leaseMs / 1000)),
        renewTime: now,
        acquireTime: acquire ? now : spec.acquireTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (acquire && spec.holderIdentity ? 1 : 0),
      },
    };
    try {
      const updated = await this.api.replaceNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace, body });
      this.observed = { holder: this.identity, renewTime: timeText(updated.spec?.renewTime), resourceVersion: updated.metadata?.resourceVersion ?? '', at: started };
    } catch (err) {
      if (classify(err) === 'conflict') {
        // Another replica wrote first (took over, or renewed): re-read on the next round.
        if (!acquire) this.log.debug('lease renew conflicted; re-reading');
        return 0;
      }
      throw Object.assign(asError(err), { leaseVerb: 'update' });
    }
    this.becomeLeader(started);
    return this.retryMs;
  }

  private becomeLeader(started: number): void {
    this.leaderUntil = started + this.renewMs;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    // Readiness must drop the moment leadership can no longer be trusted, not at the next round.
    this.deadlineTimer = setTimeout(() => {
      if (this.leading && mono() >= this.leaderUntil) this.stepDown('renew deadline passed');
    }, Math.max(0, this.leaderUntil - mono()) + 1);
    this.deadlineTimer.unref();
    if (!this.leading) {
      this.log.info('became leader');
      this.setLeading(true);
    }
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.log.warn({ why }, 'lost leadership');
    this.setLeading(false);
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (!leading) {
      this.leaderUntil = 0;
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    }
    this.opts.metrics?.isLeader.set({ lease: this.opts.name }, leading ? 1 : 0);
    this.opts.metrics?.leaderTransitions.inc({ lease: this.opts.name });
    this.emit('change', leading);
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = new V1MicroTime();
      await this.api.replaceNamespacedLease({
        name: this.opts.name,
        namespace: this.opts.namespace,
        body: {
          ...lease,
          metadata: { ...lease.metadata, managedFields: undefined },
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: describeApiError(err, { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: this.opts.namespace }) }, 'could not release the lease');
    }
  }

  private reportError(err: unknown): void {
    const verb = (err as { leaseVerb?: string }).leaseVerb ?? 'get';
    const message = describeApiError(err, { verb, resource: 'leases', group: 'coordination.k8s.io', namespace: this.opts.namespace });
    const key = `${verb}:${classify(err)}`;
    if (key !== this.lastErrorKey) {
      this.log.error({ reason: classify(err) }, `leader election: ${message}`);
      this.lastErrorKey = key;
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A Lease MicroTime as text (client-node hands back a Date or the raw string). */
function timeText(t: unknown): string {
  if (t instanceof Date) return t.toISOString();
  return typeof t === 'string' ? t : '';
}
