// Unit tests of the per-engine metric specs: GIE's built-in defaults, compilation, overrides and
// how an endpoint's engine is chosen.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  BUILTIN_ENGINE_CONFIGS,
  compileEngine,
  DEFAULT_ENGINE_LABEL_KEY,
  DEFAULT_ENGINE_SELECTION,
  EngineConfigError,
  engineFor,
  mergeEngineConfigs,
  type EngineConfig,
} from '../../../epp/src/datalayer/engines.js';
import type { Endpoint } from '../../../epp/src/framework/endpoint.js';

const builtin = (name: string): EngineConfig => {
  const c = BUILTIN_ENGINE_CONFIGS.find((e) => e.name === name);
  assert.ok(c, name);
  return c;
};

test('built-in engines carry the GIE default metric names', () => {
  assert.deepEqual(
    BUILTIN_ENGINE_CONFIGS.map((e) => e.name),
    ['vllm', 'sglang', 'trtllm-serve', 'triton-tensorrt-llm'],
  );
  const v = builtin('vllm');
  assert.equal(v.queuedRequestsSpec, 'vllm:num_requests_waiting');
  assert.equal(v.runningRequestsSpec, 'vllm:num_requests_running');
  assert.equal(v.kvUsageSpec, 'vllm:kv_cache_usage_perc');
  assert.equal(v.loraSpec, 'vllm:lora_requests_info');
  assert.equal(v.cacheInfoSpec, 'vllm:cache_config_info');
  const s = builtin('sglang');
  assert.equal(s.queuedRequestsSpec, 'sglang:num_queue_reqs');
  assert.equal(s.runningRequestsSpec, 'sglang:num_running_reqs');
  assert.equal(s.kvUsageSpec, 'sglang:token_usage');
  assert.equal(s.loraSpec, '');
  assert.equal(s.cacheInfoSpec, 'sglang:cache_config_info');
  assert.equal(s.cacheBlockSizeLabelName, 'page_size');
  assert.equal(s.cacheNumBlocksLabelName, 'num_pages');
  const t = builtin('trtllm-serve');
  assert.equal(t.queuedRequestsSpec, 'trtllm_num_requests_waiting');
  assert.equal(t.runningRequestsSpec, 'trtllm_num_requests_running');
  assert.equal(t.kvUsageSpec, 'trtllm_kv_cache_utilization');
  assert.equal(t.cacheBlockSizeSpec, 'trtllm_kv_cache_tokens_per_block');
  assert.equal(t.cacheNumBlocksSpec, 'trtllm_kv_cache_max_blocks');
  const tr = compileEngine(builtin('triton-tensorrt-llm'));
  assert.equal(tr.queued?.metric, 'nv_trt_llm_request_metrics');
  assert.deepEqual(tr.queued?.matchers.map((m) => [m.name, m.value]), [['request_type', 'waiting']]);
  assert.deepEqual(tr.running?.matchers.map((m) => m.value), ['scheduled']);
  assert.equal(tr.kvUsage?.metric, 'nv_trt_llm_kv_cache_block_metrics');
  assert.deepEqual(tr.kvUsage?.matchers.map((m) => [m.name, m.value]), [['kv_cache_block_type', 'fraction']]);
  assert.deepEqual(tr.cacheBlockSize?.matchers.map((m) => m.value), ['tokens_per']);
  assert.deepEqual(tr.cacheNumBlocks?.matchers.map((m) => m.value), ['max']);
});

test('every built-in compiles; the filter covers exactly the referenced series', () => {
  for (const c of BUILTIN_ENGINE_CONFIGS) compileEngine(c);
  assert.deepEqual(
    [...compileEngine(builtin('vllm')).filter.names].sort(),
    ['vllm:cache_config_info', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info', 'vllm:num_requests_running', 'vllm:num_requests_waiting'],
  );
  assert.deepEqual([...compileEngine(builtin('triton-tensorrt-llm')).filter.names].sort(), ['nv_trt_llm_kv_cache_block_metrics', 'nv_trt_llm_request_metrics']);
});

test('empty specs are disabled and cache label names default to vLLM\'s', () => {
  const m = compileEngine({ ...builtin('vllm'), kvUsageSpec: '', loraSpec: '  ', cacheBlockSizeLabelName: '', cacheNumBlocksLabelName: '' });
  assert.equal(m.kvUsage, undefined);
  assert.equal(m.lora, undefined);
  assert.ok(m.queued);
  assert.equal(m.cacheBlockSizeLabel, 'block_size');
  assert.equal(m.cacheNumBlocksLabel, 'num_gpu_blocks');
  assert.ok(!m.filter.names.has('vllm:kv_cache_usage_perc'));
});

test('a bad spec names the engine and the field', () => {
  assert.throws(
    () => compileEngine({ ...builtin('sglang'), runningRequestsSpec: 'sglang:num_running_reqs{' }),
    (e: unknown) => e instanceof EngineConfigError && e.field === 'runningRequestsSpec' && e.engine === 'sglang' && /runningRequestsSpec/.test(e.message),
  );
});

test('configured engines replace built-ins of the same name and add new ones', () => {
  const mine: EngineConfig = { ...builtin('sglang'), kvUsageSpec: 'sglang:other' };
  const extra: EngineConfig = { ...builtin('vllm'), name: 'my-engine' };
  const merged = mergeEngineConfigs([mine, extra]);
  assert.deepEqual(
    merged.map((e) => e.name),
    ['sglang', 'my-engine', 'vllm', 'trtllm-serve', 'triton-tensorrt-llm'],
  );
  assert.equal(merged.find((e) => e.name === 'sglang')?.kvUsageSpec, 'sglang:other');
});

test('engine choice: extractor label key, then Endpoint.engine, then the default; unknown falls back', () => {
  const ep = (engine: string, labels: Record<string, string> = {}): Endpoint => ({
    key: '10.0.0.1:8000',
    address: '10.0.0.1',
    port: 8000,
    podName: 'p',
    namespace: 'ns',
    labels,
    engine,
  });
  const sel = DEFAULT_ENGINE_SELECTION;
  assert.deepEqual(engineFor(ep(''), sel), { name: 'vllm', known: true, requested: 'vllm' });
  assert.deepEqual(engineFor(ep('sglang'), sel), { name: 'sglang', known: true, requested: 'sglang' });
  assert.equal(engineFor(ep('vllm', { [DEFAULT_ENGINE_LABEL_KEY]: 'trtllm-serve' }), sel).name, 'trtllm-serve');
  const custom = { ...sel, engineLabelKey: 'example.com/server' };
  assert.equal(engineFor(ep('vllm', { 'example.com/server': 'sglang' }), custom).name, 'sglang');
  assert.deepEqual(engineFor(ep('mystery'), sel), { name: 'vllm', known: false, requested: 'mystery' });
  assert.equal(engineFor(ep(''), { ...sel, defaultEngine: 'sglang' }).name, 'sglang');
});
