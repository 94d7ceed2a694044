// Client-chosen label values are bounded (issue: a client-chosen `model` name killed the EPP —
// ten requests with distinct ~0.9 MB names made /metrics answer 500 and thirty exhausted the heap).
// Reproduced here through the real director, parser, scheduler, lifecycle and metrics registry:
// over-long names are 400s (TR_ERR_REQUEST_FIELD_TOO_LONG) counted by limit, distinct names beyond
// the domain's capacity are reported as "other", and /metrics keeps answering with a bounded body.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { EMPTY_METRICS } from '../../../epp/src/framework/endpoint.js';
import { staticEndpoints } from '../../../epp/src/datastore/static-endpoints.js';
import { loadEndpointPickerConfig } from '../../../epp/src/config/index.js';
import { builtinRegistry, configuredDirector } from '../../../epp/src/main.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import { LabelDomain, OTHER_LABEL_VALUE } from '../../../epp/src/observability/label-bounds.js';
import type { Decision, RequestInput } from '../../../epp/src/framework/request-controller.js';

const HEAD = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
`;

function setup(opts: { maxValues?: number; maxLength?: number; config?: string } = {}) {
  const datastore = new Datastore();
  datastore.setEndpoints(staticEndpoints([{ address: '10.0.0.1', port: 8000 }, { address: '10.0.0.2', port: 8000 }]));
  for (const c of datastore.candidates()) datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, updatedAt: Date.now() });
  const logger = silentLogger();
  const metrics = new EppMetrics({ labelBounds: { maxValues: opts.maxValues ?? 1000, maxLength: opts.maxLength ?? 256 } });
  const config = loadEndpointPickerConfig(HEAD + (opts.config ?? 'plugins:\n- type: queue-scorer\n'), builtinRegistry(), { datastore, logger, random: Math.random, now: Date.now });
  const director = configuredDirector(config, { datastore, metrics, logger });
  let n = 0;
  const send = async (body: object): Promise<Decision> => {
    const input: RequestInput = {
      headers: new Map([[':path', '/v1/completions']]),
      requestId: `r${++n}`,
      body: Buffer.from(JSON.stringify(body)),
      filterMetadata: {},
      attributes: new Map(),
      grpcMetadata: new Map(),
    };
    const d = await director.handleRequest(input);
    if (d.kind === 'route') {
      d.handle.onResponseHeaders(new Map([[':status', '200']]));
      d.handle.onEnd('complete');
    }
    return d;
  };
  const bodiless = (): Decision => {
    const d = director.handleBodiless({ headers: new Map([[':path', '/v1/models'], [':method', 'GET']]), requestId: `r${++n}`, body: Buffer.alloc(0), filterMetadata: {}, attributes: new Map(), grpcMetadata: new Map() });
    if (d.kind === 'route') d.handle.onEnd('complete');
    return d;
  };
  return { metrics, send, bodiless };
}

/** Every distinct value of `label` in the exposition text. */
function labelValues(text: string, label: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`, 'g'))) out.add(m[1]);
  return out;
}

async function counter(metrics: EppMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

describe('LabelDomain', () => {
  it('admits the first maxValues distinct values, folds the rest and over-long ones, and never changes its mind', () => {
    const folds: string[] = [];
    const d = new LabelDomain('model', { maxValues: 3, maxLength: 8 }, (name) => folds.push(name));
    assert.deepEqual(['a', 'b', 'a', 'c', 'd', 'b', 'toolongvalue', 'c'].map((v) => d.value(v)), ['a', 'b', 'a', 'c', OTHER_LABEL_VALUE, 'b', OTHER_LABEL_VALUE, 'c']);
    assert.equal(d.size, 3);
    assert.deepEqual(folds, ['model', 'model']);
    assert.equal(d.value('d'), OTHER_LABEL_VALUE, 'a folded value stays folded');
  });
});

describe('request counting (GIE)', () => {
  it('counts requests with an opaque body (passthrough-parser) with empty model labels, and bodiless ones not at all', async () => {
    const { metrics, send, bodiless } = setup({ config: 'plugins:\n- type: queue-scorer\n- type: passthrough-parser\nparser: {pluginRef: passthrough-parser}\n' });
    for (let i = 0; i < 3; i++) assert.equal((await send({ anything: i })).kind, 'route');
    for (let i = 0; i < 2; i++) assert.equal(bodiless().kind, 'route');
    assert.equal(await counter(metrics, 'inference_objective_request_total', {}), 3, 'bodiless requests are not counted');
    assert.equal(await counter(metrics, 'inference_objective_request_total', { model_name: '', target_model_name: '' }), 3);
  });
});

describe('client-chosen model names cannot grow the EPP', () => {
  it('rejects ~0.9 MB model names with 400 and keeps /metrics answering and small (the reported crash)', async () => {
    const { metrics, send } = setup();
    for (let i = 0; i < 30; i++) {
      const model = `${i}-`.padEnd(900_000, 'x');
      const d = await send({ model, prompt: 'hi' });
      assert.equal(d.kind, 'reject');
      assert.equal(d.kind === 'reject' && d.status, 400);
      assert.equal(d.kind === 'reject' && d.code, 'TR_ERR_REQUEST_FIELD_TOO_LONG');
      if (i % 5 === 4) {
        const text = await metrics.registry.metrics(); // scraped every five requests, as in the report
        assert.ok(text.length < 200_000, `/metrics is ${text.length} bytes`);
      }
    }
    assert.equal(await counter(metrics, 'tokenroute_request_limit_rejections_total', { limit: 'model_name_bytes' }), 30);
    const text = await metrics.registry.metrics();
    for (const v of labelValues(text, 'model_name')) assert.ok(v.length <= 256, `label value of ${v.length} chars`);
  });

  it('accepts a name at the limit and rejects one byte more, also for cache_salt and multi-byte text', async () => {
    const { send } = setup();
    assert.equal((await send({ model: 'm'.repeat(1024), prompt: 'hi' })).kind, 'route');
    assert.equal((await send({ model: 'm'.repeat(1025), prompt: 'hi' })).kind, 'reject');
    assert.equal((await send({ model: 'é'.repeat(513), prompt: 'hi' })).kind, 'reject', '1026 UTF-8 bytes');
    assert.equal((await send({ model: 'm', cache_salt: 's'.repeat(1024), prompt: 'hi' })).kind, 'route');
    const salted = await send({ model: 'm', cache_salt: 's'.repeat(1025), prompt: 'hi' });
    assert.equal(salted.kind === 'reject' && salted.code, 'TR_ERR_REQUEST_FIELD_TOO_LONG');
    assert.match(salted.kind === 'reject' ? salted.message : '', /cache_salt is 1025 bytes, over the 1024-byte limit \(maxCacheSaltBytes\)/);
  });

  it('takes the limits from openai-parser parameters', async () => {
    const { send } = setup({ config: 'plugins:\n- type: queue-scorer\n- {type: openai-parser, parameters: {maxModelNameBytes: 8}}\nparser: {pluginRef: openai-parser}\n' });
    assert.equal((await send({ model: '12345678', prompt: 'hi' })).kind, 'route');
    const d = await send({ model: '123456789', prompt: 'hi' });
    assert.match(d.kind === 'reject' ? d.message : '', /over the 8-byte limit \(maxModelNameBytes\)/);
  });

  it('folds distinct model names beyond --metrics-max-label-values into "other" on every model-labelled series', async () => {
    const { metrics, send } = setup({ maxValues: 5 });
    for (let i = 0; i < 40; i++) assert.equal((await send({ model: `model-${i}`, prompt: 'hi' })).kind, 'route');
    const text = await metrics.registry.metrics();
    const models = labelValues(text, 'model_name');
    assert.deepEqual([...models].sort(), ['model-0', 'model-1', 'model-2', 'model-3', 'model-4', OTHER_LABEL_VALUE].sort());
    assert.ok(labelValues(text, 'target_model_name').size <= 6);
    assert.equal(await counter(metrics, 'inference_objective_request_total', { model_name: OTHER_LABEL_VALUE }), 35);
    assert.equal(await counter(metrics, 'inference_objective_running_requests', { model_name: OTHER_LABEL_VALUE }), 0, 'inc and dec meet on the folded series');
    assert.ok((await counter(metrics, 'tokenroute_metric_label_values_folded_total', { domain: 'model' })) >= 35);
    assert.equal(await counter(metrics, 'tokenroute_metric_label_values', { domain: 'model' }), 5);
  });
});
