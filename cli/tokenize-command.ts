// `tokenroute tokenize --model M [--file F]`: the token ids of raw text (stdin or a file) as a JSON
// array, no special tokens added — the same tokenizer the filter runs in Envoy (the standalone core
// wasm, filter/core/tokenroute-core.ts). M is a tokenizer name or alias (qwen3, qwen2_5, llama3_1,
// deepseek_v3, ...) or a model name from a filter configuration given with --config.
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { TokenrouteCore } from '../filter/core/tokenroute-core.js';

/** The tokenizer a model name maps to: the filter config's entry first, then the core's aliases. */
export function resolveTokenizer(core: TokenrouteCore, model: string, configText?: string): string {
  if (configText !== undefined) {
    let cfg: { models?: Record<string, { tokenizer?: unknown }> };
    try {
      cfg = JSON.parse(configText) as typeof cfg;
    } catch {
      throw new InvalidArgumentError('--config: not valid JSON');
    }
    const entry = cfg.models?.[model];
    if (entry && typeof entry.tokenizer === 'string') {
      const t = core.canonicalModel(entry.tokenizer);
      if (t === null) throw new InvalidArgumentError(`--config: models.${model}.tokenizer "${entry.tokenizer}" is not an embedded tokenizer`);
      return t;
    }
  }
  const t = core.canonicalModel(model);
  if (t === null) {
    throw new InvalidArgumentError(`unknown model "${model}": use a tokenizer name (${core.models().join(', ')}) or a model of --config`);
  }
  return t;
}

export function tokenizeCommand(): Command {
  return new Command('tokenize')
    .description('Print the token ids of raw text as a JSON array (no special tokens added), as the filter tokenizes')
    .requiredOption('--model <name>', 'tokenizer name (qwen3, qwen2_5, llama3_1, deepseek_v3) or a model name of --config')
    .option('--file <path>', 'read the text from this file (default: stdin)')
    .option('--config <file>', 'filter plugin configuration mapping model names to tokenizers')
    .option('--core <file>', 'tokenizer core wasm (default: filter/build/tokenroute-core.wasm or $TOKENROUTE_CORE_WASM)')
    .action((flags: Record<string, unknown>) => {
      const core = flags.core ? TokenrouteCore.load(String(flags.core)) : TokenrouteCore.load();
      const tokenizer = resolveTokenizer(core, String(flags.model), flags.config ? readFileSync(String(flags.config), 'utf8') : undefined);
      const bytes = readFileSync(flags.file ? String(flags.file) : 0);
      const ids = core.tokenizeUtf8(tokenizer, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      process.stdout.write(`${JSON.stringify(Array.from(ids))}\n`);
    });
}
