// Fake model servers for the EPP benchmarks: one process answering GET /metrics on many loopback
// addresses (one port), each scrape a fresh vLLM-shaped page — the gauges the EPPs read (queue,
// running, KV-cache use, cache config, LoRA info) with changing values, among the counters and
// histograms a real vLLM v0.11 page carries (~11 KB), so scrape cost is measured on a realistic
// page, not a five-line one. Run as its own process (`node metrics-farm.js --hosts a,b --port P`;
// prints {"ready":true,"port":P} when listening) so the benchmark's load generator, which may hold
// the caller's event loop, never stalls a scrape.
import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const HISTOGRAMS: [string, number[]][] = [
  ['vllm:time_to_first_token_seconds', [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560]],
  ['vllm:inter_token_latency_seconds', [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]],
  ['vllm:e2e_request_latency_seconds', [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]],
  ['vllm:request_prompt_tokens', [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 131072]],
  ['vllm:request_generation_tokens', [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 131072]],
  ['vllm:request_queue_time_seconds', [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]],
];

/** One scrape's page; `tick` moves every value, as a busy server's would. */
export function vllmPage(tick: number, rand: () => number): string {
  const m = `model_name="${MODEL}"`;
  const lines: string[] = [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.', '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{engine="0",${m}} ${Math.floor(rand() * 32)}`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.', '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{engine="0",${m}} ${Math.floor(rand() * 10)}`,
    '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.', '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc{engine="0",${m}} ${rand().toFixed(4)}`,
    '# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig', '# TYPE vllm:cache_config_info gauge',
    `vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="True",engine="0",gpu_memory_utilization="0.9",num_gpu_blocks="65536",prefix_caching_hash_algo="sha256"} 1.0`,
    '# HELP vllm:lora_requests_info Running stats on lora requests.', '# TYPE vllm:lora_requests_info gauge',
    `vllm:lora_requests_info{max_lora="4",running_lora_adapters="",waiting_lora_adapters=""} ${(1_700_000_000 + tick).toFixed(1)}`,
  ];
  for (const name of ['prompt_tokens', 'generation_tokens', 'request_success', 'num_preemptions', 'prefix_cache_queries', 'prefix_cache_hits']) {
    lines.push(`# HELP vllm:${name}_total Counter of ${name.replaceAll('_', ' ')}.`, `# TYPE vllm:${name}_total counter`, `vllm:${name}_total{engine="0",${m}} ${(tick * 137 + Math.floor(rand() * 100)).toFixed(1)}`);
  }
  for (const [name, buckets] of HISTOGRAMS) {
    lines.push(`# HELP ${name} Histogram of ${name.slice(5).replaceAll('_', ' ')}.`, `# TYPE ${name} histogram`);
    let cumulative = 0;
    for (const le of buckets) {
      cumulative += Math.floor(rand() * 3);
      lines.push(`${name}_bucket{engine="0",le="${le.toFixed(1)}",${m}} ${(tick + cumulative).toFixed(1)}`);
    }
    lines.push(`${name}_bucket{engine="0",le="+Inf",${m}} ${(tick + cumulative).toFixed(1)}`, `${name}_count{engine="0",${m}} ${(tick + cumulative).toFixed(1)}`, `${name}_sum{engine="0",${m}} ${(tick * 0.37).toFixed(3)}`);
  }
  for (const name of ['python_gc_objects_collected_total', 'process_virtual_memory_bytes', 'process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_open_fds']) {
    lines.push(`# HELP ${name} ${name}.`, `# TYPE ${name} gauge`, `${name} ${(tick * 11).toFixed(1)}`);
  }
  return lines.join('\n') + '\n';
}

/** Serves every host on `port` (0: the first host's ephemeral port, reused for the rest). */
export async function startMetricsFarm(hosts: readonly string[], port: number): Promise<{ port: number; scrapes: () => number; close: () => void }> {
  let state = 0x9e3779b9;
  const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  let tick = 0;
  const servers: Server[] = [];
  for (const host of hosts) {
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/metrics')) res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(vllmPage(tick++, rand));
      else res.writeHead(200).end('ok');
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    port = (server.address() as { port: number }).port;
    servers.push(server);
  }
  return { port, scrapes: () => tick, close: () => servers.forEach((s) => s.close()) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { hosts: { type: 'string' }, port: { type: 'string', default: '0' } } });
  const farm = await startMetricsFarm(values.hosts!.split(','), Number(values.port));
  console.log(JSON.stringify({ ready: true, port: farm.port }));
  process.on('SIGTERM', () => process.exit(0));
  // Scrapes served, on request (the benchmark reads the scrape rate of each EPP).
  process.stdin.on('data', () => console.log(JSON.stringify({ scrapes: farm.scrapes() })));
}
