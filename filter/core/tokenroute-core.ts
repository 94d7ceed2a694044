/**
 * TokenrouteCore: the standalone tokenroute wasm (filter/build/tokenroute-core.wasm, built by
 * `node filter/tools/build-core.mjs`) loaded once with @assemblyscript/loader. The EPP, the render endpoint and the
 * CLI use it so that tokenization, chat rendering and block keys are byte-for-byte those of the Envoy filter.
 *
 *   const core = TokenrouteCore.load();
 *   core.tokenize("qwen3", "Hello")              // Uint32Array, no special tokens added
 *   core.renderChat("qwen3", { messages, add_generation_prompt: true })   // { text, exact }
 *   core.blockKeys(ids, { model: "Qwen/Qwen3-8B", blockSize: 16 })       // BigUint64Array
 *   core.requestKeys("/v1/chat/completions", body, { models: { "Qwen/Qwen3-8B": { tokenizer: "qwen3" } } })
 *                                                // what the filter computes for that request
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

/** A model entry of the filter's configuration (docs/filter.md `models`). */
export interface RequestModelConfig {
  /** Embedded tokenizer (qwen3, qwen2_5, llama3_1, deepseek_v3). */
  tokenizer: string;
  /** Chat-template family; default: the tokenizer's (llama3_1 → llama3). */
  template?: string;
  /** Model name seeding the keys (default: the served name). */
  seedModel?: string;
  /** LoRA adapter seeding the keys (default: none). */
  lora?: string;
}

/** The filter configuration requestKeys reads: models (with their key seed inputs) and the body limit. */
export interface RequestKeysConfig {
  models: Record<string, RequestModelConfig>;
  /** Bodies larger than this fail with too_large (the filter's default: 1 MiB; at most 64 MiB). */
  maxBodyBytes?: number;
}

export interface RequestKeysOptions {
  /** KV block size in tokens (default 16). */
  blockSize?: number;
  /** At most this many keys (default 256, the filter's default). */
  maxBlocks?: number;
  /** Also return the token ids. */
  wantIds?: boolean;
  /**
   * Tokenizing may stop once this many ids are out (at a word boundary): ids and keys are then the
   * prompt's start's and `tokens` an estimate (`tokensEstimated`). Default: tokenize everything.
   */
  stopAfterTokens?: number;
}

/** The filter's result for a request: its x-tokenroute-tokens/-exact/-blocks, or its x-tokenroute-error. */
export type RequestKeysResult =
  | { ok: true; tokens: number; exact: boolean; tokensEstimated: boolean; keys: BigUint64Array; ids?: Uint32Array }
  | {
      ok: false;
      /** The filter's error kind (too_large, bad_json, invalid_utf8, bad_request, unknown_model, internal), or bad_config. */
      error: string;
      detail: string;
    };

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
  requestKeys(path: number, body: number, config: number, blockSize: number, maxBlocks: number, wantIds: number, tokenLimit: number): number;
  __getUint8Array(p: number): Uint8Array;
  xxh64Bytes(b: number, seed: bigint): bigint;
  configureSegmentCache(bytes: number): void;
  segmentCacheStats(m: number): number;
}

/** A tokenizer's long-segment cache (a shared prefix tokenized once). */
export interface SegmentCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly bytes: number;
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

  /** Bytes of long-segment token ids each tokenizer keeps (default 32 MiB; 0 turns the cache off). */
  configureSegmentCache(capacityBytes: number): void {
    this.x.configureSegmentCache(capacityBytes);
  }

  /** The long-segment cache of a model's tokenizer, or null when the model is not embedded. */
  segmentCacheStats(model: string): SegmentCacheStats | null {
    const m = this.str(model);
    try {
      const s = this.x.__getString(this.x.segmentCacheStats(m));
      return s ? (JSON.parse(s) as SegmentCacheStats) : null;
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

  /**
   * What the edge filter computes for a request, by the filter's own code (filter/assembly/request/pipeline.ts):
   * `path` selects the endpoint as the filter's :path does (/v1/completions, /v1/chat/completions, /v1/responses,
   * behind any prefix, query ignored); `body` is the request body as sent; `config` is the filter's configuration
   * (strings are JSON-encoded here; pass the same string each time to reuse the parsed form). Never throws for a
   * bad request: its error kind is returned as the filter would send it in x-tokenroute-error.
   */
  requestKeys(path: string, body: Uint8Array | string, config: RequestKeysConfig | string, opts: RequestKeysOptions = {}): RequestKeysResult {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    const cfg = typeof config === "string" ? config : JSON.stringify(config);
    const p = this.str(path), c = this.str(cfg), b = this.x.__pin(this.x.__newArray(this.u8Id, bytes));
    let out: Uint8Array;
    try {
      out = this.x.__getUint8Array(this.x.requestKeys(p, b, c, opts.blockSize ?? 16, opts.maxBlocks ?? 256, opts.wantIds ? 1 : 0, Math.max(0, Math.min(opts.stopAfterTokens ?? 0, 0x7fffffff))));
    } finally {
      this.unpin(p, b, c);
    }
    // Layout: i32 failed, tokens, flags (1 exact, 2 tokens estimated), nKeys, nIds, textBytes; u64 keys; u32 ids; UTF-8 "<kind>\n<detail>".
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const nKeys = v.getInt32(12, true), nIds = v.getInt32(16, true), textBytes = v.getInt32(20, true);
    let o = 24;
    if (v.getInt32(0, true) !== 0) {
      const text = Buffer.from(out.buffer, out.byteOffset + o + nKeys * 8 + nIds * 4, textBytes).toString("utf8");
      const nl = text.indexOf("\n");
      return { ok: false, error: text.slice(0, nl), detail: text.slice(nl + 1) };
    }
    const keys = new BigUint64Array(nKeys);
    for (let i = 0; i < nKeys; i++, o += 8) keys[i] = v.getBigUint64(o, true);
    const flags = v.getInt32(8, true);
    const r: RequestKeysResult = { ok: true, tokens: v.getInt32(4, true), exact: (flags & 1) !== 0, tokensEstimated: (flags & 2) !== 0, keys };
    if (opts.wantIds) {
      const ids = new Uint32Array(nIds);
      for (let i = 0; i < nIds; i++, o += 4) ids[i] = v.getUint32(o, true);
      r.ids = ids;
    }
    return r;
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
