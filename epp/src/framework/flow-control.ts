// Flow control's extension points (issue 14), as GIE/llm-d's router defines them
// (llm-d-router `pkg/epp/framework/interface/flowcontrol/plugins.go`): a request that cannot be
// served now waits in the EPP, classified by flow = (fairness id, priority). Dispatch order is
// strict priority between bands, a FairnessPolicy between the flows of a band, an OrderingPolicy
// inside a flow; a UsageLimitPolicy sets, per band, the pool saturation up to which it may
// dispatch (1.0 = until saturated). Policies are plugins, one instance shared by every band: a
// fairness policy keeps its per-band state in the object its newState() returns (GIE's flyweight
// rule), never in the plugin. Method names must not be those of a scheduling or request-lifecycle
// point (pick, filter, score, admit, ...): a plugin is given a point by the methods it has, so a
// fairness policy with a `pick` would be taken for a Picker (test/epp/flowcontrol/policies.test.ts
// checks every flow-control type against the other points' guards).
import { implementing, type Plugin } from './plugins.js';

/** A flow: the requests of one fairness id at one priority. */
export interface FlowKey {
  readonly id: string;
  readonly priority: number;
}

/** A request waiting in flow control, as the policies see it. */
export interface QueuedItem {
  readonly requestId: string;
  readonly flow: FlowKey;
  /** The request body's bytes (what the byte limits count). */
  readonly byteSize: number;
  /** The prompt's estimated tokens (what token-fair policies charge). */
  readonly tokens: number;
  /** When it entered flow control (ms, the EPP's clock). */
  readonly enqueuedAt: number;
  /** Arrival order: equal times still order first-come first-served. */
  readonly seq: number;
  /**
   * When the request must have been dispatched (ms): its SLO deadline (x-llm-d-slo-ttft-ms) when
   * it has one, else the end of its queue-wait budget; Infinity when neither bounds it.
   */
  readonly deadline: number;
  /** The client's TTFT objective in ms (x-llm-d-slo-ttft-ms), undefined when it sent none. */
  readonly sloTtftMs: number | undefined;
}

/** One flow's waiting requests, as a fairness policy sees them. */
export interface FlowQueueView {
  readonly key: FlowKey;
  /** Requests waiting (> 0 for every flow a band shows). */
  readonly length: number;
  readonly bytes: number;
  /** The request this flow's ordering policy dispatches next. */
  head(): QueuedItem;
  /** The flow's ordering, to compare heads across flows (global-strict fairness does). */
  readonly ordering: OrderingPolicy;
}

/** One priority band, as a fairness policy sees it. */
export interface PriorityBandView {
  readonly priority: number;
  /** The band's flows that have requests waiting, in the order they last became non-empty. */
  readonly flows: readonly FlowQueueView[];
  /** What this band's fairness policy's newState() returned. */
  readonly policyState: unknown;
}

/** Which flow of a band dispatches next. */
export interface FairnessPolicy extends Plugin {
  /** Per-band mutable state (e.g. a round-robin cursor, per-flow service counters). */
  newState(): unknown;
  /**
   * The flow to serve next, from `band.flows` (never empty when called). With `eligible` (only for
   * a policy with `ceiling`: the flow it would pick is held back), the best flow it accepts, or
   * undefined when none.
   */
  pickFlow(band: PriorityBandView, eligible?: (flow: FlowQueueView) => boolean): FlowQueueView | undefined;
  /**
   * A request of `flow` with a prompt of about `promptTokens` was dispatched — from the queue, or
   * admitted at once (service accounting: token-fairness-policy charges it).
   */
  dispatched?(state: unknown, flow: FlowKey, promptTokens: number): void;
  /** A dispatched request of `flow` completed, having generated `outputTokens`. */
  served?(state: unknown, flow: FlowKey, outputTokens: number): void;
  /**
   * The saturation below which `flow` may dispatch, given its band's ceiling (the usage-limit
   * policy's): lower for a flow the policy holds back (token-fairness-policy keeps headroom for
   * tenants served less than the heaviest one). Absent: the band's ceiling.
   */
  ceiling?(state: unknown, flow: FlowKey, bandCeiling: number): number;
}

/** The order of service inside one flow. */
export interface OrderingPolicy extends Plugin {
  /** True when `a` is dispatched before `b`. */
  less(a: QueuedItem, b: QueuedItem): boolean;
}

/** Per band, the pool saturation below which it may dispatch. */
export interface UsageLimitPolicy extends Plugin {
  /**
   * One ceiling per priority of `priorities` (highest first), each in [0, 1]: 1 = dispatch until
   * the pool is saturated, 0 = fully gated. Non-increasing in that order.
   */
  computeLimit(saturation: number, priorities: readonly number[]): readonly number[];
}

/**
 * Per-flow rate limits (tokenroute's; issue 14): checked when a request arrives, before it is
 * admitted or queued. `acquire` takes the request's share and returns 0, or takes nothing and
 * returns how long (ms) until the flow may send again. (Not `admit`: that name makes a plugin an
 * AdmissionPlugin of the request lifecycle.)
 */
export interface RateLimitPolicy extends Plugin {
  acquire(flow: FlowKey, promptTokens: number, now: number): number;
  /** A request of `flow` completed having generated `outputTokens` (charged to its token budget). */
  served?(flow: FlowKey, outputTokens: number, now: number): void;
}

export const isFairnessPolicy = implementing<FairnessPolicy>('newState', 'pickFlow');
export const isRateLimitPolicy = implementing<RateLimitPolicy>('acquire');
export const isOrderingPolicy = implementing<OrderingPolicy>('less');
export const isUsageLimitPolicy = implementing<UsageLimitPolicy>('computeLimit');

/**
 * Why a request was dropped, sent as `x-llm-d-request-dropped-reason` on the immediate response
 * (llm-d-router `pkg/common/error/error.go`).
 */
export type DroppedReason =
  | 'rejected-saturated'
  | 'rejected-no-endpoints'
  | 'rejected-ttl-expired'
  | 'rejected-context-cancelled'
  | 'rejected-shutting-down'
  | 'rejected-internal'
  /** tokenroute's: the flow is over its rate limit (the response carries retry-after). */
  | 'rejected-rate-limited'
  /** A running sheddable request ended to reclaim its capacity for a higher priority. */
  | 'evicted';

export const DROPPED_REASON_HEADER = 'x-llm-d-request-dropped-reason';

/**
 * How a request left flow control (llm-d-router `pkg/epp/flowcontrol/types/outcomes.go`); also the
 * `outcome` label of the flow-control metrics.
 */
export type FlowOutcome =
  | 'Dispatched'
  | 'RejectedCapacity'
  | 'RejectedNoEndpoints'
  | 'RejectedOther'
  | 'RejectedRateLimited'
  | 'EvictedTTL'
  | 'EvictedNoEndpoints'
  | 'EvictedContextCancelled'
  | 'EvictedOther';

/** What flow control reports as it works (the EPP's metrics implement it). */
export interface FlowControlObserver {
  /** A request left flow control after `waitedMs` (0 when admitted or rejected at once). */
  finished(flow: FlowKey, outcome: FlowOutcome, waitedMs: number): void;
  /** A flow's waiting requests and bytes changed by these amounts. */
  queued(flow: FlowKey, requests: number, bytes: number): void;
  /** The pool saturation the last dispatch decision read. */
  saturation(value: number): void;
  /** A waiting request was dispatched: `promptTokens` of service for its flow while others waited. */
  dispatchedFromQueue?(flow: FlowKey, promptTokens: number): void;
  /** Requests now waiting for the pool to have an endpoint at all (scale from zero). */
  waitingForEndpoints?(count: number): void;
  /** A running request of this priority was evicted to reclaim capacity. */
  evicted?(priority: number): void;
}
