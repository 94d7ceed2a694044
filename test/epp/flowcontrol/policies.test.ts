// Flow control's policy plugins, each on its own contract: orderings compare two waiting requests;
// fairness policies pick a flow of a band; token-fairness-policy charges tokens (the virtual token
// counter) and lifts a tenant that starts waiting to the least-served waiting tenant.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FlowKey, FlowQueueView, OrderingPolicy, PriorityBandView, QueuedItem } from '../../../epp/src/framework/flow-control.js';
import { createEdfOrdering } from '../../../epp/src/flowcontrol/plugins/edf-ordering-policy.js';
import { createFcfsOrdering } from '../../../epp/src/flowcontrol/plugins/fcfs-ordering-policy.js';
import { createSloDeadlineOrdering } from '../../../epp/src/flowcontrol/plugins/slo-deadline-ordering-policy.js';
import { createStaticUsageLimit, staticUsageLimitParameters } from '../../../epp/src/flowcontrol/plugins/static-usage-limit-policy.js';
import { createTokenFairness, MAX_COUNTERS, type TokenFairnessState } from '../../../epp/src/flowcontrol/plugins/token-fairness-policy.js';

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

describe('token-fairness-policy (virtual token counter)', () => {
  function band(policy: ReturnType<typeof createTokenFairness>, flows: FlowQueueView[], state: unknown): PriorityBandView {
    return { priority: 0, flows, policyState: state };
  }

  it('serves the tenant with the fewest tokens of service, not the oldest request', () => {
    const p = createTokenFairness('vtc', { inputTokenWeight: 1, outputTokenWeight: 2 });
    const s = p.newState();
    const big = flowView('big', item({ flow: 'big' }));
    const small = flowView('small', item({ flow: 'small' }));
    // Both waiting; the big tenant has been served a 32K-token prompt, the small one 200 tokens.
    assert.equal(p.pick(band(p, [big, small], s)).key.id, 'big', 'equal counters: the older head goes first');
    p.dispatched!(s, big.key, 32_000);
    p.dispatched!(s, small.key, 200);
    for (let i = 0; i < 5; i++) {
      assert.equal(p.pick(band(p, [big, small], s)).key.id, 'small');
      p.dispatched!(s, small.key, 200);
    }
    // Generated tokens count twice: the small tenant's 20,000 generated tokens put it past the big one.
    p.served!(s, small.key, 16_000);
    assert.equal(p.pick(band(p, [big, small], s)).key.id, 'big');
  });

  it('a tenant that starts waiting is lifted to the least-served waiting tenant: no banked credit', () => {
    const p = createTokenFairness('vtc', { inputTokenWeight: 1, outputTokenWeight: 2 });
    const s = p.newState() as TokenFairnessState;
    const a = flowView('a', item({ flow: 'a' }));
    const b = flowView('b', item({ flow: 'b' }));
    p.pick(band(p, [a], s));
    p.dispatched!(s, a.key, 10_000);
    p.pick(band(p, [a], s));
    // b was idle all along (counter 0): it joins at a's level, not 10,000 tokens behind it.
    p.pick(band(p, [a, b], s));
    assert.equal(s.counters.get('b'), 10_000);
  });

  it('forgets idle tenants that are not ahead of the waiting ones; memory stays bounded', () => {
    const p = createTokenFairness('vtc', { inputTokenWeight: 1, outputTokenWeight: 2 });
    const s = p.newState() as TokenFairnessState;
    const keep = flowView('keep', item({ flow: 'keep' }));
    // 5,000 tenants each send one request while `keep` is served all along: once `keep` has had
    // more service than a tenant gone idle, that tenant's counter is dropped (it would be lifted).
    for (let i = 0; i < 5000; i++) {
      const f = flowView(`t${i}`, item({ flow: `t${i}` }));
      p.pick(band(p, [keep, f], s));
      p.dispatched!(s, f.key, 1);
      p.dispatched!(s, keep.key, 2);
    }
    assert.ok(s.counters.size < 200, `${s.counters.size} counters kept for 2 waiting tenants`);
    // A tenant that is still ahead of the waiting ones is remembered: it owes service.
    const ahead = flowView('ahead', item({ flow: 'ahead' }));
    p.pick(band(p, [keep, ahead], s));
    p.dispatched!(s, ahead.key, 1_000_000);
    for (let i = 0; i < 300; i++) p.pick(band(p, [keep, flowView(`u${i}`, item({ flow: `u${i}` }))], s));
    assert.ok(s.counters.has('ahead'));
    assert.ok(MAX_COUNTERS >= 1000);
  });
});
