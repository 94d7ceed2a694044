// Request control over the real datastore, config loader and scheduler (no network): admission,
// rewrite, in-flight accounting, and the rule that a decision never names an endpoint that left
// the pool while the request's data was being prepared asynchronously.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { EMPTY_METRICS, type Candidate } from '../../../epp/src/framework/endpoint.js';
import { staticEndpoints } from '../../../epp/src/datastore/static-endpoints.js';
import { loadEndpointPickerConfig } from '../../../epp/src/config/index.js';
import { builtinRegistry } from '../../../epp/src/main.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import { Scheduler } from '../../../epp/src/scheduling/scheduler.js';
import type { PrepareDataPlugin } from '../../../epp/src/framework/plugins.js';
import { Director, type DirectorOptions } from '../../../epp/src/requestcontrol/director.js';
import { requestLifecycle } from '../../../epp/src/requestcontrol/plugins/index.js';
import type { Decision, RequestInput } from '../../../epp/src/framework/request-controller.js';

const CONFIG = `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
`;

function setup(n: number, extra: Partial<DirectorOptions> = {}) {
  const datastore = new Datastore();
  datastore.objectives.replace([{ name: 'batch', priority: -1 }]);
  datastore.setEndpoints(staticEndpoints(Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 8000 }))));
  const now = Date.now();
  datastore.candidates().forEach((c, i) => datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, waitingRequests: i, updatedAt: now }));
  const logger = silentLogger();
  const metrics = new EppMetrics();
  const config = loadEndpointPickerConfig(CONFIG, builtinRegistry(), { datastore, logger, random: Math.random, now: Date.now });
  const scheduler = new Scheduler({ profiles: config.profiles, profileHandler: config.profileHandler, logger, metrics });
  const director = new Director({
    datastore,
    parser: config.parser,
    scheduler,
    lifecycle: requestLifecycle({ datastore, metrics, saturationDetector: config.saturationDetector, logger }),
    selectProfile: () => undefined,
    disableSubsetFilter: false,
    metrics,
    logger,
    ...extra,
  });
  return { datastore, director, metrics };
}

function input(headers: Record<string, string> = {}, body: object = { model: 'm', prompt: 'hello' }): RequestInput {
  return {
    headers: new Map(Object.entries({ ':path': '/v1/completions', ...headers })),
    requestId: 'r1',
    body: Buffer.from(JSON.stringify(body)),
    filterMetadata: {},
    attributes: new Map(),
    grpcMetadata: new Map(),
  };
}

function routed(d: Decision) {
  assert.equal(d.kind, 'route', JSON.stringify(d));
  return d as Extract<Decision, { kind: 'route' }>;
}

test('a decision made after asynchronous data preparation never names an endpoint that left meanwhile', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow: PrepareDataPlugin = { type: 'test-slow-prepare', name: 'slow', prepareRequestData: () => gate };
  const { datastore, director } = setup(3, { prepareData: [slow] });
  const best = datastore.candidates()[0].endpoint.key; // shortest queue
  const pending = director.handleRequest(input());
  assert.ok(pending instanceof Promise, 'the prepare step made the decision asynchronous');
  datastore.removeEndpoint(best); // e.g. the pod turned NotReady while the request was tokenized
  release();
  const d = routed(await pending);
  assert.notEqual(d.endpoints[0], best);
  assert.ok(datastore.get(d.endpoints[0]), 'the chosen endpoint is in the pool');
});

test('every endpoint leaving during preparation gives 503, not a stale endpoint', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { datastore, director } = setup(2, { prepareData: [{ type: 't', name: 't', prepareRequestData: () => gate }] });
  const pending = director.handleRequest(input());
  datastore.setEndpoints([]);
  release();
  const d = await pending;
  assert.equal(d.kind, 'reject');
  assert.equal((d as Extract<Decision, { kind: 'reject' }>).status, 503);
  assert.equal((d as Extract<Decision, { kind: 'reject' }>).code, 'TR_ERR_REQUEST_NO_CANDIDATES');
});

test('in-flight load follows the request and is released once', async () => {
  const { datastore, director } = setup(2);
  const d = routed(await director.handleRequest(input()));
  const key = d.endpoints[0];
  assert.equal(datastore.get(key)!.inflight.requests, 1);
  d.handle.onEnd('complete');
  d.handle.onEnd('cancelled');
  assert.equal(datastore.get(key)!.inflight.requests, 0);
  assert.equal(datastore.get(key)!.inflight.tokens, 0);
});

test('a sheddable request is shed with 429 only when the pool is saturated', async () => {
  const { datastore, director } = setup(2);
  assert.equal((await director.handleRequest(input({ 'x-gateway-inference-objective': 'batch' }))).kind, 'route');
  const now = Date.now();
  for (const c of datastore.candidates() as Candidate[]) datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, waitingRequests: 50, updatedAt: now });
  const shed = await director.handleRequest(input({ 'x-gateway-inference-objective': 'batch' }));
  assert.equal(shed.kind, 'reject');
  assert.equal((shed as Extract<Decision, { kind: 'reject' }>).status, 429);
  assert.equal((shed as Extract<Decision, { kind: 'reject' }>).code, 'TR_ERR_REQUEST_SHED');
  assert.equal((await director.handleRequest(input())).kind, 'route', 'priority 0 is never shed');
});

test('x-gateway-model-name-rewrite rewrites the upstream body and the response restores the client name', async () => {
  const { director } = setup(1);
  const d = routed(await director.handleRequest(input({ 'x-gateway-model-name-rewrite': 'm-v2' })));
  assert.equal(JSON.parse(d.body!.toString()).model, 'm-v2');
  const out = d.handle.onResponseBody(Buffer.from('{"model":"m-v2","choices":[]}'), true).toString();
  assert.equal(out, '{"model":"m","choices":[]}');
});

test('a decision counts one scheduler attempt (the scheduler counts, the director does not)', async () => {
  const { director, metrics } = setup(2);
  const d = await director.handleRequest(input());
  assert.equal(d.kind, 'route');
  assert.match(await metrics.registry.metrics(), /inference_extension_scheduler_attempts_total\{status="success"[^}]*\} 1\n/);
});

test('in-flight load moves to the fallback endpoint that served, and is released there', async () => {
  const { datastore, director } = setup(2);
  const d = routed(await director.handleRequest(input()));
  const chosen = d.endpoints[0];
  const other = datastore.candidates().map((c) => c.endpoint.key).find((k) => k !== chosen)!;
  d.handle.onServed(other);
  assert.equal(datastore.get(chosen)!.inflight.requests, 0, 'the chosen endpoint no longer carries it');
  assert.equal(datastore.get(other)!.inflight.requests, 1, 'the endpoint that served does');
  d.handle.onServed('10.9.9.9:1'); // not in the pool: ignored
  assert.equal(datastore.get(other)!.inflight.requests, 1);
  d.handle.onEnd('complete');
  assert.equal(datastore.get(other)!.inflight.requests, 0);
  assert.equal(datastore.get(other)!.inflight.tokens, 0);
});
