/**
 * TokenrouteCore: the standalone tokenroute wasm (filter/build/tokenroute-core.wasm, built by
 * `node filter/tools/build-core.mjs`) loaded once with @assemblyscript/loader. The EPP, the render endpoint and the
 * CLI use it so that tokenization, chat rendering and block keys are byte-for-byte those of the Envoy filter.
 *
 *   const core = TokenrouteCore.load();
 *   core.tokenize("qwen3", "Hello")              // Uint32Array, no special tokens added
 *   core.renderChat("qwen3", { messages, add_generation_prompt: true })   // { text, exact }
 *   core.blockKeys(ids, { model: "Qwen/Qwen3-8B", blockSize: 16 })       // BigUint64Array
 *
 * All methods are synchronous and CPU-bound (≈1 ms per 4 KiB prompt): call them off the event loop for big inputs.
 */
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { instantiateSync } from "@assemblyscript/loader";

export interface ModelInfo {
  name: string;
  bosId: number;
  eosId: number;
  addsBos: boolean;
}

export interface ChatRequest {
  messages: Array<{ role: string; content: string | Array<{ type: string; text?: string }> | null; reasoning_content?: string }>;
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
  chat_template_kwargs?: { enable_thinking?: boolean; date_string?: string; [k: string]: unknown };
  tools?: unknown[] | null;
}

export interface Rendered {
  text: string;
  /** false when the rendering could not reproduce the model's template byte-for-byte (tools, unknown family/role). */
  exact: boolean;
}

export interface BlockKeyOptions {
  /** Served model name as the EPP sees it (part of the seed). */
  model: string;
  /** LoRA adapter name ("" / undefined when none). */
  lora?: string;
  /** vLLM cache_salt ("" / undefined when none). */
  cacheSalt?: string;
  /** KV block size in tokens (vLLM default 16). */
  blockSize?: number;
  /** At most this many keys (default: all full blocks). */
  maxBlocks?: number;
}

interface CoreExports {
  memory: { buffer: ArrayBuffer };
  __newString(s: string): number;
  __getString(p: number): string;
  __newArray(id: number, values: ArrayLike<number> | ArrayBufferView): number;
  __getUint32Array(p: number): Uint32Array;
  __getUint64Array?(p: number): BigUint64Array;
  __pin(p: number): number;
  __unpin(p: number): void;
  __collect(): void;
  Uint8Array_ID: { value: unknown };
  Uint32Array_ID: { value: unknown };
  models(): number;
  modelInfo(m: number): number;
  canonicalModel(m: number): number;
  tokenize(m: number, t: number): number;
  tokenizeUtf8(m: number, b: number): number;
  countUtf8(m: number, b: number): number;
  renderChat(f: number, r: number): number;
  blockKeys(ids: number, bs: number, m: number, l: number, s: number, max: number): number;
  blockSeedOf(m: number, l: number, s: number): bigint;
  xxh64Bytes(b: number, seed: bigint): bigint;
}

/** Finds filter/build/tokenroute-core.wasm from this file's location (src or dist*) or the working directory. */
export function defaultCoreWasmPath(): string {
  const env = process.env.TOKENROUTE_CORE_WASM;
  if (env) return env;
  const rel = join("filter", "build", "tokenroute-core.wasm");
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    const p = join(d, rel);
    if (existsSync(p)) return p;
    if (dirname(d) === d) break;
  }
  const cwd = resolve(rel);
  if (existsSync(cwd)) return cwd;
  throw new Error(`tokenroute core wasm not found (${rel}); build it with: node filter/tools/build-core.mjs`);
}

export class TokenrouteCore {
  private readonly x: CoreExports;
  private readonly u8Id: number;
  private readonly u32Id: number;
  /** Milliseconds spent compiling + instantiating the module. */
  readonly loadMs: number;

  private constructor(x: CoreExports, loadMs: number) {
    this.x = x;
    this.u8Id = x.Uint8Array_ID.value as number;
    this.u32Id = x.Uint32Array_ID.value as number;
    this.loadMs = loadMs;
  }

  /** Loads the module synchronously (once per process is enough; instances are independent). */
  static load(wasmPath: string = defaultCoreWasmPath()): TokenrouteCore {
    const t0 = performance.now();
    const bytes = readFileSync(wasmPath);
    // (WebAssembly's types are not in this project's lib setting; the global exists in every Node)
    const wasmApi = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }).WebAssembly;
    const mod = new wasmApi.Module(bytes);
    const { exports } = instantiateSync<Record<string, unknown>>(mod as never, {
      env: {
        abort(msg: number, file: number, line: number, col: number) {
          throw new Error(`tokenroute core abort at ${line}:${col}`);
        },
      },
    });
    return new TokenrouteCore(exports as unknown as CoreExports, performance.now() - t0);
  }

  private str(s: string): number {
    return this.x.__pin(this.x.__newString(s));
  }
  private unpin(...ps: number[]): void {
    for (const p of ps) this.x.__unpin(p);
  }

  /** Names of the embedded models. */
  models(): string[] {
    const s = this.x.__getString(this.x.models());
    return s ? s.split(",") : [];
  }

  /** Canonical model name for an alias ('qwen2.5' → 'qwen2_5'), or null when unknown. */
  canonicalModel(model: string): string | null {
    const m = this.str(model);
    try {
      return this.x.__getString(this.x.canonicalModel(m)) || null;
    } finally {
      this.unpin(m);
    }
  }

  /** BOS/EOS facts of a model (loads its tables: the first call per model costs the table build). */
  modelInfo(model: string): ModelInfo | null {
    const m = this.str(model);
    try {
      const s = this.x.__getString(this.x.modelInfo(m));
      return s ? (JSON.parse(s) as ModelInfo) : null;
    } finally {
      this.unpin(m);
    }
  }

  /** Token ids of `text` exactly as HF tokenizers encodes with add_special_tokens=false. */
  tokenize(model: string, text: string): Uint32Array {
    const m = this.str(model), t = this.str(text);
    try {
      const r = this.x.tokenize(m, t);
      if (!r) throw new Error(`model ${model} is not embedded in the tokenroute core`);
      return this.x.__getUint32Array(r);
    } finally {
      this.unpin(m, t);
    }
  }

  /** Token ids of UTF-8 bytes (invalid UTF-8 decoded lossily, one U+FFFD per maximal ill-formed subsequence). */
  tokenizeUtf8(model: string, bytes: Uint8Array): Uint32Array {
    const m = this.str(model), b = this.x.__pin(this.x.__newArray(this.u8Id, bytes));
    try {
      const r = this.x.tokenizeUtf8(m, b);
      if (!r) throw new Error(`model ${model} is not embedded in the tokenroute core`);
      return this.x.__getUint32Array(r);
    } finally {
      this.unpin(m, b);
    }
  }

  /** Number of tokens of UTF-8 bytes (no id array crosses the boundary). */
  countUtf8(model: string, bytes: Uint8Array): number {
    const m = this.str(model), b = this.x.__pin(this.x.__newArray(this.u8Id, bytes));
    try {
      const n = this.x.countUtf8(m, b);
      if (n < 0) throw new Error(`model ${model} is not embedded in the tokenroute core`);
      return n;
    } finally {
      this.unpin(m, b);
    }
  }

  /**
   * Renders a chat as vLLM would with the family's template ('qwen3' | 'qwen2_5' | 'llama3' | 'deepseek_v3').
   * add_generation_prompt defaults to true, as in vLLM's chat completions request.
   */
  renderChat(family: string, request: ChatRequest): Rendered {
    const f = this.str(family), r = this.str(JSON.stringify(request));
    try {
      const out = JSON.parse(this.x.__getString(this.x.renderChat(f, r))) as Rendered & { error?: string };
      if (out.error) throw new Error(out.error);
      return { text: out.text, exact: out.exact };
    } finally {
      this.unpin(f, r);
    }
  }

  /** Seed of the block-key chain: xxh64(model [\0 lora [\0 cacheSalt]]). */
  blockSeed(model: string, lora = "", cacheSalt = ""): bigint {
    const m = this.str(model), l = this.str(lora), s = this.str(cacheSalt);
    try {
      return BigInt.asUintN(64, this.x.blockSeedOf(m, l, s));
    } finally {
      this.unpin(m, l, s);
    }
  }

  /** Chained block keys over full blocks of `ids` (docs/tokenizer.md "Block keys"). */
  blockKeys(ids: ArrayLike<number>, opts: BlockKeyOptions): BigUint64Array {
    const arr = ids instanceof Uint32Array ? ids : Uint32Array.from(ids);
    const p = this.x.__pin(this.x.__newArray(this.u32Id, arr));
    const m = this.str(opts.model), l = this.str(opts.lora ?? ""), s = this.str(opts.cacheSalt ?? "");
    try {
      const r = this.x.blockKeys(p, opts.blockSize ?? 16, m, l, s, opts.maxBlocks ?? -1);
      return this.x.__getUint64Array!(r);
    } finally {
      this.unpin(p, m, l, s);
    }
  }

  /** xxHash64 (for test vectors and cross-checks). */
  xxh64(bytes: Uint8Array, seed: bigint = 0n): bigint {
    const b = this.x.__pin(this.x.__newArray(this.u8Id, bytes));
    try {
      return BigInt.asUintN(64, this.x.xxh64Bytes(b, BigInt.asIntN(64, seed)));
    } finally {
      this.unpin(b);
    }
  }

  /** Current size of the module's linear memory in bytes. */
  memoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }
}
