/**
 * The standalone tokenroute core module (filter/build/tokenroute-core.wasm): the same tokenizer, chat templates and
 * block keys the proxy-wasm filter runs in Envoy, exported for @assemblyscript/loader so the EPP, the render
 * endpoint and the CLI compute identical results. Use it through filter/core/tokenroute-core.ts (TokenrouteCore).
 */
import { Tokenizer, TokenBuffer, canonicalModelName } from "./tokenizer/index";
import { tableCount, tableName } from "./tokenizer/tables";
import { renderChatJson } from "./template/chat_request";
import { jsonString } from "./json/writer";
import { blockSeed, blockKeys as chainKeys, xxh64 } from "./blocks";
import { ConfigResult, parseConfig } from "./request/config";
import { ErrorKind, errorName } from "./request/errors";
import { endpointOf } from "./request/openai";
import { processBody } from "./request/pipeline";

const buf = new TokenBuffer(1024);

function toArray(b: TokenBuffer): Uint32Array {
  let a = new Uint32Array(b.length);
  memory.copy(a.dataStart, b.dataStart(), (<usize>b.length) << 2);
  return a;
}

/** Comma-separated names of the embedded models. */
export function models(): string {
  let n = tableCount();
  let s = "";
  for (let i = 0; i < n; i++) s += (i ? "," : "") + tableName(i);
  return s;
}

/** JSON {"name","bosId","eosId","addsBos"} for a model (loads it), or "" when unknown / not embedded. */
export function modelInfo(model: string): string {
  let t = Tokenizer.forModel(model);
  if (t === null) return "";
  return '{"name":' + jsonString(t.name) + ',"bosId":' + t.bosId.toString() + ',"eosId":' + t.eosId.toString() + ',"addsBos":' + (t.addsBos ? "true" : "false") + "}";
}

/** Canonical name of a model alias ("" when unknown). */
export function canonicalModel(model: string): string {
  return canonicalModelName(model);
}

/** Bytes of long-segment token ids each tokenizer keeps (tokenizer/segment_cache.ts); 0 = off. */
export function configureSegmentCache(capacityBytes: f64): void {
  Tokenizer.configureSegmentCache(<i64>capacityBytes);
}

/** The segment cache of a model's tokenizer as JSON {hits, misses, evictions, bytes}; "" when not embedded. */
export function segmentCacheStats(model: string): string {
  let t = Tokenizer.forModel(model);
  if (t === null) return "";
  let c = t.segments;
  return `{"hits":${c.hits},"misses":${c.misses},"evictions":${c.evictions},"bytes":${c.bytes}}`;
}

/** Token ids of `text` (no special tokens added). Returns null when the model is not embedded. */
export function tokenize(model: string, text: string): Uint32Array | null {
  let t = Tokenizer.forModel(model);
  if (t === null) return null;
  buf.clear();
  t.encode(text, buf);
  return toArray(buf);
}

/** Token ids of UTF-8 bytes (invalid sequences decoded lossily to U+FFFD). Null when the model is not embedded. */
export function tokenizeUtf8(model: string, bytes: Uint8Array): Uint32Array | null {
  let t = Tokenizer.forModel(model);
  if (t === null) return null;
  buf.clear();
  t.encodeUtf8(bytes, buf);
  return toArray(buf);
}

/** Number of tokens of UTF-8 bytes without materialising the ids (benchmarks); -1 when not embedded. */
export function countUtf8(model: string, bytes: Uint8Array): i32 {
  let t = Tokenizer.forModel(model);
  if (t === null) return -1;
  buf.clear();
  t.encodeUtf8(bytes, buf);
  return buf.length;
}

/**
 * Renders a chat. `request` is JSON: {"messages":[{"role","content"(string or [{type:"text",text}]),
 * "reasoning_content"?}], "add_generation_prompt"?: bool (default true, as vLLM), "continue_final_message"?: bool,
 * "chat_template_kwargs"?: {"enable_thinking"?: bool, "date_string"?: string}, "tools"?: [...]}.
 * Returns JSON {"text": string, "exact": bool} or {"error": string}.
 */
export function renderChat(family: string, request: string): string {
  return renderChatJson(family, request);
}

/** Chained block keys of `ids` (see blocks.ts / docs/tokenizer.md). */
export function blockKeys(ids: Uint32Array, blockSize: i32, model: string, lora: string, cacheSalt: string, maxBlocks: i32): Uint64Array {
  let tb = new TokenBuffer(ids.length + 4);
  memory.copy(tb.dataStart(), ids.dataStart, (<usize>ids.length) << 2);
  tb.length = ids.length;
  let cap = blockSize > 0 ? ids.length / blockSize : 0;
  if (maxBlocks >= 0 && cap > maxBlocks) cap = maxBlocks;
  let out = new StaticArray<u64>(cap);
  let n = chainKeys(tb, blockSize, blockSeed(model, lora, cacheSalt), maxBlocks, out);
  let r = new Uint64Array(n);
  for (let i = 0; i < n; i++) r[i] = out[i];
  return r;
}

/** Seed of the block-key chain. */
export function blockSeedOf(model: string, lora: string, cacheSalt: string): u64 {
  return blockSeed(model, lora, cacheSalt);
}

/** xxHash64 of bytes (for test vectors). */
export function xxh64Bytes(bytes: Uint8Array, seed: u64): u64 {
  return xxh64(bytes.dataStart, bytes.length, seed);
}

// ---- request body → keys, exactly as the filter ---------------------------------------------

/** Parsed configurations by their JSON text (a caller sends the same few over and over). */
const configs = new Map<string, ConfigResult>();
const MAX_CACHED_CONFIGS = 64;
const reqTokens = new TokenBuffer(4096);
let reqKeys = new StaticArray<u64>(0);

/** Size of the fixed header of a requestKeys result. */
const RESULT_HEADER: i32 = 24;

function result(error: string, detail: string, tokens: i32, exact: bool, keys: StaticArray<u64>, nKeys: i32, ids: TokenBuffer | null, tokensEstimated: bool = false): Uint8Array {
  const text = String.UTF8.encode(error.length > 0 ? error + "\n" + detail : "");
  const textLen = text.byteLength;
  const nIds = ids !== null ? ids.length : 0;
  const out = new Uint8Array(RESULT_HEADER + nKeys * 8 + nIds * 4 + textLen);
  const p = out.dataStart;
  store<i32>(p, error.length > 0 ? 1 : 0);
  store<i32>(p, tokens, 4);
  store<i32>(p, (exact ? 1 : 0) | (tokensEstimated ? 2 : 0), 8);
  store<i32>(p, nKeys, 12);
  store<i32>(p, nIds, 16);
  store<i32>(p, textLen, 20);
  let o = p + <usize>RESULT_HEADER;
  for (let i = 0; i < nKeys; i++, o += 8) store<u64>(o, unchecked(keys[i]));
  if (ids !== null && nIds > 0) {
    memory.copy(o, ids.dataStart(), (<usize>nIds) << 2);
    o += (<usize>nIds) << 2;
  }
  memory.copy(o, changetype<usize>(text), <usize>textLen);
  return out;
}

/**
 * What the filter computes for a request (filter/assembly/request/pipeline.ts, the same code):
 * `path` picks the endpoint as the filter's :path does; `body` is the request body as sent;
 * `config` is a filter plugin configuration (docs/filter.md: {"models": {name: {tokenizer, template?,
 * seedModel?, lora?}}, "maxBodyBytes"?}; other fields are validated and ignored), whose model entries
 * carry the key seed inputs (seedModel, lora; cache_salt comes from the body); `blockSize` (≥ 1) and
 * `maxBlocks` (≥ 0) override the configuration's. `wantIds` also returns the token ids. `tokenLimit`
 * (> 0) lets tokenizing stop once that many ids are out (processBody): the ids and keys are then
 * those of the prompt's start and `tokens` is an estimate.
 *
 * Result (little-endian): i32 failed, i32 tokens, i32 flags (1: exact, 2: tokens estimated), i32 nKeys, i32 nIds, i32 textBytes, then
 * nKeys u64 keys, nIds u32 ids, and textBytes of UTF-8 "<error kind>\n<detail>" when failed (the
 * filter's x-tokenroute-error names, or "bad_config" for an invalid `config`).
 */
export function requestKeys(path: string, body: Uint8Array, config: string, blockSize: i32, maxBlocks: i32, wantIds: bool, tokenLimit: i32): Uint8Array {
  if (blockSize < 1 || maxBlocks < 0) return result("bad_config", "blockSize must be >= 1 and maxBlocks >= 0", 0, false, reqKeys, 0, null);
  let parsed: ConfigResult;
  if (configs.has(config)) parsed = configs.get(config);
  else {
    if (configs.size >= MAX_CACHED_CONFIGS) configs.clear();
    parsed = parseConfig(Uint8Array.wrap(String.UTF8.encode(config)));
    configs.set(config, parsed);
  }
  const cfg = parsed.config;
  if (cfg === null) return result("bad_config", parsed.error, 0, false, reqKeys, 0, null);
  cfg.blockSize = blockSize;
  cfg.maxBlocks = maxBlocks;
  if (reqKeys.length != maxBlocks) reqKeys = new StaticArray<u64>(maxBlocks);
  // The filter's streaming check (request/http_context.ts onRequestBody), for a body handed over whole.
  if (body.length > cfg.maxBodyBytes) {
    return result(errorName(ErrorKind.TooLarge), `body of ${body.length} bytes exceeds maxBodyBytes ${cfg.maxBodyBytes}`, 0, false, reqKeys, 0, null);
  }
  const r = processBody(endpointOf(path), body, cfg, reqTokens, reqKeys, tokenLimit > 0 ? tokenLimit : i32.MAX_VALUE);
  if (r.error != ErrorKind.None) return result(errorName(r.error), r.detail, 0, false, reqKeys, 0, null);
  return result("", "", r.tokens, r.exact, reqKeys, r.count, wantIds ? reqTokens : null, r.tokensEstimated);
}

export const Uint8Array_ID = idof<Uint8Array>();
export const Uint32Array_ID = idof<Uint32Array>();
