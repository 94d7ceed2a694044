// Integration (issue 14): flow control inside a real EPP, driven over gRPC ext_proc as Envoy drives
// it. The pool is one endpoint that the concurrency detector counts as full at one request in
// flight, so the second request waits in the EPP: it is routed when the first ends; a waiting
// request is shed after defaultRequestTTL with 429 + x-llm-d-request-dropped-reason; a stream reset
// while queued frees its place at once; shutdown answers the queue with 503 rejected-shutting-down.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../epp/src/main.js';
import { vllmMetricsPage } from '../fixtures/sample-exposition.js';
import { startFakeModelServer, type FakeModelServer } from '../epp/datalayer/helpers.js';
import { StreamDriver, bodyMsg, completeRoutedStream, headersMsg, immediateStatus, newExtProcClient, setHeadersOf, type ExtProcClient } from '../epp/extproc/harness.js';
import type { ProcessingResponse } from '../../epp/src/protocol/types.js';
import { waitFor } from './prefix/sims.js';

const CONFIG = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins:
- {name: one-at-a-time, type: concurrency-detector, parameters: {maxConcurrency: 1}}
- type: queue-scorer
- type: max-score-picker
saturationDetector: {pluginRef: one-at-a-time}
flowControl:
  defaultRequestTTL: 400ms
`;
const CHAT = JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'hello there' }] });

function open(client: ExtProcClient, tenant: string): StreamDriver {
  const d = new StreamDriver(client);
  d.send(headersMsg({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-gateway-inference-fairness-id': tenant }, false));
  d.send(bodyMsg(CHAT, true));
  return d;
}

function destinationOf(r: ProcessingResponse): string | undefined {
  return setHeadersOf(r.request_headers?.response?.header_mutation).get('x-gateway-destination-endpoint');
}

async function queueSize(epp: RunningEpp): Promise<number> {
  const text = await epp.metrics.registry.metrics();
  let sum = 0;
  for (const m of text.matchAll(/^inference_extension_flow_control_queue_size\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

describe('flow control in a running EPP', () => {
  let server: FakeModelServer;
  let epp: RunningEpp;
  let client: ExtProcClient;

  beforeAll(async () => {
    server = await startFakeModelServer('127.0.0.2', vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 }));
    epp = await startEpp(embeddedEppOptions({ configText: CONFIG, staticEndpoints: [{ address: server.host, port: server.port }] }));
    client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await epp.close();
    await server.close();
  });

  test('a request waits while the pool is full and is routed when the request ahead of it ends', async () => {
    const first = open(client, 'tenant-a');
    const r1 = await first.next();
    assert.equal(destinationOf(r1), `${server.host}:${server.port}`);
    const second = open(client, 'tenant-b');
    assert.equal(await second.silentFor(150), true, 'the second request is held, not answered');
    assert.equal(await queueSize(epp), 1);
    await completeRoutedStream(first);
    const r2 = await second.next();
    assert.equal(destinationOf(r2), `${server.host}:${server.port}`, 'routed once capacity freed');
    assert.equal(await queueSize(epp), 0);
    await completeRoutedStream(second);
  });

  test('a request that waits its whole budget gets 429 with x-llm-d-request-dropped-reason: rejected-ttl-expired', async () => {
    const holder = open(client, 'tenant-a');
    await holder.next();
    const waiting = open(client, 'tenant-b');
    const t0 = Date.now();
    const r = await waiting.next(5000);
    assert.ok(Date.now() - t0 >= 350, 'not before defaultRequestTTL');
    assert.equal(immediateStatus(r), 429);
    const headers = setHeadersOf(r.immediate_response?.headers);
    assert.equal(headers.get('x-llm-d-request-dropped-reason'), 'rejected-ttl-expired');
    assert.equal(headers.get('x-tokenroute-error-code'), 'TR_ERR_FLOW_TTL_EXPIRED');
    assert.match(Buffer.from(r.immediate_response?.body ?? '').toString(), /^inference error: ResourceExhausted - request timed out in queue/);
    await completeRoutedStream(holder);
  });

  test('a stream reset while queued leaves the queue at once, and the next request still gets the freed capacity', async () => {
    const holder = open(client, 'tenant-a');
    await holder.next();
    const quitter = open(client, 'tenant-b');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await queueSize(epp), 1);
    quitter.cancel();
    await waitFor(async () => (await queueSize(epp)) === 0, 2000, 'the cancelled request to leave the queue');
    assert.equal(await queueSize(epp), 0, 'the cancelled request left the queue');
    const next = open(client, 'tenant-c');
    await completeRoutedStream(holder);
    assert.equal(destinationOf(await next.next()), `${server.host}:${server.port}`);
    await completeRoutedStream(next);
    const text = await epp.metrics.registry.metrics();
    assert.match(text, /inference_extension_flow_control_requests_total\{outcome="EvictedContextCancelled",priority="0",inference_pool="standalone"\} 1/);
  });
});

test('shutdown answers every waiting request with 503 rejected-shutting-down', async () => {
  const server = await startFakeModelServer('127.0.0.3', vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 }));
  const epp = await startEpp(embeddedEppOptions({ configText: CONFIG.replace('400ms', '30s'), staticEndpoints: [{ address: server.host, port: server.port }] }));
  const client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const holder = open(client, 'a');
    await holder.next();
    const waiting = [open(client, 'b'), open(client, 'c')];
    await new Promise((r) => setTimeout(r, 50));
    const closing = epp.close();
    for (const w of waiting) {
      const r = await w.next(5000);
      assert.equal(immediateStatus(r), 503);
      assert.equal(setHeadersOf(r.immediate_response?.headers).get('x-llm-d-request-dropped-reason'), 'rejected-shutting-down');
    }
    holder.cancel();
    await closing;
  } finally {
    client.close();
    await server.close();
  }
});

test('a tenant over its requests-per-minute limit gets 429 rejected-rate-limited with retry-after; other tenants pass', async () => {
  const server = await startFakeModelServer('127.0.0.4', vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 }));
  const limited = CONFIG.replace('- type: queue-scorer', '- {name: caps, type: flow-rate-limit-policy, parameters: {requestsPerMinute: 2}}\n- type: queue-scorer').replace('flowControl:\n', 'flowControl:\n  rateLimitPolicyPluginRef: caps\n').replace('maxConcurrency: 1', 'maxConcurrency: 100');
  const epp = await startEpp(embeddedEppOptions({ configText: limited, staticEndpoints: [{ address: server.host, port: server.port }] }));
  const client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  try {
    for (let i = 0; i < 2; i++) {
      const d = open(client, 'greedy');
      const first = await d.next();
      assert.equal(destinationOf(first), `${server.host}:${server.port}`, JSON.stringify(first.immediate_response ? Buffer.from(first.immediate_response.body ?? '').toString() : first));
      await completeRoutedStream(d);
    }
    const third = await open(client, 'greedy').next();
    assert.equal(immediateStatus(third), 429);
    const headers = setHeadersOf(third.immediate_response?.headers);
    assert.equal(headers.get('x-llm-d-request-dropped-reason'), 'rejected-rate-limited');
    assert.equal(headers.get('retry-after'), '30');
    assert.equal(headers.get('x-tokenroute-error-code'), 'TR_ERR_FLOW_RATE_LIMITED');
    const other = open(client, 'polite');
    const answer = await other.next();
    assert.equal(destinationOf(answer), `${server.host}:${server.port}`, JSON.stringify(answer).slice(0, 600));
    await completeRoutedStream(other);
  } finally {
    client.close();
    await epp.close();
    await server.close();
  }
});

test('enableEviction: a critical request waiting on a full pool ends the running sheddable one (429, reason evicted) and takes its place', async () => {
  const server = await startFakeModelServer('127.0.0.5', vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 }));
  const config = CONFIG.replace('flowControl:\n', 'flowControl:\n  enableEviction: true\n').replace('400ms', '20s');
  const epp = await startEpp(embeddedEppOptions({ configText: config, staticEndpoints: [{ address: server.host, port: server.port }] }));
  epp.datastore.objectives.replace([{ name: 'batch', priority: -1 }, { name: 'critical', priority: 10 }]);
  const client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  const withObjective = (tenant: string, objective: string) => {
    const d = new StreamDriver(client);
    d.send(headersMsg({ ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json', 'x-gateway-inference-fairness-id': tenant, 'x-gateway-inference-objective': objective }, false));
    d.send(bodyMsg(CHAT, true));
    return d;
  };
  try {
    const batch = withObjective('nightly', 'batch');
    assert.equal(destinationOf(await batch.next()), `${server.host}:${server.port}`, 'the sheddable request runs');
    const critical = withObjective('web', 'critical');
    // The batch stream is answered from the EPP's side: its body echo may come first, then the eviction.
    let evictedReply: ProcessingResponse | undefined;
    for (let i = 0; i < 10 && !evictedReply; i++) {
      const r = await batch.next(5000);
      if (r.immediate_response) evictedReply = r;
    }
    assert.ok(evictedReply, 'the running sheddable request was evicted');
    assert.equal(immediateStatus(evictedReply), 429);
    assert.equal(setHeadersOf(evictedReply.immediate_response?.headers).get('x-llm-d-request-dropped-reason'), 'evicted');
    assert.equal(destinationOf(await critical.next(5000)), `${server.host}:${server.port}`, 'the critical request takes the freed slot');
    await completeRoutedStream(critical);
    assert.match(await epp.metrics.registry.metrics(), /tokenroute_flow_control_evictions_total\{priority="-1",inference_pool="standalone"\} 1/);
  } finally {
    client.close();
    await epp.close();
    await server.close();
  }
});
