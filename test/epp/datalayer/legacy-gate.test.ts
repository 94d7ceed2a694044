// featureGates: [enableLegacyMetrics] (GIE's own test configs set it) keeps model-server metrics
// collection on: a whole EPP (startEpp) with the gate scrapes a real /metrics server and routes by
// the queue it reads. Before, the gate switched collection off and every endpoint looked alike.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../../epp/src/main.js';
import { vllmMetricsPage } from '../../fixtures/sample-exposition.js';
import { startFakeModelServer, type FakeModelServer } from './helpers.js';

const CONFIG = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
featureGates: [enableLegacyMetrics]
plugins:
- type: queue-scorer
`;
let epp: RunningEpp | undefined;
let servers: FakeModelServer[] = [];
afterAll(async () => {
  await epp?.close();
  await Promise.all(servers.map((s) => s.close()));
});

describe('enableLegacyMetrics', () => {
  it('still scrapes model-server metrics', async () => {
    servers = [await startFakeModelServer('127.0.13.1', vllmMetricsPage({ waiting: 7, running: 1, kvUsage: 0.1 })), await startFakeModelServer('127.0.13.2', vllmMetricsPage({ waiting: 0, running: 1, kvUsage: 0.1 }))];
    epp = await startEpp(embeddedEppOptions({ configText: CONFIG, staticEndpoints: servers.map((s) => ({ address: s.host, port: s.port })) }));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !epp.datastore.candidates().every((c) => c.metrics.updatedAt > 0)) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(epp.datastore.candidates().map((c) => c.metrics.waitingRequests).sort(), [0, 7]);
  });
});
