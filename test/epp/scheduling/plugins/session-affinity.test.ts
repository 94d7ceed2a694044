// session-affinity-scorer through the real EPP (startEpp: ext_proc gRPC server, director,
// lifecycle) with a real gRPC client: the response carries x-session-token naming the endpoint
// that served, and a request that sends it back goes to that endpoint again (the session's weight
// outweighs the load scorer's); a token naming no endpoint changes nothing.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../../../epp/src/main.js';
import { EMPTY_METRICS } from '../../../../epp/src/framework/endpoint.js';
import { newExtProcClient, type ExtProcClient } from '../../extproc/harness.js';
import { decide } from '../../../integration/k8s/epp.js';

const CONFIG = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: session-affinity-scorer
- type: active-request-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins: [{pluginRef: session-affinity-scorer, weight: 2}, {pluginRef: active-request-scorer, weight: 1}, {pluginRef: max-score-picker}]
dataLayer: {sources: []}
`;
let epp: RunningEpp;
let client: ExtProcClient;

beforeAll(async () => {
  epp = await startEpp(embeddedEppOptions({ configText: CONFIG, staticEndpoints: [1, 2, 3].map((i) => ({ address: `127.0.12.${i}`, port: 8000 })) }));
  for (const c of epp.datastore.candidates()) epp.datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, updatedAt: Date.now() });
  client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await epp?.close();
});

describe('session-affinity-scorer', () => {
  it('hands out a token for the serving endpoint and honours it on the next request', async () => {
    const first = await decide(client, { content: 'hello' });
    const token = first.responseHeaders?.get('x-session-token');
    assert.ok(token, 'the response carries a session token');
    assert.equal(Buffer.from(token, 'base64').toString(), `default/${first.endpoint}`, 'namespace/pod of the endpoint that served');
    for (let i = 0; i < 4; i++) {
      const again = await decide(client, { content: `turn ${i}`, headers: { 'x-session-token': token } });
      assert.equal(again.endpoint, first.endpoint, `turn ${i} stays on the session's endpoint`);
    }
  });

  it('ignores a token naming no endpoint', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add((await decide(client, { content: `q${i}`, headers: { 'x-session-token': Buffer.from('default/nobody').toString('base64') } })).endpoint!);
    assert.ok(seen.size >= 1);
    for (const e of seen) assert.match(e, /^127\.0\.12\.[123]:8000$/);
  });
});

describe('session-affinity-filter against the scorer, through the EPP', () => {
  // The session's endpoint carries a long queue and the queue scorer outweighs the session: the
  // scorer (soft) lets the session move, the filter (hard) keeps it.
  const config = (session: string) => `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: ${session}
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins: [{pluginRef: ${session}${session.endsWith('scorer') ? ', weight: 1' : ''}}, {pluginRef: queue-scorer, weight: 5}, {pluginRef: max-score-picker}]
dataLayer: {sources: []}
`;
  async function endpointsFor(session: string): Promise<Set<string>> {
    const e = await startEpp(embeddedEppOptions({ configText: config(session), staticEndpoints: [1, 2].map((i) => ({ address: `127.0.13.${i}`, port: 8000 })) }));
    const c = newExtProcClient(`127.0.0.1:${e.grpcPort}`, grpc.credentials.createInsecure());
    try {
      for (const cand of e.datastore.candidates()) {
        e.datastore.updateMetrics(cand.endpoint.key, { ...EMPTY_METRICS, waitingRequests: cand.endpoint.address === '127.0.13.1' ? 50 : 0, updatedAt: Date.now() });
      }
      const token = Buffer.from(`default/${[...e.datastore.candidates()].find((x) => x.endpoint.address === '127.0.13.1')!.endpoint.podName}`).toString('base64');
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) seen.add((await decide(c, { content: `turn ${i}`, headers: { 'x-session-token': token } })).endpoint!);
      return seen;
    } finally {
      c.close();
      await e.close();
    }
  }

  it('the filter pins the session to its loaded endpoint; the scorer lets it move', async () => {
    assert.deepEqual([...(await endpointsFor('session-affinity-filter'))], ['127.0.13.1:8000']);
    assert.deepEqual([...(await endpointsFor('session-affinity-scorer'))], ['127.0.13.2:8000']);
  });
});
