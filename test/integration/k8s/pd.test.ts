// Integration: prefill/decode disaggregation in Kubernetes mode, as llm-d deploys it — one
// InferencePool over prefill and decode pods told apart by the label llm-d.ai/role. Real
// components: etcd + kube-apiserver (our CRDs), the EPP in Kubernetes mode (informers, Director,
// scheduler, ext_proc server) with a real gRPC ext_proc client. The pods have no servers behind
// them (the config scrapes nothing): this checks discovery and the decision, not serving.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createNamespace, startKubeApiServer, waitFor, type KubeApiServer } from './harness.js';
import { createPod, createPool, patchPodLabels } from './objects.js';
import { decide, startKubeEpp } from './epp.js';
import { llmdPdConfig } from '../../fixtures/pd-config.js';

const NS = 'pd';
const ROLE = 'llm-d.ai/role';
const CONFIG = llmdPdConfig({ nonCachedTokens: 64, apiVersion: 'llm-d.ai/v1alpha1', dataLayerOff: true });

let server: KubeApiServer;
let k: Awaited<ReturnType<typeof startKubeEpp>>;
const PORT = 8000;

beforeAll(async () => {
  server = await startKubeApiServer();
  await createNamespace(server, NS);
  await createPool(server, NS, 'llm', { selector: { app: 'vllm' }, ports: [PORT] });
  await createPod(server, NS, 'prefill-0', { labels: { app: 'vllm', [ROLE]: 'prefill' }, ip: '127.0.0.121', ready: true });
  await createPod(server, NS, 'prefill-1', { labels: { app: 'vllm', [ROLE]: 'prefill' }, ip: '127.0.0.122', ready: true });
  await createPod(server, NS, 'decode-0', { labels: { app: 'vllm', [ROLE]: 'decode' }, ip: '127.0.0.123', ready: true });
  await createPod(server, NS, 'decode-1', { labels: { app: 'vllm', [ROLE]: 'decode' }, ip: '127.0.0.124', ready: true });
  k = await startKubeEpp({ kubeconfig: server.kubeconfigPath(), pool: 'llm', namespace: NS, configText: CONFIG });
  await k.epp.kubernetes!.waitForSync();
  await waitFor('four endpoints', () => k.epp.datastore.candidates().length === 4, 5000);
});

afterAll(async () => {
  await k?.close();
  await server?.stop();
});

const long = (i: number) => `Question ${i} about routing disaggregated inference. `.repeat(30);

describe('P/D in Kubernetes mode (pods labelled llm-d.ai/role)', () => {
  test('a long prompt goes to a decode pod with a prefill pod in x-prefiller-host-port; a short one stays on the decode pod', async () => {
    const d = await decide(k.client, { content: long(1) });
    assert.match(d.endpoint ?? '', /^127\.0\.0\.12[34]:8000$/, `destination ${d.endpoint}`);
    assert.match(d.setHeaders?.get('x-prefiller-host-port') ?? '', /^127\.0\.0\.12[12]:8000$/);
    const short = await decide(k.client, { content: 'hi' });
    assert.match(short.endpoint ?? '', /^127\.0\.0\.12[34]:8000$/);
    assert.equal(short.setHeaders?.get('x-prefiller-host-port'), undefined);
  });

  test('relabelling a pod changes its stage without a restart', async () => {
    await patchPodLabels(server, NS, 'prefill-1', { [ROLE]: 'decode' });
    await waitFor('relabelled', () => k.epp.datastore.get('127.0.0.122:8000')?.endpoint.labels[ROLE] === 'decode', 5000);
    for (let i = 2; i < 8; i++) {
      const d = await decide(k.client, { content: long(i) });
      assert.equal(d.setHeaders?.get('x-prefiller-host-port'), '127.0.0.121:8000', 'the only prefill pod left');
      assert.match(d.endpoint ?? '', /^127\.0\.0\.12[234]:8000$/);
    }
  });
});
