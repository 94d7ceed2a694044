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
import type { Decision, RequestInput } from '../../../epp/src/framework/request-controller.js';

const CONFIG = `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
`;

function setup(n: number, extra: Partial<DirectorOptions> = {}) {
  const datastore = new Datastore();
  datastore.setEndpoints(staticEndpoints(Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 8000 }))));
  const now = Date.now();
  datastore.candidates().forEach((c, i) => datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, waitingRequests: i, updatedAt: now }));
  const logger = silentLogger();
  const metrics = new EppMetrics();
  const config = loadEndpointPickerConfig(CONFIG, builtinRegistry(), { datastore, logger, random: Math.random, now: Date.now });
  const scheduler = new Scheduler({ profiles: config.profiles, profileHandler: config.profileHandler, logger, metrics });
  const director = new Director({
    datastore,
    parse: (b, h) => config.parser.parse(b, h),
    schedule: (r, c, s) => scheduler.schedule(r, c, s),
    saturation: (c, t) => config.saturationDetector.saturation(c, t),
    objectivePriority: (name) => (name === 'batch' ? -1 : undefined),
    selectProfile: () => undefined,
    bodyIsParsed: true,
    disableSubsetFilter: false,
    metrics,
    logger,
    ...extra,
  });
  return { datastore, director };
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
