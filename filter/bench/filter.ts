// Benchmark of the whole proxy-wasm filter as Envoy would run it, through the Node host: module
// load + configure time, per-request time for 4 KB / 32 KB / 200 KB chat prompts (p50/p99 of the
// whole request through the host, and of the filter's own tokenroute_filter_time_us metric), and
// the linear memory of each worker VM.
//
//   node dist/filter/bench/filter.js [--wasm filter/build/filter.wasm] [--model qwen3|llama3_1|deepseek_v3]
//                                    [--workers 2] [--json]
// Prompts are consecutive windows of English prose (this repository's docs and the READMEs of the
// installed npm packages, code blocks removed; about 1 MB), sent as /v1/chat/completions
// bodies in 16 KiB data frames, with allow_on_headers_stop_iteration and a 1 MiB buffer limit.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProxyWasmHost, defaultFilterWasmPath } from '../host/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const MODELS: Record<string, string> = { qwen3: 'Qwen/Qwen3-8B', llama3_1: 'meta-llama/Llama-3.1-8B-Instruct', deepseek_v3: 'deepseek-ai/DeepSeek-V3' };
const tokenizer = opt('--model', 'qwen3');
const model = MODELS[tokenizer];
if (!model) throw new Error(`--model: one of ${Object.keys(MODELS).join(', ')}`);
const workers = Number(opt('--workers', '2'));
const wasmPath = opt('--wasm', defaultFilterWasmPath());

function repoRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); dirname(d) !== d; d = dirname(d)) {
    try {
      if ((JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === 'tokenroute') return d;
    } catch {
      // not here
    }
  }
  throw new Error('repository root not found');
}

/** Markdown prose: this repository's docs and the READMEs of installed packages, code blocks removed. */
function corpus(): string {
  const root = repoRoot();
  const files: string[] = [];
  const docs = join(root, 'docs');
  for (const f of readdirSync(docs).sort()) if (f.endsWith('.md')) files.push(join(docs, f));
  const nm = join(root, 'node_modules');
  for (const d of readdirSync(nm).sort()) {
    const pkgs = d.startsWith('@') ? readdirSync(join(nm, d)).sort().map((p) => join(nm, d, p)) : [join(nm, d)];
    for (const p of pkgs) {
      for (const name of ['README.md', 'readme.md', 'Readme.md']) {
        try {
          files.push(join(p, name));
          readFileSync(join(p, name));
          break;
        } catch {
          files.pop();
        }
      }
    }
  }
  return files.map((f) => readFileSync(f, 'utf8').replace(/```[\s\S]*?```/g, '')).join('\n\n');
}

/** text[start, end) without splitting a surrogate pair (a lone half is not valid in a JSON body). */
function sliceWhole(text: string, start: number, end: number): string {
  const low = (i: number) => (text.charCodeAt(i) & 0xfc00) === 0xdc00;
  if (low(start)) start++;
  if (low(end)) end--;
  return text.slice(start, end);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function frames(body: string, size = 16 * 1024): Uint8Array[] {
  const bytes = Buffer.from(body, 'utf8');
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const wasm = new Uint8Array(readFileSync(wasmPath));
const pluginConfig = JSON.stringify({ models: { [model]: { tokenizer } }, hmacKey: Buffer.alloc(32, 1).toString('base64') });

const t0 = performance.now();
await WebAssembly.compile(wasm);
const compileMs = performance.now() - t0;
const host = await ProxyWasmHost.create({ wasm, pluginConfig, workers, allowOnHeadersStopIteration: true, bufferLimitBytes: 1 << 20 });
const loadMs = host.loadTimeMs;
const memoryAfterLoad = host.workers.map((w) => w.memoryBytes);

const text = corpus();
const sizes: [string, number, number][] = [
  ['4 KB', 4 * 1024, 400],
  ['32 KB', 32 * 1024, 120],
  ['200 KB', 200 * 1024, 30],
];
const rows: Record<string, unknown>[] = [];
for (const [label, bytes, iterations] of sizes) {
  const samples: number[] = [];
  const filterUs: number[] = [];
  let tokens = 0;
  for (let i = -5; i < iterations; i++) {
    // Consecutive windows of the corpus (wrapping around): a different prompt each time.
    const start = ((i + 5) * bytes) % (text.length - bytes);
    const prompt = sliceWhole(text, start, start + bytes);
    const body = JSON.stringify({ model, messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: prompt }] });
    const before = host.metrics()['wasmcustom.tokenroute_filter_time_us']?.samples?.length ?? 0;
    const s = performance.now();
    const r = host.runRequestSync({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: frames(body) });
    const ms = performance.now() - s;
    if (r.action !== 'continue' || r.addedHeaders.some(([k]) => k === 'x-tokenroute-error')) throw new Error(`request failed: ${JSON.stringify(r.addedHeaders)} ${r.trap ?? ''}`);
    if (i < 0) continue; // warm-up
    samples.push(ms);
    const hist = host.metrics()['wasmcustom.tokenroute_filter_time_us'].samples ?? [];
    filterUs.push(...hist.slice(before));
    tokens += Number(r.addedHeaders.find(([k]) => k === 'x-tokenroute-tokens')?.[1] ?? 0);
  }
  samples.sort((a, b) => a - b);
  filterUs.sort((a, b) => a - b);
  rows.push({
    prompt: label,
    requests: iterations,
    avgTokens: Math.round(tokens / iterations),
    p50ms: +percentile(samples, 50).toFixed(3),
    p99ms: +percentile(samples, 99).toFixed(3),
    filterP50ms: +(percentile(filterUs, 50) / 1000).toFixed(3),
    filterP99ms: +(percentile(filterUs, 99) / 1000).toFixed(3),
    mbPerSec: +((bytes / 1e6) / (percentile(samples, 50) / 1000)).toFixed(2),
  });
}

const result = {
  node: process.version,
  model,
  wasmBytes: wasm.length,
  workers,
  compileMs: +compileMs.toFixed(1),
  loadAndConfigureMs: +loadMs.toFixed(1),
  baseVmMemoryMiB: +(host.baseMemoryBytes / 1048576).toFixed(1),
  workerMemoryMiBAfterLoad: memoryAfterLoad.map((b) => +(b / 1048576).toFixed(1)),
  workerMemoryMiBAfterBench: host.workers.map((w) => +(w.memoryBytes / 1048576).toFixed(1)),
  requests: rows,
};
if (args.includes('--json')) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  console.log(`filter ${wasmPath} (${(wasm.length / 1048576).toFixed(2)} MiB), ${model}, ${workers} workers, node ${process.version}`);
  console.log(`compile ${result.compileMs} ms; load + start + configure (base, canary, ${workers} workers) ${result.loadAndConfigureMs} ms`);
  console.log(`VM memory: base ${result.baseVmMemoryMiB} MiB; per worker after configure ${result.workerMemoryMiBAfterLoad.join(', ')} MiB, after the run ${result.workerMemoryMiBAfterBench.join(', ')} MiB`);
  console.table(rows);
}
