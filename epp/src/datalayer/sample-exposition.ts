// Realistic /metrics pages of the supported model servers, with chosen signal values. Used by
// the data-layer benchmark and tests (and handy for a fake model server): the vLLM page has the
// shape and size of a real v1-engine page (process and GC metrics, counters with _total and
// _created, a dozen labelled histograms, LoRA and cache-config info), because scrape cost is
// dominated by the lines the scraper has to skip.

export interface ServerSignals {
  readonly waiting: number;
  readonly running: number;
  /** KV-cache usage fraction, 0–1. */
  readonly kvUsage: number;
  readonly model?: string;
  /** LoRA info series, oldest first; the value is the update time in seconds. Empty = LoRA disabled. */
  readonly lora?: readonly { readonly maxLora: number; readonly running: readonly string[]; readonly waiting: readonly string[]; readonly at: number }[];
  readonly blockSize?: number;
  readonly numBlocks?: number;
}

/** Python prometheus_client's float formatting (repr): 3.0, 0.25, 1.7e+09. */
function py(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  const s = String(v);
  return s.includes('e') ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Readonly<Record<string, string>>): string {
  return `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')}}`;
}

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];
const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

function histogram(out: string[], name: string, help: string, base: Readonly<Record<string, string>>, buckets: readonly number[], seed: number): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  let cum = 0;
  for (let i = 0; i < buckets.length; i++) {
    cum += (seed * (i + 3)) % 17;
    out.push(`${name}_bucket${labels({ ...base, le: py(buckets[i] as number) })} ${py(cum)}`);
  }
  out.push(`${name}_bucket${labels({ ...base, le: '+Inf' })} ${py(cum)}`);
  out.push(`${name}_count${labels(base)} ${py(cum)}`);
  out.push(`${name}_sum${labels(base)} ${py(cum * 0.731 + seed)}`);
  out.push(`# HELP ${name}_created ${help}`, `# TYPE ${name}_created gauge`);
  out.push(`${name}_created${labels(base)} 1.7500113324823618e+09`);
}

function counter(out: string[], name: string, help: string, series: readonly [Readonly<Record<string, string>>, number][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
  for (const [l, v] of series) out.push(`${name}_total${labels(l)} ${py(v)}`);
  for (const [l] of series) out.push(`${name}_created${labels(l)} 1.7500113324823618e+09`);
}

function gauge(out: string[], name: string, help: string, series: readonly [Readonly<Record<string, string>>, number][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const [l, v] of series) out.push(`${name}${Object.keys(l).length ? labels(l) : ''} ${py(v)}`);
}

/** A vLLM (v1 engine) /metrics page, ~45 KB. */
export function vllmMetricsPage(s: ServerSignals): string {
  const model = s.model ?? 'meta-llama/Llama-3.1-8B-Instruct';
  const base = { engine: '0', model_name: model };
  const out: string[] = [];
  counter(out, 'python_gc_objects_collected', 'Objects collected during gc', [
    [{ generation: '0' }, 13624],
    [{ generation: '1' }, 2901],
    [{ generation: '2' }, 644],
  ]);
  gauge(out, 'python_info', 'Python platform information', [[{ implementation: 'CPython', major: '3', minor: '12', patchlevel: '11', version: '3.12.11' }, 1]]);
  gauge(out, 'process_virtual_memory_bytes', 'Virtual memory size in bytes.', [[{}, 6.5538e10]]);
  gauge(out, 'process_resident_memory_bytes', 'Resident memory size in bytes.', [[{}, 1.623e9]]);
  gauge(out, 'process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', [[{}, 1750011302.55]]);
  out.push('# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.', '# TYPE process_cpu_seconds_total counter', 'process_cpu_seconds_total 2210.47');
  gauge(out, 'process_open_fds', 'Number of open file descriptors.', [[{}, 117]]);
  gauge(out, 'vllm:num_requests_running', 'Number of requests in model execution batches.', [[base, s.running]]);
  gauge(out, 'vllm:num_requests_waiting', 'Number of requests waiting to be processed.', [[base, s.waiting]]);
  gauge(out, 'vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', [[base, s.kvUsage]]);
  counter(out, 'vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.', [[base, 8813440]]);
  counter(out, 'vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', [[base, 5529216]]);
  counter(out, 'vllm:num_preemptions', 'Cumulative number of preemption from the engine.', [[base, 3]]);
  counter(out, 'vllm:prompt_tokens', 'Number of prefill tokens processed.', [[base, 9124785]]);
  counter(out, 'vllm:generation_tokens', 'Number of generation tokens processed.', [[base, 2218711]]);
  counter(
    out,
    'vllm:request_success',
    'Count of successfully processed requests.',
    ['stop', 'length', 'abort'].map((r, i) => [{ ...base, finished_reason: r }, 9000 - i * 4000] as [Record<string, string>, number]),
  );
  histogram(out, 'vllm:request_prompt_tokens', 'Number of prefill tokens processed.', base, TOKEN_BUCKETS, 3);
  histogram(out, 'vllm:request_generation_tokens', 'Number of generation tokens processed.', base, TOKEN_BUCKETS, 5);
  histogram(out, 'vllm:iteration_tokens_total', 'Histogram of number of tokens per engine_step.', base, [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384], 7);
  histogram(out, 'vllm:request_max_num_generation_tokens', 'Histogram of maximum number of requested generation tokens.', base, TOKEN_BUCKETS, 11);
  histogram(out, 'vllm:request_params_n', 'Histogram of the n request parameter.', base, [1, 2, 5, 10, 20], 2);
  histogram(out, 'vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', base, TOKEN_BUCKETS, 13);
  histogram(out, 'vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', base, LATENCY_BUCKETS, 17);
  histogram(out, 'vllm:time_per_output_token_seconds', 'Histogram of time per output token in seconds.', base, LATENCY_BUCKETS.slice(0, 18), 19);
  histogram(out, 'vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', base, LATENCY_BUCKETS.slice(0, 18), 23);
  histogram(out, 'vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', base, REQUEST_LATENCY_BUCKETS, 29);
  histogram(out, 'vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', base, REQUEST_LATENCY_BUCKETS, 31);
  histogram(out, 'vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', base, REQUEST_LATENCY_BUCKETS, 37);
  histogram(out, 'vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', base, REQUEST_LATENCY_BUCKETS, 41);
  histogram(out, 'vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', base, REQUEST_LATENCY_BUCKETS, 43);
  if (s.lora && s.lora.length > 0) {
    out.push('# HELP vllm:lora_requests_info Running stats on lora requests.', '# TYPE vllm:lora_requests_info gauge');
    for (const l of s.lora) {
      out.push(
        `vllm:lora_requests_info${labels({ max_lora: String(l.maxLora), running_lora_adapters: l.running.join(','), waiting_lora_adapters: l.waiting.join(',') })} ${py(l.at)}`,
      );
    }
  }
  out.push('# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig', '# TYPE vllm:cache_config_info gauge');
  out.push(
    `vllm:cache_config_info${labels({
      block_size: String(s.blockSize ?? 16),
      cache_dtype: 'auto',
      calculate_kv_scales: 'False',
      cpu_offload_gb: '0',
      enable_prefix_caching: 'True',
      engine: '0',
      gpu_memory_utilization: '0.9',
      is_attention_free: 'False',
      num_cpu_blocks: 'None',
      num_gpu_blocks: String(s.numBlocks ?? 27404),
      num_gpu_blocks_override: 'None',
      prefix_caching_hash_algo: 'sha256',
      sliding_window: 'None',
      swap_space: '4',
      swap_space_bytes: '4294967296',
    })} 1.0`,
  );
  return out.join('\n') + '\n';
}

/** An SGLang /metrics page (the signals plus a couple of histograms). */
export function sglangMetricsPage(s: ServerSignals): string {
  const base = { model_name: s.model ?? 'Qwen/Qwen2.5-7B-Instruct' };
  const out: string[] = [];
  gauge(out, 'sglang:num_running_reqs', 'The number of running requests.', [[base, s.running]]);
  gauge(out, 'sglang:num_used_tokens', 'The number of used tokens.', [[base, 81920]]);
  gauge(out, 'sglang:token_usage', 'The token usage.', [[base, s.kvUsage]]);
  gauge(out, 'sglang:gen_throughput', 'The generation throughput (token/s).', [[base, 1204.5]]);
  gauge(out, 'sglang:num_queue_reqs', 'The number of requests in the waiting queue.', [[base, s.waiting]]);
  gauge(out, 'sglang:cache_hit_rate', 'The prefix cache hit rate.', [[base, 0.41]]);
  out.push('# HELP sglang:cache_config_info Information of the cache config', '# TYPE sglang:cache_config_info gauge');
  out.push(`sglang:cache_config_info${labels({ ...base, page_size: String(s.blockSize ?? 1), num_pages: String(s.numBlocks ?? 520000) })} 1.0`);
  histogram(out, 'sglang:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', base, LATENCY_BUCKETS, 5);
  histogram(out, 'sglang:e2e_request_latency_seconds', 'Histogram of End-to-end request latency in seconds', base, REQUEST_LATENCY_BUCKETS, 9);
  counter(out, 'sglang:prompt_tokens', 'Number of prefill tokens processed.', [[base, 123456]]);
  return out.join('\n') + '\n';
}

/** A trtllm-serve /metrics page (numeric KV-cache shape gauges). */
export function trtllmServeMetricsPage(s: ServerSignals): string {
  const out: string[] = [];
  gauge(out, 'trtllm_num_requests_waiting', 'Number of requests waiting.', [[{}, s.waiting]]);
  gauge(out, 'trtllm_num_requests_running', 'Number of requests running.', [[{}, s.running]]);
  gauge(out, 'trtllm_kv_cache_utilization', 'KV cache utilization.', [[{}, s.kvUsage]]);
  gauge(out, 'trtllm_kv_cache_tokens_per_block', 'Tokens per KV cache block.', [[{}, s.blockSize ?? 32]]);
  gauge(out, 'trtllm_kv_cache_max_blocks', 'Max KV cache blocks.', [[{}, s.numBlocks ?? 8192]]);
  histogram(out, 'trtllm_e2e_request_latency_seconds', 'End-to-end request latency.', {}, REQUEST_LATENCY_BUCKETS, 3);
  return out.join('\n') + '\n';
}

/** A Triton (TensorRT-LLM backend) /metrics page: one family per signal kind, told apart by labels. */
export function tritonTrtLlmMetricsPage(s: ServerSignals): string {
  const m = { model: 'tensorrt_llm', version: '1' };
  const out: string[] = [];
  gauge(out, 'nv_trt_llm_request_metrics', 'TRT LLM request metrics', [
    [{ ...m, request_type: 'context' }, 1],
    [{ ...m, request_type: 'scheduled' }, s.running],
    [{ ...m, request_type: 'max' }, 256],
    [{ ...m, request_type: 'active' }, s.running + s.waiting],
    [{ ...m, request_type: 'waiting' }, s.waiting],
  ]);
  gauge(out, 'nv_trt_llm_kv_cache_block_metrics', 'TRT LLM KV cache block metrics', [
    [{ ...m, kv_cache_block_type: 'tokens_per' }, s.blockSize ?? 64],
    [{ ...m, kv_cache_block_type: 'used' }, 1200],
    [{ ...m, kv_cache_block_type: 'free' }, 2800],
    [{ ...m, kv_cache_block_type: 'max' }, s.numBlocks ?? 4000],
    [{ ...m, kv_cache_block_type: 'fraction' }, s.kvUsage],
  ]);
  gauge(out, 'nv_inference_pending_request_count', 'Instantaneous number of pending requests awaiting execution per-model.', [[m, s.waiting]]);
  return out.join('\n') + '\n';
}
