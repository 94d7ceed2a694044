// Flow control's metrics: the series GIE's dashboards read, the fairness index of queued service
// per band (Jain's index over flows, per scrape), the scale-from-zero gauge, and fairness ids
// (a client header) bounded as label values.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';

/** The value of the series of `name` whose labels contain `labels`, in one scrape's text. */
function valueIn(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function value(m: EppMetrics, name: string, labels: string): Promise<number | undefined> {
  return valueIn(await m.registry.metrics(), name, labels);
}

describe('flow control metrics', () => {
  it("fairness index: 1 when the flows of a band got equal service since the last scrape, 1/n when one got it all; reset per scrape", async () => {
    const m = new EppMetrics();
    const fc = m.flowControl('pool-a');
    fc.dispatchedFromQueue({ id: 'a', priority: 0 }, 100);
    fc.dispatchedFromQueue({ id: 'b', priority: 0 }, 100);
    fc.dispatchedFromQueue({ id: 'x', priority: 5 }, 1000);
    fc.dispatchedFromQueue({ id: 'y', priority: 5 }, 1);
    const scrape = await m.registry.metrics();
    assert.equal(valueIn(scrape, 'tokenroute_flow_control_fairness_index', 'priority="0"'), 1);
    const skewed = valueIn(scrape, 'tokenroute_flow_control_fairness_index', 'priority="5"');
    assert.ok(skewed !== undefined && Math.abs(skewed - 1001 ** 2 / (2 * (1000 ** 2 + 1))) < 1e-9);
    assert.equal(await value(m, 'tokenroute_flow_control_fairness_index', 'priority="0"'), undefined, 'nothing dispatched since: no value');
  });

  it('queue size and bytes by flow, outcomes, the scale-from-zero gauge; fairness ids past the bound fold into "other"', async () => {
    const m = new EppMetrics({ labelBounds: { maxValues: 2, maxLength: 256 } });
    const fc = m.flowControl('pool-a');
    for (const id of ['t1', 't2', 't3', 't4']) fc.queued({ id, priority: 0 }, 1, 10);
    fc.finished({ id: 't1', priority: 0 }, 'EvictedTTL', 1500);
    fc.waitingForEndpoints(3);
    assert.equal(await value(m, 'inference_extension_flow_control_queue_size', 'fairness_id="t1"'), 1);
    assert.equal(await value(m, 'inference_extension_flow_control_queue_size', 'fairness_id="other"'), 2);
    assert.equal(await value(m, 'inference_extension_flow_control_queue_bytes', 'fairness_id="other"'), 20);
    assert.equal(await value(m, 'inference_extension_flow_control_requests_total', 'outcome="EvictedTTL"'), 1);
    assert.equal(await value(m, 'inference_extension_flow_control_request_queue_duration_seconds_bucket', 'le="2.5",fairness_id="t1",priority="0",outcome="EvictedTTL"'), 1);
    assert.equal(await value(m, 'tokenroute_flow_control_waiting_for_endpoints', 'inference_pool="pool-a"'), 3);
  });

  it('capacity utilization: read from the controller at each scrape, per band and for the global limits; evictions counted by priority', async () => {
    const m = new EppMetrics();
    const fc = m.flowControl('pool-a');
    let use = [{ priority: 'all', utilization: 0.25 }, { priority: '0', utilization: 0.5 }];
    fc.watchCapacity(() => use);
    assert.equal(await value(m, 'tokenroute_flow_control_capacity_utilization', 'priority="0"'), 0.5);
    use = [{ priority: 'all', utilization: 0.75 }];
    const text = await m.registry.metrics();
    assert.equal(valueIn(text, 'tokenroute_flow_control_capacity_utilization', 'priority="all"'), 0.75);
    assert.equal(valueIn(text, 'tokenroute_flow_control_capacity_utilization', 'priority="0"'), undefined, 'a band no longer reported is gone');
    fc.evicted(-1);
    assert.equal(await value(m, 'tokenroute_flow_control_evictions_total', 'priority="-1"'), 1);
  });
});
