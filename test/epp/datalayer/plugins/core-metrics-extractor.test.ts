// Unit tests of the core-metrics-extractor plugin type: defaults, engineConfigs replacement,
// empty-string disable, and config errors that name the offending field.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { coreMetricsExtractor, isCoreMetricsExtractor } from '../../../../epp/src/datalayer/plugins/core-metrics-extractor.js';
import { Datastore } from '../../../../epp/src/datastore/datastore.js';
import { silentLogger } from '../../../../epp/src/observability/logger.js';

const ctx = { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now };
const create = (params: unknown) => {
  const plugin = coreMetricsExtractor.create('ext', coreMetricsExtractor.parameters.parse(params ?? {}), ctx);
  assert.ok(isCoreMetricsExtractor(plugin));
  return plugin;
};
const issues = (params: unknown) => {
  const r = coreMetricsExtractor.parameters.safeParse(params);
  assert.ok(!r.success, `expected ${JSON.stringify(params)} to be rejected`);
  return r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

test('defaults: GIE label key, vllm default engine, the four built-in engines', () => {
  const p = create(undefined);
  assert.equal(p.type, 'core-metrics-extractor');
  assert.equal(p.selection.engineLabelKey, 'inference.networking.k8s.io/engine-type');
  assert.equal(p.selection.defaultEngine, 'vllm');
  assert.deepEqual(
    p.selection.engines.map((e) => e.name),
    ['vllm', 'sglang', 'trtllm-serve', 'triton-tensorrt-llm'],
  );
});

test('empty engineLabelKey/defaultEngine mean the defaults, as in GIE', () => {
  const p = create({ engineLabelKey: '', defaultEngine: '' });
  assert.equal(p.selection.engineLabelKey, 'inference.networking.k8s.io/engine-type');
  assert.equal(p.selection.defaultEngine, 'vllm');
});

test('an engineConfigs entry replaces the built-in whole: omitted and empty specs are disabled', () => {
  const p = create({ engineConfigs: [{ name: 'vllm', queuedRequestsSpec: 'vllm:num_requests_waiting{engine="0"}', kvUsageSpec: '' }] });
  const v = p.selection.engines.find((e) => e.name === 'vllm');
  assert.deepEqual(v, {
    name: 'vllm',
    queuedRequestsSpec: 'vllm:num_requests_waiting{engine="0"}',
    runningRequestsSpec: '',
    kvUsageSpec: '',
    loraSpec: '',
    cacheInfoSpec: '',
    cacheBlockSizeLabelName: '',
    cacheNumBlocksLabelName: '',
    cacheBlockSizeSpec: '',
    cacheNumBlocksSpec: '',
  });
  assert.equal(p.selection.engines.find((e) => e.name === 'sglang')?.queuedRequestsSpec, 'sglang:num_queue_reqs', 'other built-ins stay');
});

test('a new engine can be added and made the default', () => {
  const p = create({ defaultEngine: 'mine', engineConfigs: [{ name: 'mine', queuedRequestsSpec: 'q', runningRequestsSpec: 'r', kvUsageSpec: 'k' }] });
  assert.equal(p.selection.defaultEngine, 'mine');
  assert.equal(p.selection.engines[0]?.name, 'mine');
});

test('an invalid selector is a config error naming the field', () => {
  const got = issues({ engineConfigs: [{ name: 'sglang' }, { name: 'vllm', kvUsageSpec: 'vllm:kv{engine=~"("}' }] });
  assert.equal(got.length, 1);
  assert.equal(got[0]?.path, 'engineConfigs.1.kvUsageSpec');
  assert.match(got[0]?.message ?? '', /bad regular expression/);
  assert.equal(issues({ engineConfigs: [{ name: 'x', cacheNumBlocksSpec: 'a b' }] })[0]?.path, 'engineConfigs.0.cacheNumBlocksSpec');
});

test('other config errors: unknown default engine, duplicate names, bad label names, unknown keys', () => {
  assert.deepEqual(
    issues({ defaultEngine: 'tgi' }).map((i) => i.path),
    ['defaultEngine'],
  );
  assert.deepEqual(
    issues({ engineConfigs: [{ name: 'a' }, { name: 'a' }] }).map((i) => i.path),
    ['engineConfigs.1.name'],
  );
  assert.deepEqual(
    issues({ engineConfigs: [{ name: 'a', cacheBlockSizeLabelName: 'block-size' }] }).map((i) => i.path),
    ['engineConfigs.0.cacheBlockSizeLabelName'],
  );
  assert.deepEqual(
    issues({ engineConfigs: [{ name: '' }] }).map((i) => i.path),
    ['engineConfigs.0.name'],
  );
  assert.ok(issues({ engineConfigs: [{ name: 'a', queueSpec: 'x' }] }).some((i) => i.path === 'engineConfigs.0'));
});
