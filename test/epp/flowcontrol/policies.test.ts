// Flow control's policy plugins, each on its own contract: orderings compare two waiting requests;
// fairness policies pick a flow of a band; token-fairness-policy charges tokens (the virtual token
// counter) and lifts a tenant that starts waiting to the least-served waiting tenant.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import * as schedulingPoints from '../../../epp/src/framework/plugins.js';
import * as lifecyclePoints from '../../../epp/src/framework/request-lifecycle.js';
import { PluginRegistry } from '../../../epp/src/framework/registry.js';
import { registerFlowControlPlugins } from '../../../epp/src/flowcontrol/plugins/index.js';
import type { FlowKey, FlowQueueView, OrderingPolicy, PriorityBandView, QueuedItem } from '../../../epp/src/framework/flow-control.js';
import { createEdfOrdering } from '../../../epp/src/flowcontrol/plugins/edf-ordering-policy.js';
import { createFcfsOrdering } from '../../../epp/src/flowcontrol/plugins/fcfs-ordering-policy.js';
import { createSloDeadlineOrdering } from '../../../epp/src/flowcontrol/plugins/slo-deadline-ordering-policy.js';
import { createStaticUsageLimit, staticUsageLimitParameters } from '../../../epp/src/flowcontrol/plugins/static-usage-limit-policy.js';
import { createPriorityHoldback, priorityHoldbackParameters } from '../../../epp/src/flowcontrol/plugins/priority-holdback-policy.js';
import { createSoftReflectiveCeiling } from '../../../epp/src/flowcontrol/plugins/soft-reflective-ceiling-policy.js';
import { createFlowRateLimit, flowRateLimitParameters } from '../../../epp/src/flowcontrol/plugins/flow-rate-limit-policy.js';
import { createTokenFairness, MAX_COUNTERS, tokenFairnessParameters, type TokenFairnessState } from '../../../epp/src/flowcontrol/plugins/token-fairness-policy.js';

let seq = 0;
function item(o: Partial<Omit<QueuedItem, 'flow'>> & { flow?: string } = {}): QueuedItem {
  const { flow: id, ...rest } = o;
  const flow: FlowKey = { id: id ?? 't', priority: 0 };
  return { requestId: `r${seq}`, byteSize: 1, tokens: 1, enqueuedAt: 0, seq: seq++, deadline: Infinity, sloTtftMs: undefined, ...rest, flow };
}

function flowView(id: string, head: QueuedItem, ordering: OrderingPolicy = createFcfsOrdering('o')): FlowQueueView {
  return { key: { id, priority: 0 }, length: 1, bytes: 1, head: () => head, ordering };
}

describe('ordering policies', () => {
  it('fcfs: arrival order', () => {
    const fcfs = createFcfsOrdering('f');
    const [a, b] = [item(), item()];
    assert.equal(fcfs.less(a, b), true);
    assert.equal(fcfs.less(b, a), false);
  });

  it('edf: the earliest end of budget first; no budget last, in arrival order', () => {
    const edf = createEdfOrdering('e');
    const soon = item({ deadline: 100 });
    const later = item({ deadline: 500 });
    const none1 = item();
    const none2 = item();
    assert.equal(edf.less(later, soon), false);
    assert.equal(edf.less(soon, later), true);
    assert.equal(edf.less(later, none1), true);
    assert.equal(edf.less(none1, none2), true);
  });

  it('slo-deadline: arrival + x-llm-d-slo-ttft-ms, tightest first; requests without an objective last', () => {
    const slo = createSloDeadlineOrdering('s');
    const relaxed = item({ enqueuedAt: 0, sloTtftMs: 5000 });
    const urgent = item({ enqueuedAt: 1000, sloTtftMs: 200 }); // arrived later, due at 1200 < 5000
    const none = item({ enqueuedAt: 0 });
    assert.equal(slo.less(urgent, relaxed), true);
    assert.equal(slo.less(relaxed, none), true);
    assert.equal(slo.less(none, urgent), false);
  });
});

describe('static-usage-limit-policy', () => {
  it('one ceiling per band, the threshold (1.0 by default), bounded to [0, 1]', () => {
    const u = createStaticUsageLimit('u', staticUsageLimitParameters.parse({}).threshold);
    assert.deepEqual(u.computeLimit(0.3, [5, 0, -1]), [1, 1, 1]);
    assert.deepEqual(createStaticUsageLimit('u', 0.8).computeLimit(0.9, [0]), [0.8]);
    assert.equal(staticUsageLimitParameters.safeParse({ threshold: 1.5 }).success, false);
  });
});

describe('priority-holdback-policy', () => {
  const holdback = (p: unknown) => createPriorityHoldback('h', priorityHoldbackParameters.parse(p));

  it('rank: ceilings evenly spaced from maxCeiling (highest) to minCeiling (lowest); one band gets maxCeiling', () => {
    const h = holdback({ minCeiling: 0.4, maxCeiling: 0.9 });
    const c = h.computeLimit(0.5, [100, 50, 10]);
    assert.deepEqual(c.map((x) => Number(x.toFixed(6))), [0.9, 0.65, 0.4]);
    assert.deepEqual(h.computeLimit(0.5, [7]), [0.9]);
  });

  it('value: ceilings follow the numeric priorities within the active range', () => {
    const c = holdback({ domain: 'value', minCeiling: 0.2 }).computeLimit(0.5, [100, 90, 0]);
    assert.deepEqual(c.map((x) => Number(x.toFixed(6))), [1, 0.92, 0.2]);
  });

  it('explicit: the map, 0 for a priority it does not name; non-increasing enforced', () => {
    const h = holdback({ domain: 'explicit', ceilings: { 100: 0.95, 50: 0.7, 10: 0.3 } });
    assert.deepEqual(h.computeLimit(0.1, [100, 10, 5]), [0.95, 0.3, 0]);
    const bad = priorityHoldbackParameters.safeParse({ domain: 'explicit', ceilings: { 100: 0.5, 10: 0.9 } });
    assert.equal(bad.success, false);
    assert.match(JSON.stringify(bad.error?.issues), /must not exceed the ceiling of higher priority 100/);
    assert.equal(priorityHoldbackParameters.safeParse({ domain: 'explicit', ceilings: { 1: 1 }, minCeiling: 0.2 }).success, false);
    assert.match(JSON.stringify(priorityHoldbackParameters.safeParse({}).error?.issues), /minCeiling.*required/);
  });
});

describe('soft-reflective-ceiling-policy', () => {
  it('the highest band is never gated; a lower band opens while saturation is under its reflective ceiling, closes at saturation', () => {
    const p = createSoftReflectiveCeiling('s');
    assert.deepEqual(p.computeLimit(0.3, [10, 5, 0]), [1, 1, 1], 'band 2 reflects 1 - 2·0.3/2 = 0.7 > 0.3');
    assert.deepEqual(p.computeLimit(1.2, [10, 0]), [1, 0]);
  });

  it('past its reflective ceiling a band opens once every round(s/(1-s)) decisions', () => {
    const p = createSoftReflectiveCeiling('s');
    // Two bands, s = 0.75: band 1 reflects 0.25 ≤ 0.75; period round(0.75 / 0.25) = 3.
    const open = Array.from({ length: 9 }, () => p.computeLimit(0.75, [1, 0])[1]).filter((c) => c === 1).length;
    assert.equal(open, 3);
  });
});

describe('token-fairness-policy (virtual token counter)', () => {
  function band(policy: ReturnType<typeof createTokenFairness>, flows: FlowQueueView[], state: unknown): PriorityBandView {
    return { priority: 0, flows, policyState: state };
  }

  it('serves the tenant with the fewest tokens of service, not the oldest request', () => {
    const p = createTokenFairness('vtc', tokenFairnessParameters.parse({}));
    const s = p.newState();
    const big = flowView('big', item({ flow: 'big' }));
    const small = flowView('small', item({ flow: 'small' }));
    // Both waiting; the big tenant has been served a 32K-token prompt, the small one 200 tokens.
    assert.equal(p.pickFlow(band(p, [big, small], s))!.key.id, 'big', 'equal counters: the older head goes first');
    p.dispatched!(s, big.key, 32_000);
    p.dispatched!(s, small.key, 200);
    for (let i = 0; i < 5; i++) {
      assert.equal(p.pickFlow(band(p, [big, small], s))!.key.id, 'small');
      p.dispatched!(s, small.key, 200);
    }
    // Generated tokens count twice: the small tenant's 20,000 generated tokens put it past the big one.
    p.served!(s, small.key, 16_000);
    assert.equal(p.pickFlow(band(p, [big, small], s))!.key.id, 'big');
  });

  it('a tenant that starts waiting is lifted to the least-served waiting tenant: no banked credit', () => {
    const p = createTokenFairness('vtc', tokenFairnessParameters.parse({}));
    const s = p.newState() as TokenFairnessState;
    const a = flowView('a', item({ flow: 'a' }));
    const b = flowView('b', item({ flow: 'b' }));
    p.pickFlow(band(p, [a], s));
    p.dispatched!(s, a.key, 10_000);
    p.pickFlow(band(p, [a], s));
    // b was idle all along (counter 0): it joins at a's level, not 10,000 tokens behind it.
    p.pickFlow(band(p, [a, b], s));
    assert.equal(s.counters.get('b'), 10_000);
  });

  it('equal service: the smaller request goes first', () => {
    const p = createTokenFairness('vtc', tokenFairnessParameters.parse({}));
    const s = p.newState();
    const big = flowView('big', item({ flow: 'big', tokens: 2000 }));
    const small = flowView('small', item({ flow: 'small', tokens: 200 }));
    assert.equal(p.pickFlow(band(p, [big, small], s))!.key.id, 'small');
  });

  it('reservedCapacity: the most-served tenant is held below the ceiling while another tenant is active, not when alone', () => {
    let clock = 0;
    const p = createTokenFairness('vtc', tokenFairnessParameters.parse({ reservedCapacity: 0.25, reserveWindow: '10s' }), () => clock);
    const s = p.newState();
    const heavy: FlowKey = { id: 'heavy', priority: 0 };
    const light: FlowKey = { id: 'light', priority: 0 };
    p.dispatched!(s, heavy, 2000);
    assert.equal(p.ceiling!(s, heavy, 1), 1, 'alone: the whole pool');
    p.dispatched!(s, light, 200);
    assert.equal(p.ceiling!(s, heavy, 1), 0.75, 'served more than the light tenant: held back by the reserve');
    assert.equal(p.ceiling!(s, light, 1), 1, 'the light tenant may use the reserve');
    // Several light requests in a row do not make the light tenant the heavy one.
    clock += 100;
    for (let i = 0; i < 3; i++) p.dispatched!(s, light, 200);
    p.dispatched!(s, heavy, 2000);
    assert.equal(p.ceiling!(s, light, 1), 1);
    assert.equal(p.ceiling!(s, heavy, 1), 0.75);
    clock += 11_000; // the light tenant has not been seen for longer than the window
    p.dispatched!(s, heavy, 2000);
    assert.equal(p.ceiling!(s, heavy, 1), 1, 'the reserve is released');
    assert.equal(createTokenFairness('vtc', tokenFairnessParameters.parse({})).ceiling!(s, heavy, 0.9), 0.9, 'no reserve by default');
  });

  it('forgets idle tenants that are not ahead of the waiting ones; memory stays bounded', () => {
    const p = createTokenFairness('vtc', tokenFairnessParameters.parse({}));
    const s = p.newState() as TokenFairnessState;
    const keep = flowView('keep', item({ flow: 'keep' }));
    // 5,000 tenants each send one request while `keep` is served all along: once `keep` has had
    // more service than a tenant gone idle, that tenant's counter is dropped (it would be lifted).
    for (let i = 0; i < 5000; i++) {
      const f = flowView(`t${i}`, item({ flow: `t${i}` }));
      p.pickFlow(band(p, [keep, f], s));
      p.dispatched!(s, f.key, 1);
      p.dispatched!(s, keep.key, 2);
    }
    assert.ok(s.counters.size < 200, `${s.counters.size} counters kept for 2 waiting tenants`);
    // A tenant that is still ahead of the waiting ones is remembered: it owes service.
    const ahead = flowView('ahead', item({ flow: 'ahead' }));
    p.pickFlow(band(p, [keep, ahead], s));
    p.dispatched!(s, ahead.key, 1_000_000);
    for (let i = 0; i < 300; i++) p.pickFlow(band(p, [keep, flowView(`u${i}`, item({ flow: `u${i}` }))], s));
    assert.ok(s.counters.has('ahead'));
    assert.ok(MAX_COUNTERS >= 1000);
  });
});

describe('flow-rate-limit-policy', () => {
  const flow = (id: string): FlowKey => ({ id, priority: 0 });

  it('requests per minute: a minute\'s worth at once, then one per 60/rpm seconds; tenants are separate', () => {
    const p = createFlowRateLimit('r', flowRateLimitParameters.parse({ requestsPerMinute: 2 }));
    assert.equal(p.acquire(flow('a'), 10, 0), 0);
    assert.equal(p.acquire(flow('a'), 10, 0), 0);
    const wait = p.acquire(flow('a'), 10, 0);
    assert.ok(Math.abs(wait - 30_000) < 1e-6, `retry after ${wait} ms`);
    assert.equal(p.acquire(flow('b'), 10, 0), 0, 'another tenant has its own bucket');
    assert.ok(p.acquire(flow('a'), 10, 15_000) > 0, 'half a request refilled');
    assert.equal(p.acquire(flow('a'), 10, 30_000), 0, 'one request refilled after 30 s');
  });

  it('tokens per minute: prompt tokens when admitted, generated tokens when served; overrides per tenant', () => {
    const p = createFlowRateLimit('r', flowRateLimitParameters.parse({ tokensPerMinute: 1000, overrides: [{ fairnessId: 'vip', tokensPerMinute: 100_000 }] }));
    assert.equal(p.acquire(flow('a'), 600, 0), 0);
    p.served!(flow('a'), 300, 0); // 100 tokens left
    const wait = p.acquire(flow('a'), 400, 0); // needs 300 more: 18 s at 1000/min
    assert.ok(Math.abs(wait - 18_000) < 1e-6, `retry after ${wait} ms`);
    assert.equal(p.acquire(flow('vip'), 5000, 0), 0, 'the override applies to its tenant');
    assert.equal(createFlowRateLimit('r', flowRateLimitParameters.parse({})).acquire(flow('a'), 1e9, 0), 0, 'no limits by default');
  });
});

describe('flow-control plugin types', () => {
  it('implement no scheduling or request-lifecycle point (a point is given by method name: `pick` would make a Picker, `admit` an AdmissionPlugin)', () => {
    const registry = registerFlowControlPlugins(new PluginRegistry());
    const guards = Object.entries({ ...schedulingPoints, ...lifecyclePoints }).filter(([name, f]) => name.startsWith('is') && typeof f === 'function') as [string, (p: unknown) => boolean][];
    assert.ok(guards.length >= 15, `${guards.length} guards`);
    const minimal: Record<string, unknown> = { 'priority-holdback-policy': { minCeiling: 0.5 } };
    for (const type of registry.typeNames()) {
      const t = registry.get(type)!;
      const plugin = t.create(type, t.parameters.parse(minimal[type] ?? {}), { datastore: {} as never, logger: {} as never, random: Math.random, now: Date.now });
      for (const [name, guard] of guards) assert.equal(guard(plugin), false, `${type} is taken for ${name.slice(2)}`);
    }
  });
});
