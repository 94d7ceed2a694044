// FlowController: the queue behind the `flowControl` feature gate (issue 14), with the semantics of
// llm-d's router (llm-d-router `pkg/epp/flowcontrol/{controller,registry}`, README "Enabling,
// disabling, and tuning"):
//   - A request is admitted at once when nothing waits and the pool is below its band's ceiling
//     (the saturation detector's value vs the usage-limit policy's ceiling; 1.0 by default). Else it
//     waits in the EPP, in its flow = (fairness id, priority).
//   - Dispatch: strict priority between bands (highest first; the first gated band stops the
//     cycle, lower bands wait — the usage-limit contract), the band's fairness policy picks the
//     flow, the flow's ordering policy its request. One request per cycle step; the next step runs
//     on the next turn of the event loop, after the dispatched request has been scheduled and
//     counted in flight (the concurrency detector sees it).
//   - Capacity: the global and per-band maxRequests / maxBytes count waiting requests; a request
//     beyond them is rejected (429 rejected-saturated, or 503 rejected-no-endpoints while the pool
//     has no endpoint — llm-d-router #1751/#2047).
//   - Queue-wait budget: defaultRequestTTL while the pool has endpoints (429 rejected-ttl-expired),
//     noEndpointRequestTTL while it has none (503 rejected-no-endpoints): the scale-from-zero
//     waiting room. A change of regime starts a fresh budget, bounded by enqueue time + the longer
//     budget. 0 = no budget (the client's cancel bounds the wait). One timer serves every queued
//     request: it is armed for the earliest expiry in a heap.
//   - A cancelled request (the proxy reset its stream) leaves at once (503 rejected-context-
//     cancelled); shutdown drains every waiting request (503 rejected-shutting-down).
// Costs: admission at once is O(endpoints) (one saturation reading); a queued request costs
// O(log n) to enqueue and to dispatch plus O(flows in its band) for the fairness pick; a cancel is
// O(1) (lazy removal, compacted when dead entries outnumber live ones).
import type { Candidate } from '../framework/endpoint.js';
import type { SaturationDetector } from '../framework/plugins.js';
import type { Cancellation, Evictor } from '../framework/cancellation.js';
import { ERRORS } from '../framework/error-catalogue.js';
import { DROPPED_REASON_HEADER } from '../framework/flow-control.js';
import type {
  DroppedReason,
  FairnessPolicy,
  FlowControlObserver,
  FlowKey,
  FlowOutcome,
  FlowQueueView,
  OrderingPolicy,
  PriorityBandView,
  QueuedItem,
  RateLimitPolicy,
  UsageLimitPolicy,
} from '../framework/flow-control.js';
import { Heap } from '../util/heap.js';

/** A priority band's limits and policies. */
export interface BandSettings {
  /** Waiting requests allowed in the band (> 0). */
  readonly maxRequests: number;
  /** Waiting bytes allowed in the band (> 0). */
  readonly maxBytes: number;
  readonly fairness: FairnessPolicy;
  readonly ordering: OrderingPolicy;
}

export interface FlowControlSettings {
  /** Waiting requests allowed over all bands; 0 = no global limit. */
  readonly maxRequests: number;
  /** Waiting bytes allowed over all bands; 0 = no global limit. */
  readonly maxBytes: number;
  /** Queue-wait budget while the pool has endpoints, ms; 0 = none. */
  readonly defaultRequestTtlMs: number;
  /** Queue-wait budget while the pool has no endpoint, ms; 0 = none. */
  readonly noEndpointRequestTtlMs: number;
  /** The band of a priority (configured, or made from the default templates). */
  band(priority: number): BandSettings;
  readonly usageLimit: UsageLimitPolicy;
  /**
   * In-flight eviction (llm-d's enableEviction): while the highest band with requests waiting is
   * held by saturation, running sheddable requests (priority < 0, below that band) are ended to
   * reclaim their capacity — the lowest priority first, then the most recently routed (the least
   * work lost) — at most `maxPerDecision` per decision, then none for `graceMs` (the time the
   * saturation signal takes to see the freed capacity).
   */
  readonly eviction?: { readonly maxPerDecision: number; readonly graceMs: number };
  /** Per-flow request and token rates, checked before anything else (none when absent). */
  readonly rateLimit?: RateLimitPolicy;
  readonly detector: SaturationDetector;
  /** While requests wait on a saturated pool, how often saturation is read again (ms). */
  readonly recheckMs: number;
}

/** What a request brings to flow control. */
export interface FlowRequest {
  readonly requestId: string;
  readonly flow: FlowKey;
  readonly byteSize: number;
  readonly tokens: number;
  readonly sloTtftMs: number | undefined;
  /**
   * The client's own queue-wait budget (x-llm-d-inference-ttl, ms > 0): it can only shorten
   * defaultRequestTTL, never noEndpointRequestTTL (llm-d-router #2649).
   */
  readonly ttlMs?: number;
}

/** How a request left flow control: dispatched, or dropped with a status and a reason. */
export type FlowDecision =
  | { readonly dispatched: true; readonly outcome: 'Dispatched' }
  | {
      readonly dispatched: false;
      readonly outcome: FlowOutcome;
      readonly reason: DroppedReason;
      readonly message: string;
      /** Rate-limited: when the flow may send again (ms). */
      readonly retryAfterMs?: number;
    };

export interface FlowControllerDeps {
  /** The pool's endpoints now. */
  readonly candidates: () => readonly Candidate[];
  readonly now: () => number;
  readonly observer?: FlowControlObserver;
  /** A policy or the detector threw during a dispatch cycle (logged; the cycle is retried later). */
  readonly onError?: (err: unknown) => void;
}

const DISPATCHED: FlowDecision = { dispatched: true, outcome: 'Dispatched' };
const EVICTED_HEADERS: ReadonlyMap<string, string> = new Map([[DROPPED_REASON_HEADER, 'evicted']]);

/** A running sheddable request that eviction may end. */
interface Running {
  readonly priority: number;
  readonly routedAt: number;
  readonly evictor: Evictor;
}

type Regime = 'endpoints' | 'empty';

/** One waiting request. */
class Entry implements QueuedItem {
  live = true;
  regime: Regime;
  /** End of its queue-wait budget (ms; Infinity = none). */
  expiresAt: number;
  unlisten: (() => void) | undefined;
  readonly deadline: number;

  constructor(
    readonly requestId: string,
    readonly flow: FlowKey,
    readonly byteSize: number,
    readonly tokens: number,
    readonly enqueuedAt: number,
    readonly seq: number,
    readonly sloTtftMs: number | undefined,
    regime: Regime,
    budgetMs: number,
    readonly resolve: (d: FlowDecision) => void,
    readonly queue: FlowQueue,
    readonly clientTtlMs: number | undefined,
  ) {
    this.regime = regime;
    this.expiresAt = budgetMs > 0 ? enqueuedAt + budgetMs : Infinity;
    this.deadline = this.expiresAt;
  }
}

/** One flow's waiting requests, in its ordering policy's order. */
class FlowQueue implements FlowQueueView {
  length = 0;
  bytes = 0;
  private readonly heap: Heap<Entry>;

  constructor(
    readonly key: FlowKey,
    readonly ordering: OrderingPolicy,
    readonly band: Band,
  ) {
    this.heap = new Heap<Entry>((a, b) => ordering.less(a, b));
  }

  add(e: Entry): void {
    this.heap.push(e);
    this.length++;
    this.bytes += e.byteSize;
  }

  head(): Entry {
    let top = this.heap.peek();
    while (top && !top.live) {
      this.heap.pop();
      top = this.heap.peek();
    }
    return top as Entry;
  }

  take(): Entry {
    const e = this.head();
    this.heap.pop();
    return e;
  }

  /** `e` left without being taken (expired, cancelled). */
  forget(e: Entry): void {
    this.length--;
    this.bytes -= e.byteSize;
    if (this.length === 0) this.heap.clear();
    else if (this.heap.size > 2 * this.length + 64) this.heap.compact((x) => x.live);
  }

  taken(e: Entry): void {
    this.length--;
    this.bytes -= e.byteSize;
  }

  /** Entries the heap holds, dead ones included. */
  get retained(): number {
    return this.heap.size;
  }

  /** The waiting requests, in no particular order (a copy: callers may evict while iterating). */
  waitingEntries(): Entry[] {
    return this.heap.values().filter((e) => e.live);
  }
}

/** One priority band: its flows with requests waiting. */
class Band implements PriorityBandView {
  readonly flows: FlowQueue[] = [];
  readonly byId = new Map<string, FlowQueue>();
  readonly policyState: unknown;
  requests = 0;
  bytes = 0;

  constructor(
    readonly priority: number,
    readonly settings: BandSettings,
  ) {
    this.policyState = settings.fairness.newState();
  }
}

export class FlowController {
  private readonly bands = new Map<number, Band>();
  /** Bands with requests waiting, highest priority first. */
  private active: Band[] = [];
  private requests = 0;
  private bytes = 0;
  private seq = 0;
  private readonly expiries = new Heap<Entry>((a, b) => a.expiresAt < b.expiresAt);
  /** Waiting requests queued (or moved) while the pool had no endpoint. */
  private forEndpoints = 0;
  /** Running sheddable requests, by request id (only with eviction on). */
  private readonly running = new Map<string, Running>();
  /** No eviction before this time (ms): the grace after the last one. */
  private evictionHoldUntil = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Infinity;
  private cycleScheduled = false;
  private recheckTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** One-element priority lists for the admission check, by priority (no allocation per request). */
  private readonly single = new Map<number, readonly number[]>();

  constructor(
    private readonly settings: FlowControlSettings,
    private readonly deps: FlowControllerDeps,
  ) {}

  /** Requests waiting now. */
  get waiting(): number {
    return this.requests;
  }

  /** Bytes of the requests waiting now. */
  get waitingBytes(): number {
    return this.bytes;
  }

  /**
   * How full the queue is against its limits, per band with requests waiting (and 'all' for the
   * global limits when set): the larger of requests ÷ maxRequests and bytes ÷ maxBytes.
   */
  capacityUse(): { readonly priority: string; readonly utilization: number }[] {
    const out: { priority: string; utilization: number }[] = [];
    const s = this.settings;
    if (s.maxRequests > 0 || s.maxBytes > 0) {
      out.push({ priority: 'all', utilization: Math.max(s.maxRequests > 0 ? this.requests / s.maxRequests : 0, s.maxBytes > 0 ? this.bytes / s.maxBytes : 0) });
    }
    for (const band of this.bands.values()) {
      out.push({ priority: String(band.priority), utilization: Math.max(band.requests / band.settings.maxRequests, band.bytes / band.settings.maxBytes) });
    }
    return out;
  }

  /**
   * Entries the queues and the expiry heap still hold, live or not (removal is lazy): stays
   * within about twice the waiting requests plus a constant, however many leave early.
   */
  get retainedEntries(): number {
    let n = this.expiries.size;
    for (const band of this.bands.values()) for (const q of band.byId.values()) n += q.retained;
    return n;
  }

  /**
   * Admits `req` at once (a decision), or queues it (a promise of one). `cancellation` lets a
   * queued request leave as soon as its stream is reset.
   */
  admit(req: FlowRequest, cancellation?: Cancellation): FlowDecision | Promise<FlowDecision> {
    if (this.stopped) return this.finishNow(req.flow, 'RejectedOther', 'rejected-shutting-down', 'flow controller shutting down');
    const limited = this.settings.rateLimit?.acquire(req.flow, req.tokens, this.deps.now()) ?? 0;
    if (limited > 0) {
      this.deps.observer?.finished(req.flow, 'RejectedRateLimited', 0);
      return { dispatched: false, outcome: 'RejectedRateLimited', reason: 'rejected-rate-limited', message: `flow ${JSON.stringify(req.flow.id)} is over its rate limit`, retryAfterMs: limited };
    }
    const candidates = this.deps.candidates();
    if (this.requests === 0 && candidates.length > 0) {
      const saturation = this.settings.detector.saturation(candidates, this.deps.now());
      this.deps.observer?.saturation(saturation);
      const band = this.band(req.flow.priority);
      const fairness = band.settings.fairness;
      const bandCeiling = this.ceiling(saturation, req.flow.priority);
      if (saturation < (fairness.ceiling ? fairness.ceiling(band.policyState, req.flow, bandCeiling) : bandCeiling)) {
        fairness.dispatched?.(band.policyState, req.flow, req.tokens);
        this.deps.observer?.finished(req.flow, 'Dispatched', 0);
        return DISPATCHED;
      }
    }
    const band = this.band(req.flow.priority);
    const s = this.settings;
    const full =
      (s.maxRequests > 0 && this.requests + 1 > s.maxRequests) ||
      (s.maxBytes > 0 && this.bytes + req.byteSize > s.maxBytes) ||
      band.requests + 1 > band.settings.maxRequests ||
      band.bytes + req.byteSize > band.settings.maxBytes;
    if (full) {
      return candidates.length === 0
        ? this.finishNow(req.flow, 'RejectedNoEndpoints', 'rejected-no-endpoints', 'no endpoints available: flow control queue at capacity')
        : this.finishNow(req.flow, 'RejectedCapacity', 'rejected-saturated', 'flow control queue at capacity');
    }
    if (cancellation?.cancelled) {
      return this.finishNow(req.flow, 'EvictedContextCancelled', 'rejected-context-cancelled', 'client disconnected: request cancelled before it was queued');
    }
    return new Promise<FlowDecision>((resolve) => {
      const regime: Regime = candidates.length === 0 ? 'empty' : 'endpoints';
      let queue = band.byId.get(req.flow.id);
      if (!queue) {
        queue = new FlowQueue(req.flow, band.settings.ordering, band);
        band.byId.set(req.flow.id, queue);
      }
      const e = new Entry(req.requestId, req.flow, req.byteSize, req.tokens, this.deps.now(), this.seq++, req.sloTtftMs, regime, this.budget(regime, req.ttlMs), resolve, queue, req.ttlMs);
      if (queue.length === 0) band.flows.push(queue);
      if (band.requests === 0) this.activate(band);
      queue.add(e);
      band.requests++;
      band.bytes += e.byteSize;
      this.requests++;
      this.bytes += e.byteSize;
      this.deps.observer?.queued(e.flow, 1, e.byteSize);
      if (regime === 'empty') this.countForEndpoints(1);
      if (e.expiresAt !== Infinity) this.trackExpiry(e);
      if (cancellation) e.unlisten = cancellation.onCancel(() => this.evict(e, 'EvictedContextCancelled', 'rejected-context-cancelled', 'client disconnected while queued'));
      // A request may queue behind others while the pool is not saturated (they are being
      // dispatched one per turn): make sure a cycle runs.
      this.scheduleCycle();
    });
  }

  /** A request of `flow` completed having generated `outputTokens` (fairness accounting). */
  served(flow: FlowKey, outputTokens: number): void {
    const band = this.band(flow.priority);
    band.settings.fairness.served?.(band.policyState, flow, outputTokens);
    this.settings.rateLimit?.served?.(flow, outputTokens, this.deps.now());
  }

  /** A sheddable request was routed and runs: eviction may end it (ignored with eviction off). */
  runningStarted(requestId: string, priority: number, routedAt: number, evictor: Evictor): void {
    if (this.settings.eviction && priority < 0) this.running.set(requestId, { priority, routedAt, evictor });
  }

  /** The request ended (or was evicted). */
  runningEnded(requestId: string): void {
    this.running.delete(requestId);
  }

  /** Capacity may have freed (a request ended, metrics arrived): run a dispatch cycle soon. */
  nudge(): void {
    if (this.requests > 0) this.scheduleCycle();
  }

  /** The pool's membership changed: queued requests move to the budget of the new regime. */
  endpointsChanged(): void {
    if (this.requests === 0) return;
    const regime: Regime = this.deps.candidates().length === 0 ? 'empty' : 'endpoints';
    const now = this.deps.now();
    const longest = Math.max(this.budgetOr(this.settings.defaultRequestTtlMs), this.budgetOr(this.settings.noEndpointRequestTtlMs));
    let changed = false;
    for (const band of this.active) {
      for (const q of band.flows) {
        this.forEachLive(q, (e) => {
          if (e.regime === regime) return;
          this.countForEndpoints(regime === 'empty' ? 1 : -1);
          e.regime = regime;
          const budget = this.budget(regime, e.clientTtlMs);
          e.expiresAt = budget > 0 ? Math.min(now + budget, e.enqueuedAt + longest) : Infinity;
          changed = true;
        });
      }
    }
    if (changed) {
      this.expiries.clear();
      for (const band of this.active) {
        for (const q of band.flows) {
          this.forEachLive(q, (e) => {
            if (e.expiresAt !== Infinity) this.expiries.push(e);
          });
        }
      }
      this.armExpiry(true);
    }
    this.scheduleCycle();
  }

  /** Drains every waiting request with rejected-shutting-down; later requests are refused. */
  shutdown(): void {
    this.stopped = true;
    for (const band of [...this.active]) {
      for (const q of [...band.flows]) this.forEachLive(q, (e) => this.evict(e, 'EvictedOther', 'rejected-shutting-down', 'flow controller shutting down'));
    }
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.expiryTimer = this.recheckTimer = undefined;
  }

  // ---------------------------------------------------------------- dispatch

  private scheduleCycle(): void {
    if (this.cycleScheduled || this.stopped) return;
    this.cycleScheduled = true;
    setImmediate(() => {
      this.cycleScheduled = false;
      this.safeCycle();
    });
  }

  /**
   * A cycle runs from a timer: a throwing plugin (detector, fairness, usage limit) must not take
   * the EPP down. The requests keep waiting — within their budgets — and saturation is read again
   * after the recheck interval.
   */
  private safeCycle(): void {
    try {
      this.cycle();
    } catch (err) {
      this.deps.onError?.(err);
      this.armRecheck();
    }
  }

  /** Dispatches the next request if its band is below its ceiling; else re-reads saturation later. */
  private cycle(): void {
    if (this.requests === 0 || this.stopped) return;
    const candidates = this.deps.candidates();
    const saturation = candidates.length === 0 ? Infinity : this.settings.detector.saturation(candidates, this.deps.now());
    this.deps.observer?.saturation(saturation === Infinity ? 1 : saturation);
    const priorities = this.active.map((b) => b.priority);
    const ceilings = this.settings.usageLimit.computeLimit(Math.min(saturation, 1), priorities);
    // The highest band with requests decides: if it is gated, lower bands wait too (strict
    // priority; a usage limit's ceilings are non-increasing, so a lower band would be gated too).
    const band = this.active[0];
    const fairness = band.settings.fairness;
    const bandCeiling = ceilings[0] ?? 1;
    let flow = saturation < bandCeiling ? (fairness.pickFlow(band) as FlowQueue | undefined) : undefined;
    const ceiling = fairness.ceiling;
    if (flow && ceiling && saturation >= ceiling(band.policyState, flow.key, bandCeiling)) {
      // The policy holds that flow back (its reserve): the best of the flows it lets through.
      flow = fairness.pickFlow(band, (f) => saturation < ceiling(band.policyState, f.key, bandCeiling)) as FlowQueue | undefined;
    }
    if (!flow && saturation >= bandCeiling && saturation !== Infinity) this.reclaim(band.priority);
    if (flow) {
      const e = flow.take();
      flow.taken(e);
      fairness.dispatched?.(band.policyState, e.flow, e.tokens);
      this.left(e);
      this.deps.observer?.finished(e.flow, 'Dispatched', this.deps.now() - e.enqueuedAt);
      this.deps.observer?.dispatchedFromQueue?.(e.flow, e.tokens);
      e.resolve(DISPATCHED);
      if (this.requests > 0) this.scheduleCycle();
      return;
    }
    this.armRecheck();
  }

  /** Evicts running sheddable requests below `priority` to make room for it (eviction on). */
  private reclaim(priority: number): void {
    const ev = this.settings.eviction;
    if (!ev || this.running.size === 0) return;
    const now = this.deps.now();
    if (now < this.evictionHoldUntil) return;
    const victims = [...this.running.entries()]
      .filter(([, r]) => r.priority < priority)
      .sort(([, a], [, b]) => a.priority - b.priority || b.routedAt - a.routedAt)
      .slice(0, ev.maxPerDecision);
    let evicted = 0;
    for (const [id, r] of victims) {
      this.running.delete(id);
      if (r.evictor.evict(429, `evicted: capacity reclaimed for priority ${priority}`, ERRORS.FLOW_EVICTED.code, EVICTED_HEADERS)) {
        evicted++;
        this.deps.observer?.evicted?.(r.priority);
      }
    }
    if (evicted > 0) this.evictionHoldUntil = now + ev.graceMs;
  }

  private armRecheck(): void {
    if (this.recheckTimer || this.stopped) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      this.safeCycle();
    }, this.settings.recheckMs);
  }

  // ---------------------------------------------------------------- leaving the queue

  private evict(e: Entry, outcome: FlowOutcome, reason: DroppedReason, message: string): void {
    if (!e.live) return;
    e.queue.forget(e);
    this.left(e);
    this.deps.observer?.finished(e.flow, outcome, this.deps.now() - e.enqueuedAt);
    e.resolve({ dispatched: false, outcome, reason, message });
    // A band freed of its head may now dispatch the next one.
    this.nudge();
  }

  /** Bookkeeping common to every way out of the queue (the flow's counts are already updated). */
  private left(e: Entry): void {
    e.live = false;
    e.unlisten?.();
    e.unlisten = undefined;
    const q = e.queue;
    const band = q.band;
    band.requests--;
    band.bytes -= e.byteSize;
    this.requests--;
    this.bytes -= e.byteSize;
    this.deps.observer?.queued(e.flow, -1, -e.byteSize);
    if (e.regime === 'empty') this.countForEndpoints(-1);
    if (q.length === 0) {
      band.flows.splice(band.flows.indexOf(q), 1);
      band.byId.delete(q.key.id);
    }
    if (band.requests === 0) this.active.splice(this.active.indexOf(band), 1);
    if (this.requests === 0) {
      this.expiries.clear();
      if (this.recheckTimer) clearTimeout(this.recheckTimer);
      this.recheckTimer = undefined;
    } else if (this.expiries.size > 2 * this.requests + 64) {
      this.expiries.compact((x) => x.live);
    }
  }

  private finishNow(flow: FlowKey, outcome: FlowOutcome, reason: DroppedReason, message: string): FlowDecision {
    this.deps.observer?.finished(flow, outcome, 0);
    return { dispatched: false, outcome, reason, message };
  }

  // ---------------------------------------------------------------- expiry: one timer for all

  private trackExpiry(e: Entry): void {
    this.expiries.push(e);
    this.armExpiry(false);
  }

  /** Arms the one timer for the earliest live expiry (re-arming when `force` or it is earlier). */
  private armExpiry(force: boolean): void {
    let top = this.expiries.peek();
    while (top && !top.live) {
      this.expiries.pop();
      top = this.expiries.peek();
    }
    const at = top ? top.expiresAt : Infinity;
    if (!force && at >= this.expiryAt) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = at;
    if (at === Infinity || this.stopped) return;
    this.expiryTimer = setTimeout(() => this.expire(), Math.max(0, at - this.deps.now()));
  }

  private expire(): void {
    this.expiryTimer = undefined;
    this.expiryAt = Infinity;
    const now = this.deps.now();
    for (let top = this.expiries.peek(); top && (!top.live || top.expiresAt <= now); top = this.expiries.peek()) {
      this.expiries.pop();
      if (!top.live) continue;
      if (top.regime === 'empty') this.evict(top, 'EvictedNoEndpoints', 'rejected-no-endpoints', 'no endpoints available: request timed out in queue');
      else this.evict(top, 'EvictedTTL', 'rejected-ttl-expired', 'request timed out in queue');
    }
    this.armExpiry(true);
  }

  // ---------------------------------------------------------------- helpers

  private countForEndpoints(delta: number): void {
    this.forEndpoints += delta;
    this.deps.observer?.waitingForEndpoints?.(this.forEndpoints);
  }

  private band(priority: number): Band {
    let band = this.bands.get(priority);
    if (!band) {
      band = new Band(priority, this.settings.band(priority));
      this.bands.set(priority, band);
    }
    return band;
  }

  private activate(band: Band): void {
    let i = 0;
    while (i < this.active.length && this.active[i].priority > band.priority) i++;
    this.active.splice(i, 0, band);
  }

  private ceiling(saturation: number, priority: number): number {
    let list = this.single.get(priority);
    if (!list) {
      list = [priority];
      if (this.single.size < 1024) this.single.set(priority, list);
    }
    return this.settings.usageLimit.computeLimit(Math.min(saturation, 1), list)[0] ?? 1;
  }

  /** The queue-wait budget in a regime (0 = none), shortened by the client's own where it has one. */
  private budget(regime: Regime, clientTtlMs: number | undefined): number {
    if (regime === 'empty') return this.settings.noEndpointRequestTtlMs;
    const operator = this.settings.defaultRequestTtlMs;
    if (clientTtlMs === undefined || clientTtlMs <= 0) return operator;
    return operator > 0 ? Math.min(operator, clientTtlMs) : clientTtlMs;
  }

  private budgetOr(ms: number): number {
    return ms > 0 ? ms : Infinity;
  }

  private forEachLive(q: FlowQueue, fn: (e: Entry) => void): void {
    for (const e of q.waitingEntries()) if (e.live) fn(e);
  }
}
