// FlowController (issue 14): admission at once below the ceiling; strict priority between bands;
// fairness between flows; ordering inside a flow; capacity limits; the queue-wait budgets with and
// without endpoints (scale from zero); cancel while queued; shutdown. Real timers with short
// budgets; every assertion is an ordering or a lower bound, never a tight timing.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Candidate } from '../../../epp/src/framework/endpoint.js';
import type { Cancellation } from '../../../epp/src/framework/cancellation.js';
import type { FairnessPolicy, FlowKey, FlowOutcome, RateLimitPolicy, UsageLimitPolicy } from '../../../epp/src/framework/flow-control.js';
import type { SaturationDetector } from '../../../epp/src/framework/plugins.js';
import { FlowController, type FlowDecision, type FlowRequest } from '../../../epp/src/flowcontrol/controller.js';
import { createGlobalStrictFairness } from '../../../epp/src/flowcontrol/plugins/global-strict-fairness-policy.js';
import { createRoundRobinFairness } from '../../../epp/src/flowcontrol/plugins/round-robin-fairness-policy.js';
import { createFcfsOrdering } from '../../../epp/src/flowcontrol/plugins/fcfs-ordering-policy.js';
import { createStaticUsageLimit } from '../../../epp/src/flowcontrol/plugins/static-usage-limit-policy.js';
import { createTokenFairness, tokenFairnessParameters } from '../../../epp/src/flowcontrol/plugins/token-fairness-policy.js';

interface Rig {
  fc: FlowController;
  /** Pool saturation the detector reports. */
  saturation: number;
  endpoints: Candidate[];
  finished: { flow: FlowKey; outcome: FlowOutcome }[];
  queued: number;
  /** The last count reported waiting for an endpoint. */
  forEndpoints: number;
}

const ONE_ENDPOINT = [{ endpoint: { key: 'a:1' } } as unknown as Candidate];

function rig(o: { eviction?: { maxPerDecision: number; graceMs: number }; now?: () => number; rateLimit?: RateLimitPolicy; fairness?: FairnessPolicy; usage?: UsageLimitPolicy; maxRequests?: number; bandMax?: number; ttlMs?: number; emptyTtlMs?: number; endpoints?: Candidate[] } = {}): Rig {
  const r = { saturation: 0, endpoints: o.endpoints ?? [...ONE_ENDPOINT], finished: [], queued: 0 } as unknown as Rig;
  const detector: SaturationDetector = { type: 'd', name: 'd', saturation: () => r.saturation };
  const fairness = o.fairness ?? createGlobalStrictFairness('f');
  const ordering = createFcfsOrdering('o');
  r.fc = new FlowController(
    {
      maxRequests: o.maxRequests ?? 0,
      maxBytes: 0,
      defaultRequestTtlMs: o.ttlMs ?? 0,
      noEndpointRequestTtlMs: o.emptyTtlMs ?? 0,
      band: () => ({ maxRequests: o.bandMax ?? 5000, maxBytes: 1e9, fairness, ordering }),
      usageLimit: o.usage ?? createStaticUsageLimit('u', 1),
      ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
      ...(o.eviction ? { eviction: o.eviction } : {}),
      detector,
      recheckMs: 5,
    },
    {
      candidates: () => r.endpoints,
      now: o.now ?? Date.now,
      observer: {
        finished: (flow, outcome) => r.finished.push({ flow, outcome }),
        queued: (_flow, n) => (r.queued += n),
        saturation: () => {},
        waitingForEndpoints: (n) => (r.forEndpoints = n),
      },
    },
  );
  return r;
}

function req(id: string, flow: string, priority = 0, byteSize = 100): FlowRequest {
  return { requestId: id, flow: { id: flow, priority }, byteSize, tokens: byteSize / 4, sloTtftMs: undefined };
}

/** Queues `reqs` (the pool saturated), then frees the pool and records the order they dispatch in. */
async function dispatchOrder(r: Rig, reqs: FlowRequest[]): Promise<string[]> {
  r.saturation = 1;
  const order: string[] = [];
  const all = reqs.map((q) => {
    const d = r.fc.admit(q);
    assert.ok(d instanceof Promise, `${q.requestId} waits while the pool is saturated`);
    return d.then((x) => {
      assert.equal(x.outcome, 'Dispatched');
      order.push(q.requestId);
    });
  });
  r.saturation = 0;
  r.fc.nudge();
  await Promise.all(all);
  return order;
}

class TestCancellation implements Cancellation {
  cancelled = false;
  private listener: (() => void) | undefined;
  onCancel(l: () => void) {
    this.listener = l;
    return () => (this.listener = undefined);
  }
  cancel() {
    this.cancelled = true;
    this.listener?.();
  }
}

describe('FlowController', () => {
  it('admits at once (no promise) while nothing waits and the pool is below its ceiling', () => {
    const r = rig();
    r.saturation = 0.5;
    const d = r.fc.admit(req('a', 't'));
    assert.ok(!(d instanceof Promise));
    assert.equal((d as FlowDecision).outcome, 'Dispatched');
    assert.equal(r.fc.waiting, 0);
  });

  it('strict priority: a critical request overtakes sheddable ones that were queued first', async () => {
    const r = rig();
    const order = await dispatchOrder(r, [req('shed-1', 'batch', -1), req('shed-2', 'batch', -1), req('std', 'web', 0), req('crit', 'web', 10)]);
    assert.deepEqual(order, ['crit', 'std', 'shed-1', 'shed-2']);
  });

  it('global-strict fairness serves the band in arrival order across flows', async () => {
    const order = await dispatchOrder(rig(), [req('x1', 'x'), req('y1', 'y'), req('x2', 'x'), req('x3', 'x'), req('y2', 'y')]);
    assert.deepEqual(order, ['x1', 'y1', 'x2', 'x3', 'y2']);
  });

  it('round-robin fairness: flows take turns whatever their backlog', async () => {
    const order = await dispatchOrder(rig({ fairness: createRoundRobinFairness('rr') }), [req('x1', 'x'), req('x2', 'x'), req('x3', 'x'), req('x4', 'x'), req('y1', 'y'), req('z1', 'z'), req('y2', 'y')]);
    // Each round serves every waiting flow once, in the order the flows started waiting.
    assert.deepEqual(order, ['x1', 'y1', 'z1', 'x2', 'y2', 'x3', 'x4']);
  });

  it('a band gated by the usage limit waits while a higher band dispatches', async () => {
    // Priorities below 0 may use the pool up to 50%; others until saturated.
    const usage: UsageLimitPolicy = { type: 'u', name: 'u', computeLimit: (_s, ps) => ps.map((p) => (p < 0 ? 0.5 : 1)) };
    const r = rig({ usage });
    r.saturation = 0.6;
    const low = r.fc.admit(req('low', 'batch', -1));
    assert.ok(low instanceof Promise, 'the sheddable band is above its ceiling');
    const high = r.fc.admit(req('high', 'web', 5));
    assert.ok(high instanceof Promise, 'it queues behind the waiting request');
    assert.equal((await high).outcome, 'Dispatched');
    let lowDone = false;
    void low.then(() => (lowDone = true));
    await new Promise((res) => setTimeout(res, 40));
    assert.equal(lowDone, false, 'still gated at 60% saturation');
    r.saturation = 0.4;
    assert.equal((await low).outcome, 'Dispatched', 'dispatched once below its ceiling (re-read on the recheck timer)');
  });

  it('capacity: a full band rejects with rejected-saturated, and with rejected-no-endpoints while the pool is empty', async () => {
    const r = rig({ bandMax: 2 });
    r.saturation = 1;
    const waiting = [r.fc.admit(req('1', 't')), r.fc.admit(req('2', 't'))];
    const third = r.fc.admit(req('3', 't')) as FlowDecision;
    assert.equal(third.outcome, 'RejectedCapacity');
    assert.equal(!third.dispatched && third.reason, 'rejected-saturated');
    r.endpoints = [];
    const fourth = r.fc.admit(req('4', 't')) as FlowDecision;
    assert.equal(!fourth.dispatched && fourth.reason, 'rejected-no-endpoints');
    r.fc.shutdown();
    for (const w of waiting) assert.equal((await w).outcome, 'EvictedOther');
  });

  it('queue-wait budget: a request waiting on a saturated pool is shed after defaultRequestTTL (rejected-ttl-expired)', async () => {
    const r = rig({ ttlMs: 30 });
    r.saturation = 1;
    const t0 = Date.now();
    const d = await r.fc.admit(req('late', 't'));
    assert.ok(Date.now() - t0 >= 29, 'not before its budget');
    assert.equal(d.outcome, 'EvictedTTL');
    assert.equal(!d.dispatched && d.reason, 'rejected-ttl-expired');
    assert.equal(r.fc.waiting, 0);
    assert.equal(r.queued, 0, 'the queue-size metric is back to zero');
  });

  it("a client's x-llm-d-inference-ttl shortens defaultRequestTTL, never lengthens it", async () => {
    const r = rig({ ttlMs: 10_000 });
    r.saturation = 1;
    const t0 = Date.now();
    const short = await r.fc.admit({ ...req('impatient', 't'), ttlMs: 30 });
    assert.equal(short.outcome, 'EvictedTTL');
    assert.ok(Date.now() - t0 >= 29 && Date.now() - t0 < 5000, 'after its own 30 ms, long before the operator\'s 10 s');
    const r2 = rig({ ttlMs: 30 });
    r2.saturation = 1;
    const t1 = Date.now();
    assert.equal((await r2.fc.admit({ ...req('patient', 't'), ttlMs: 60_000 })).outcome, 'EvictedTTL');
    assert.ok(Date.now() - t1 < 5000, 'the operator\'s 30 ms bound holds');
  });

  it('scale from zero: with no endpoint a request waits noEndpointRequestTTL, then 503 rejected-no-endpoints', async () => {
    const r = rig({ ttlMs: 10_000, emptyTtlMs: 30, endpoints: [] });
    const d = await r.fc.admit(req('cold', 't'));
    assert.equal(d.outcome, 'EvictedNoEndpoints');
    assert.equal(!d.dispatched && d.reason, 'rejected-no-endpoints');
  });

  it('scale from zero: an endpoint appearing within the budget serves the waiting requests, in order', async () => {
    const r = rig({ emptyTtlMs: 10_000, endpoints: [] });
    const order: string[] = [];
    const all = ['a', 'b', 'c'].map((id) => (r.fc.admit(req(id, 't')) as Promise<FlowDecision>).then((d) => order.push(`${id}:${d.outcome}`)));
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(order, [], 'nothing happens while the pool is empty');
    assert.equal(r.forEndpoints, 3, 'reported as waiting for an endpoint');
    r.endpoints = [...ONE_ENDPOINT];
    r.fc.endpointsChanged();
    assert.equal(r.forEndpoints, 0, 'no longer waiting for an endpoint once one is there');
    await Promise.all(all);
    assert.deepEqual(order, ['a:Dispatched', 'b:Dispatched', 'c:Dispatched']);
  });

  it('a regime change starts a fresh budget: requests queued against an empty pool are not shed the moment it fills', async () => {
    const r = rig({ ttlMs: 60, emptyTtlMs: 10_000, endpoints: [] });
    const d = r.fc.admit(req('x', 't')) as Promise<FlowDecision>;
    await new Promise((res) => setTimeout(res, 80)); // longer than defaultRequestTTL, still empty: waits
    r.saturation = 1;
    r.endpoints = [...ONE_ENDPOINT];
    const t0 = Date.now();
    r.fc.endpointsChanged();
    const out = await d;
    assert.equal(out.outcome, 'EvictedTTL', 'then shed by the saturated-pool budget');
    assert.ok(Date.now() - t0 >= 55, 'after a fresh defaultRequestTTL from the change');
  });

  it('a cancelled request leaves at once; 10,000 cancels leave nothing behind', async () => {
    const r = rig();
    r.saturation = 1;
    const c = new TestCancellation();
    const d = r.fc.admit(req('gone', 't'), c) as Promise<FlowDecision>;
    c.cancel();
    const out = await d;
    assert.equal(out.outcome, 'EvictedContextCancelled');
    assert.equal(!out.dispatched && out.reason, 'rejected-context-cancelled');
    const keep = r.fc.admit(req('keep', 'other')) as Promise<FlowDecision>;
    for (let i = 0; i < 10_000; i++) {
      const ci = new TestCancellation();
      const p = r.fc.admit(req(`c${i}`, `tenant-${i % 50}`), ci);
      ci.cancel();
      assert.equal((await p).outcome, 'EvictedContextCancelled');
    }
    assert.equal(r.fc.waiting, 1);
    assert.equal(r.fc.waitingBytes, 100);
    assert.ok(r.fc.retainedEntries < 200, `retained ${r.fc.retainedEntries} entries for 1 waiting request`);
    r.saturation = 0;
    r.fc.nudge();
    assert.equal((await keep).outcome, 'Dispatched', 'the one left is served');
    // A request already cancelled when it arrives is not queued.
    const pre = new TestCancellation();
    pre.cancelled = true;
    r.saturation = 1;
    assert.equal((r.fc.admit(req('pre', 't'), pre) as FlowDecision).outcome, 'EvictedContextCancelled');
  });

  it('shutdown drains the queue with rejected-shutting-down and refuses later requests', async () => {
    const r = rig();
    r.saturation = 1;
    const ds = [r.fc.admit(req('a', 'x')), r.fc.admit(req('b', 'y', 3))];
    r.fc.shutdown();
    for (const d of ds) {
      const out = await d;
      assert.equal(!out.dispatched && out.reason, 'rejected-shutting-down');
    }
    const after = r.fc.admit(req('c', 'x')) as FlowDecision;
    assert.equal(!after.dispatched && after.reason, 'rejected-shutting-down');
    assert.equal(r.fc.waiting, 0);
  });

  it('token fairness with a reserve: when the least-served flow is the one held back, another flow goes instead of none', async () => {
    let clock = 0;
    const now = () => clock;
    const fairness = createTokenFairness('t', tokenFairnessParameters.parse({ reservedCapacity: 0.5, reserveWindow: '10s' }), now);
    const r = rig({ fairness, now });
    // B was served a lot 9 s ago (high counter, decayed rate); A is busy now (low counter, high rate).
    assert.equal((r.fc.admit({ ...req('b0', 'B'), tokens: 100_000 }) as FlowDecision).outcome, 'Dispatched');
    clock = 9_000;
    for (let i = 0; i < 10; i++) r.fc.admit({ ...req(`a${i}`, 'A'), tokens: 2_000 });
    r.saturation = 0.6; // above A's ceiling with the reserve (0.5), below everyone else's (1)
    const a = r.fc.admit({ ...req('a-next', 'A'), tokens: 2_000 }) as Promise<FlowDecision>;
    const b = r.fc.admit({ ...req('b-next', 'B'), tokens: 200 }) as Promise<FlowDecision>;
    assert.ok(a instanceof Promise && b instanceof Promise);
    assert.equal((await b).outcome, 'Dispatched', 'B uses the reserve although A is the least served by counter');
    let aDone = false;
    void a.then(() => (aDone = true));
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(aDone, false, 'A stays held back while over its reserved ceiling');
    r.saturation = 0.4;
    assert.equal((await a).outcome, 'Dispatched');
  });

  it('a detector that throws during a dispatch cycle is reported, not fatal; dispatch resumes when it recovers', async () => {
    const r = rig();
    r.saturation = 1;
    const waiting = r.fc.admit(req('w', 't')) as Promise<FlowDecision>;
    const errors: unknown[] = [];
    let broken = true;
    const fc = new FlowController(
      {
        maxRequests: 0, maxBytes: 0, defaultRequestTtlMs: 0, noEndpointRequestTtlMs: 0,
        band: () => ({ maxRequests: 10, maxBytes: 1e9, fairness: createGlobalStrictFairness('g'), ordering: createFcfsOrdering('o') }),
        usageLimit: createStaticUsageLimit('u', 1),
        detector: { type: 'd', name: 'd', saturation: () => { if (broken) throw new Error('metrics broke'); return 0; } },
        recheckMs: 5,
      },
      { candidates: () => ONE_ENDPOINT, now: Date.now, onError: (e) => errors.push(e) },
    );
    // Admission at once reads saturation too: a throw there reaches the caller (the lifecycle logs it and admits).
    assert.throws(() => fc.admit(req('first', 't')), /metrics broke/);
    broken = false;
    r.saturation = 0;
    r.fc.nudge();
    assert.equal((await waiting).outcome, 'Dispatched');
    // Queue one while healthy-but-saturated, then break the detector: cycles fail, are reported, and retry.
    let sat = 1;
    const fc2 = new FlowController(
      {
        maxRequests: 0, maxBytes: 0, defaultRequestTtlMs: 0, noEndpointRequestTtlMs: 0,
        band: () => ({ maxRequests: 10, maxBytes: 1e9, fairness: createGlobalStrictFairness('g'), ordering: createFcfsOrdering('o') }),
        usageLimit: createStaticUsageLimit('u', 1),
        detector: { type: 'd', name: 'd', saturation: () => { if (sat < 0) throw new Error('metrics broke'); return sat; } },
        recheckMs: 5,
      },
      { candidates: () => ONE_ENDPOINT, now: Date.now, onError: (e) => errors.push(e) },
    );
    const held = fc2.admit(req('held', 't')) as Promise<FlowDecision>;
    sat = -1;
    fc2.nudge();
    await new Promise((res) => setTimeout(res, 40));
    assert.ok(errors.length >= 2, `${errors.length} failed cycles reported`);
    sat = 0;
    assert.equal((await held).outcome, 'Dispatched', 'dispatched once the detector recovers');
  });

  it('eviction: a waiting critical request ends running sheddable ones — lowest priority, then newest — two per decision, then a grace', async () => {
    const r = rig({ eviction: { maxPerDecision: 2, graceMs: 10_000 } });
    const evicted: string[] = [];
    const evictor = (id: string, ok = true) => ({ evict: (status: number, _m: string, code: string, headers: ReadonlyMap<string, string>) => {
      assert.equal(status, 429);
      assert.equal(code, 'TR_ERR_FLOW_EVICTED');
      assert.equal(headers.get('x-llm-d-request-dropped-reason'), 'evicted');
      if (ok) evicted.push(id);
      return ok;
    } });
    r.fc.runningStarted('old-batch', -1, 1, evictor('old-batch'));
    r.fc.runningStarted('new-batch', -1, 2, evictor('new-batch'));
    r.fc.runningStarted('bulk', -2, 3, evictor('bulk'));
    r.fc.runningStarted('standard', 0, 4, evictor('standard')); // not sheddable: never a victim
    r.saturation = 1;
    const critical = r.fc.admit(req('critical', 'web', 10)) as Promise<FlowDecision>;
    await new Promise((res) => setTimeout(res, 30));
    assert.deepEqual(evicted, ['bulk', 'new-batch'], 'the lowest priority first, then the most recently routed; two per decision');
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(evicted.length, 2, 'no more within the grace');
    r.saturation = 0.5; // the evicted requests' capacity shows
    assert.equal((await critical).outcome, 'Dispatched');
    // Off by default: nothing is tracked or evicted.
    const off = rig();
    off.fc.runningStarted('x', -1, 1, evictor('never'));
    off.saturation = 1;
    void off.fc.admit(req('c', 'web', 10));
    await new Promise((res) => setTimeout(res, 30));
    assert.ok(!evicted.includes('never'));
    off.fc.shutdown();
  });

  it('a flow over its rate limit is refused at once with when to come back, before queueing or admission', () => {
    const limited: RateLimitPolicy = { type: 'r', name: 'r', acquire: (flow) => (flow.id === 'greedy' ? 2500 : 0) };
    const r = rig({ rateLimit: limited });
    const d = r.fc.admit(req('x', 'greedy')) as FlowDecision;
    assert.equal(d.outcome, 'RejectedRateLimited');
    assert.equal(!d.dispatched && d.reason, 'rejected-rate-limited');
    assert.equal(!d.dispatched && d.retryAfterMs, 2500);
    assert.equal((r.fc.admit(req('y', 'polite')) as FlowDecision).outcome, 'Dispatched');
    assert.equal(r.fc.waiting, 0);
  });

  it('capacity use: the fuller of requests and bytes against the band\'s and the global limits', async () => {
    const r = rig({ bandMax: 4, maxRequests: 10 });
    r.saturation = 1;
    const waiting = [r.fc.admit(req('a', 't')), r.fc.admit(req('b', 't'))];
    const use = new Map(r.fc.capacityUse().map((c) => [c.priority, c.utilization]));
    assert.equal(use.get('0'), 0.5, '2 of the band\'s 4 requests');
    assert.equal(use.get('all'), 0.2, '2 of the global 10');
    r.fc.shutdown();
    await Promise.all(waiting);
  });

  it('reports every request exactly once to the observer, by outcome', async () => {
    const r = rig({ bandMax: 1 });
    r.fc.admit(req('now', 't'));
    r.saturation = 1;
    const queued = r.fc.admit(req('q', 't'));
    r.fc.admit(req('full', 't'));
    r.saturation = 0;
    r.fc.nudge();
    await queued;
    assert.deepEqual(r.finished.map((f) => f.outcome).sort(), ['Dispatched', 'Dispatched', 'RejectedCapacity']);
  });
});
