// `tokenroute render --port 8082 --model Qwen/Qwen3-0.6B=qwen3 ...`: serves the vLLM-compatible
// render / tokenize endpoint (render/server.ts) until SIGINT/SIGTERM — a GPU-less stand-in for
// `vllm launch render` that tokenizes exactly as tokenroute's filter and EPP (for
// llm-d-inference-sim's --render-url, llm-d's token-producer `vllm.http`).
import { Command, InvalidArgumentError } from 'commander';
import { defaultTemplate, type ModelBinding } from '../prefix/keys/request-keys.js';
import { startRenderServer } from './server.js';

const TOKENIZERS = new Set(['qwen3', 'qwen2_5', 'llama3_1', 'deepseek_v3']);

/** `name=tokenizer[:template]` → a model binding. */
export function parseModelFlag(value: string, previous: Map<string, ModelBinding> = new Map()): Map<string, ModelBinding> {
  const eq = value.lastIndexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected <served model name>=<tokenizer>[:<template>], got ${JSON.stringify(value)}`);
  const [tokenizer, template] = value.slice(eq + 1).split(':');
  if (!TOKENIZERS.has(tokenizer)) throw new InvalidArgumentError(`tokenizer ${JSON.stringify(tokenizer)} is not one of ${[...TOKENIZERS].join(', ')}`);
  previous.set(value.slice(0, eq), { tokenizer, template: template || defaultTemplate(tokenizer) });
  return previous;
}

export function renderCommand(): Command {
  return new Command('render')
    .description("Serve vLLM's /v1/completions/render, /v1/chat/completions/render and /tokenize with tokenroute's tokenizer")
    .option('--port <port>', 'listen port', (v) => Number(v), 8082)
    .option('--host <addr>', 'listen address', '0.0.0.0')
    .requiredOption('--model <name=tokenizer[:template]>', 'a served model and its tokenizer (repeatable)', parseModelFlag, new Map<string, ModelBinding>())
    .option('--workers <n>', 'tokenizer worker threads', (v) => Number(v), 1)
    .option('--max-model-len <n>', 'reported by /tokenize', (v) => Number(v), 0)
    .action(async (flags: { port: number; host: string; model: Map<string, ModelBinding>; workers: number; maxModelLen: number }) => {
      const server = await startRenderServer({ port: flags.port, host: flags.host, models: flags.model, workers: flags.workers, maxModelLen: flags.maxModelLen });
      process.stderr.write(`tokenroute render: serving ${[...flags.model.keys()].join(', ')} on ${flags.host}:${server.port}\n`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
