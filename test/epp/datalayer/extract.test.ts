// Unit tests of signal extraction from parsed pages of each engine, including GIE's series
// choice rules, disabled specs, missing and malformed values.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { BUILTIN_ENGINE_CONFIGS, compileEngine, type EngineConfig } from '../../../epp/src/datalayer/engines.js';
import { parseExposition } from '../../../epp/src/datalayer/exposition.js';
import { extractMetrics, FIELD } from '../../../epp/src/datalayer/extract.js';
import { sglangMetricsPage, trtllmServeMetricsPage, tritonTrtLlmMetricsPage, vllmMetricsPage } from '../../fixtures/sample-exposition.js';

const cfg = (name: string): EngineConfig => BUILTIN_ENGINE_CONFIGS.find((e) => e.name === name) as EngineConfig;
const run = (page: string, c: EngineConfig) => {
  const m = compileEngine(c);
  return extractMetrics(parseExposition(page, m.filter), m);
};
const ALL = FIELD.waiting | FIELD.running | FIELD.kvUsage | FIELD.loraAdapters | FIELD.maxLoras | FIELD.cacheBlockSize | FIELD.cacheNumBlocks;

test('vLLM: queue, running, KV, LoRA and cache config', () => {
  const x = run(
    vllmMetricsPage({
      waiting: 4,
      running: 9,
      kvUsage: 0.42,
      lora: [{ maxLora: 3, running: ['sql-lora', 'tweet-lora'], waiting: ['chat-lora'], at: 1750011400.5 }],
      blockSize: 32,
      numBlocks: 1234,
    }),
    cfg('vllm'),
  );
  assert.equal(x.mask, ALL);
  assert.equal(x.waiting, 4);
  assert.equal(x.running, 9);
  assert.equal(x.kvUsage, 0.42);
  assert.deepEqual(x.activeLoras, ['sql-lora', 'tweet-lora']);
  assert.deepEqual(x.waitingLoras, ['chat-lora']);
  assert.equal(x.maxLoras, 3);
  assert.equal(x.cacheBlockSize, 32);
  assert.equal(x.cacheNumBlocks, 1234);
  assert.deepEqual([x.missing, x.invalid, x.absentOptional], [[], [], []]);
});

test('vLLM LoRA info: the series with the latest value (update time) wins, wherever it is', () => {
  const x = run(
    vllmMetricsPage({
      waiting: 0,
      running: 0,
      kvUsage: 0,
      lora: [
        { maxLora: 2, running: ['old'], waiting: [], at: 1750011300 },
        { maxLora: 2, running: ['newest'], waiting: ['w1', ' w2 ', ''], at: 1750011500 },
        { maxLora: 2, running: ['middle'], waiting: [], at: 1750011400 },
      ],
    }),
    cfg('vllm'),
  );
  assert.deepEqual(x.activeLoras, ['newest']);
  assert.deepEqual(x.waitingLoras, ['w1', 'w2']);
});

test('vLLM without LoRA: adapters are simply absent (optional), not an error', () => {
  const x = run(vllmMetricsPage({ waiting: 1, running: 2, kvUsage: 0.1 }), cfg('vllm'));
  assert.equal(x.mask & FIELD.loraAdapters, 0);
  assert.deepEqual(x.absentOptional, ['loraSpec']);
  assert.deepEqual(x.missing, []);
});

test('SGLang: its names, and page_size/num_pages as the cache labels', () => {
  const x = run(sglangMetricsPage({ waiting: 6, running: 11, kvUsage: 0.8, blockSize: 1, numBlocks: 600000 }), cfg('sglang'));
  assert.deepEqual([x.waiting, x.running, x.kvUsage, x.cacheBlockSize, x.cacheNumBlocks], [6, 11, 0.8, 1, 600000]);
  assert.equal(x.mask & FIELD.loraAdapters, 0, 'SGLang has no LoRA spec');
  assert.deepEqual(x.absentOptional, []);
});

test('trtllm-serve: cache shape from numeric gauges', () => {
  const x = run(trtllmServeMetricsPage({ waiting: 2, running: 5, kvUsage: 0.33, blockSize: 64, numBlocks: 9000 }), cfg('trtllm-serve'));
  assert.deepEqual([x.waiting, x.running, x.kvUsage, x.cacheBlockSize, x.cacheNumBlocks], [2, 5, 0.33, 64, 9000]);
});

test('Triton TRT-LLM: one family per kind, told apart by label matchers', () => {
  const x = run(tritonTrtLlmMetricsPage({ waiting: 3, running: 8, kvUsage: 0.3, blockSize: 128, numBlocks: 5000 }), cfg('triton-tensorrt-llm'));
  assert.deepEqual([x.waiting, x.running, x.kvUsage, x.cacheBlockSize, x.cacheNumBlocks], [3, 8, 0.3, 128, 5000]);
});

test('several matching series and no timestamps: the first wins; a newer timestamp wins', () => {
  const c: EngineConfig = { ...cfg('vllm'), loraSpec: '', cacheInfoSpec: '' };
  const page = 'vllm:num_requests_waiting{engine="0"} 3\nvllm:num_requests_waiting{engine="1"} 5\nvllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.5\n';
  assert.equal(run(page, c).waiting, 3);
  const stamped = 'vllm:num_requests_waiting{engine="0"} 3 1000\nvllm:num_requests_waiting{engine="1"} 5 2000\nvllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.5\n';
  assert.equal(run(stamped, c).waiting, 5);
  assert.equal(run(page, { ...c, queuedRequestsSpec: 'vllm:num_requests_waiting{engine=~"1|2"}' }).waiting, 5);
});

test('disabled specs produce no field; missing required series are reported', () => {
  const c: EngineConfig = { ...cfg('vllm'), kvUsageSpec: '' };
  const x = run('vllm:num_requests_running 2\n', c);
  assert.equal(x.mask, FIELD.running);
  assert.deepEqual(x.missing, ['queuedRequestsSpec']);
  assert.deepEqual(x.absentOptional, ['loraSpec', 'cacheInfoSpec']);
});

test('a page without any wanted series yields an empty mask and every required spec missing', () => {
  const x = run('<html>oops</html>\n', cfg('vllm'));
  assert.equal(x.mask, 0);
  assert.deepEqual(x.missing, ['queuedRequestsSpec', 'runningRequestsSpec', 'kvUsageSpec']);
});

test('unusable values are reported and their fields skipped; others still extract', () => {
  const c: EngineConfig = { ...cfg('vllm'), cacheInfoSpec: '' };
  const x = run(
    'vllm:num_requests_waiting NaN\nvllm:num_requests_running 2.9\nvllm:kv_cache_usage_perc 1.7\nvllm:lora_requests_info{max_lora="many",running_lora_adapters="a"} 1\n',
    c,
  );
  assert.deepEqual(x.invalid, ['queuedRequestsSpec', 'loraSpec']);
  assert.equal(x.running, 2, 'counts are truncated to integers');
  assert.equal(x.kvUsage, 1, 'KV usage is clamped to [0, 1]');
  assert.deepEqual(x.activeLoras, ['a']);
  assert.equal(x.mask & FIELD.maxLoras, 0);
  assert.equal(x.mask & FIELD.waiting, 0);
});

test('cache info: "None" means not reported; garbage is invalid', () => {
  const c: EngineConfig = { ...cfg('vllm'), loraSpec: '' };
  const base = 'vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n';
  const none = run(base + 'vllm:cache_config_info{block_size="16",num_gpu_blocks="None"} 1\n', c);
  assert.equal(none.cacheBlockSize, 16);
  assert.equal(none.mask & FIELD.cacheNumBlocks, 0);
  assert.deepEqual(none.invalid, []);
  const bad = run(base + 'vllm:cache_config_info{block_size="sixteen",num_gpu_blocks="7"} 1\n', c);
  assert.deepEqual(bad.invalid, ['cacheInfoSpec']);
  assert.equal(bad.cacheNumBlocks, 7);
  const custom = run(base + 'vllm:cache_config_info{bs="8",nb="70"} 1\n', { ...c, cacheBlockSizeLabelName: 'bs', cacheNumBlocksLabelName: 'nb' });
  assert.deepEqual([custom.cacheBlockSize, custom.cacheNumBlocks], [8, 70]);
});
