// Integration: InferenceObjectives and InferenceModelRewrites in the request path.
// Real components started: etcd + kube-apiserver on 127.0.0.1 (our CRDs installed), a whole EPP
// (startEpp in Kubernetes mode: informers, Director, scheduler, metrics collector, ext_proc
// server) with a real gRPC ext_proc client, and real HTTP servers on 127.0.0.101-102 serving
// vLLM-format /metrics (the pool's pods point at them), whose queue lengths saturate the pool.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { vllmMetricsPage } from '../../fixtures/sample-exposition.js';
import { startFakeModelServer, type FakeModelServer } from '../../epp/datalayer/helpers.js';
import { createNamespace, freePort, sleep, startKubeApiServer, waitFor, type KubeApiServer } from './harness.js';
import { createObjective, createPod, createPool, createRewrite, deleteObjective, deleteRewrite } from './objects.js';
import { decide, startKubeEpp } from './epp.js';
import { modelRewriter } from '../../../epp/src/datastore/model-rewriter.js';

const NS = 'serving';
const OBJ = 'x-gateway-inference-objective';
// GIE's utilization detector (queue ≥ 5 saturates), with a staleness bound that a loaded 2-core
// CI machine cannot trip: saturation must come from the queue lengths the test sets.
const CONFIG = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- name: detector
  type: utilization-detector
  parameters: {queueDepthThreshold: 5, metricsStalenessThreshold: 10s}
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
saturationDetector:
  pluginRef: detector
`;

let server: KubeApiServer;
let models: FakeModelServer[] = [];
let k: Awaited<ReturnType<typeof startKubeEpp>>;

function setQueue(waiting: number): void {
  for (const m of models) m.body = vllmMetricsPage({ waiting, running: 1, kvUsage: 0.1 });
}

/** Waits until the EPP scraped the queue length just set on every endpoint. */
async function scraped(waiting: number): Promise<void> {
  await waitFor(`metrics scraped (waiting=${waiting})`, () => k.epp.datastore.candidates().length === models.length && k.epp.datastore.candidates().every((c) => c.metrics.waitingRequests === waiting), 5000, 10);
}

beforeAll(async () => {
  server = await startKubeApiServer();
  await createNamespace(server, NS);
  const port = await freePort();
  models = [await startFakeModelServer('127.0.0.101', vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 }), { port }), await startFakeModelServer('127.0.0.102', vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 }), { port })];
  await createPool(server, NS, 'llm', { selector: { app: 'vllm' }, ports: [port] });
  await createPod(server, NS, 'vllm-0', { labels: { app: 'vllm' }, ip: '127.0.0.101', ready: true });
  await createPod(server, NS, 'vllm-1', { labels: { app: 'vllm' }, ip: '127.0.0.102', ready: true });
  k = await startKubeEpp({ kubeconfig: server.kubeconfigPath(), pool: 'llm', namespace: NS, configText: CONFIG });
  await k.epp.kubernetes!.waitForSync();
});

afterAll(async () => {
  await k?.close();
  await Promise.all(models.map((m) => m.close()));
  await server?.stop();
});

describe('InferenceObjective priority', () => {
  test('a sheddable objective (priority < 0) is shed with 429 only while the pool is saturated; others are served', async () => {
    await createObjective(server, NS, 'batch', 'llm', -1);
    await createObjective(server, NS, 'chat', 'llm', 10);
    await createObjective(server, NS, 'plain', 'llm'); // priority unset = 0
    await createObjective(server, NS, 'elsewhere', 'other-pool', -5); // not our pool: unknown here
    await waitFor('objectives loaded', () => k.epp.datastore.objectives.priority('batch') === -1 && k.epp.datastore.objectives.priority('plain') === 0, 2000);
    assert.equal(k.epp.datastore.objectives.priority('elsewhere'), undefined);

    setQueue(0);
    await scraped(0);
    assert.ok((await decide(k.client, { headers: { [OBJ]: 'batch' } })).endpoint, 'not saturated: sheddable requests are served');

    setQueue(20); // queueDepthThreshold 5 → saturation 4 ≥ 1
    await scraped(20);
    assert.equal((await decide(k.client, { headers: { [OBJ]: 'batch' } })).status, 429, 'saturated: sheddable → 429');
    for (const objective of ['chat', 'plain', 'elsewhere', 'no-such-objective']) {
      assert.ok((await decide(k.client, { headers: { [OBJ]: objective } })).endpoint, `saturated: ${objective} (priority ≥ 0) is still served`);
    }
    assert.ok((await decide(k.client)).endpoint, 'no objective header → priority 0 → served');

    // Objective changes reach the request path: deleted → priority 0 → served.
    await deleteObjective(server, NS, 'batch');
    await waitFor('batch gone', () => k.epp.datastore.objectives.priority('batch') === undefined, 1000, 5);
    assert.ok((await decide(k.client, { headers: { [OBJ]: 'batch' } })).endpoint);

    setQueue(0);
    await scraped(0);
  });
});

describe('InferenceModelRewrite', () => {
  test('weighted targets: the split follows the weights (400 requests, ±3σ), the body is rewritten and the client sees its own model name', async () => {
    await createRewrite(server, NS, 'canary', 'llm', [{ models: ['llama'], targets: [{ model: 'llama-v1', weight: 80 }, { model: 'llama-v2', weight: 20 }] }]);
    await waitFor('rewrite loaded', () => modelRewriter(k.epp.datastore.rewrites)('llama') !== undefined, 2000);
    const counts = new Map<string, number>();
    const N = 400;
    for (let i = 0; i < N; i++) {
      const d = await decide(k.client, { model: 'llama' });
      assert.ok(d.endpoint, 'routed');
      const upstream = JSON.parse(d.upstreamBody!) as { model: string; messages: unknown[] };
      counts.set(upstream.model, (counts.get(upstream.model) ?? 0) + 1);
      assert.equal(upstream.messages.length, 1, 'the rest of the body is kept');
      assert.equal((JSON.parse(d.clientBody!) as { model: string }).model, 'llama', 'response carries the client-facing model name');
    }
    assert.deepEqual([...counts.keys()].sort(), ['llama-v1', 'llama-v2']);
    const v2 = counts.get('llama-v2')!;
    // Binomial(400, 0.2): mean 80, σ 8.
    assert.ok(v2 >= 56 && v2 <= 104, `llama-v2 got ${v2} of ${N} (expected 80 ± 24)`);
    const text = await k.epp.metrics.registry.metrics();
    const m = /inference_extension_model_rewrite_decisions_total\{model_rewrite_name="canary",model_name="llama",target_model="llama-v2"\} (\d+)/.exec(text);
    assert.equal(Number(m?.[1]), v2, 'decisions counted per target');

    // A model no rule matches is left alone.
    const other = await decide(k.client, { model: 'mistral' });
    assert.equal(JSON.parse(other.upstreamBody || '{"model":"mistral"}').model, 'mistral');
    await deleteRewrite(server, NS, 'canary');
    await waitFor('rewrite removed', () => modelRewriter(k.epp.datastore.rewrites)('llama') === undefined, 1000, 5);
  });

  test('precedence: exact match beats a generic rule, then the oldest resource, then the first rule', async () => {
    await createRewrite(server, NS, 'catch-all', 'llm', [{ targets: [{ model: 'fallback-model' }] }]);
    await sleep(1100); // creationTimestamp has one-second resolution
    await createRewrite(server, NS, 'older-exact', 'llm', [
      { models: ['llama'], targets: [{ model: 'llama-a' }] },
      { models: ['llama', 'qwen'], targets: [{ model: 'llama-second-rule' }] },
    ]);
    await sleep(1100);
    await createRewrite(server, NS, 'newer-exact', 'llm', [{ models: ['llama', 'qwen'], targets: [{ model: 'llama-b' }] }]);
    const rw = () => modelRewriter(k.epp.datastore.rewrites);
    await waitFor('all three loaded', () => rw()('qwen')?.target === 'llama-second-rule', 2000);
    assert.deepEqual(rw()('llama'), { target: 'llama-a', ruleName: 'older-exact' }, 'oldest exact wins; its first matching rule');
    assert.deepEqual(rw()('qwen'), { target: 'llama-second-rule', ruleName: 'older-exact' }, 'an exact match in the older resource beats the newer one');
    assert.deepEqual(rw()('mistral'), { target: 'fallback-model', ruleName: 'catch-all' }, 'no exact rule: the generic rule applies');
    const d = await decide(k.client, { model: 'mistral' });
    assert.equal(JSON.parse(d.upstreamBody!).model, 'fallback-model');
    assert.equal(JSON.parse(d.clientBody!).model, 'mistral');

    await deleteRewrite(server, NS, 'older-exact');
    await waitFor('newer takes over', () => rw()('llama')?.target === 'llama-b', 1000, 5);
    for (const n of ['catch-all', 'newer-exact']) await deleteRewrite(server, NS, n);
  });

  test('an unweighted target list splits evenly; mixed weights are reported', async () => {
    await createRewrite(server, NS, 'even', 'llm', [{ models: ['phi'], targets: [{ model: 'phi-a' }, { model: 'phi-b' }] }]);
    await createRewrite(server, NS, 'mixed', 'llm', [{ models: ['gemma'], targets: [{ model: 'gemma-a', weight: 5 }, { model: 'gemma-b' }] }]);
    const rw = () => modelRewriter(k.epp.datastore.rewrites);
    await waitFor('loaded', () => rw()('phi') !== undefined && rw()('gemma') !== undefined, 2000);
    let a = 0;
    for (let i = 0; i < 2000; i++) if (rw()('phi')!.target === 'phi-a') a++;
    assert.ok(a > 1000 - 3 * 23 && a < 1000 + 3 * 23, `phi-a chosen ${a}/2000`);
    for (let i = 0; i < 200; i++) assert.equal(rw()('gemma')!.target, 'gemma-a', 'an unweighted target next to weighted ones gets nothing (GIE)');
    await waitFor('mixed weights reported', () => k.epp.kubernetes!.issues().some((x) => x.reason === 'MixedTargetWeights' && x.name === `${NS}/mixed`), 1000);
    for (const n of ['even', 'mixed']) await deleteRewrite(server, NS, n);
  });
});
