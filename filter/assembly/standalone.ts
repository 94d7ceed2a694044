/**
 * The standalone tokenroute core module (filter/build/tokenroute-core.wasm): the same tokenizer, chat templates and
 * block keys the proxy-wasm filter runs in Envoy, exported for @assemblyscript/loader so the EPP, the render
 * endpoint and the CLI compute identical results. Use it through filter/tools/core.ts (TokenrouteCore).
 */
import { Tokenizer, TokenBuffer, canonicalModelName } from "./tokenizer/index";
import { tableCount, tableName } from "./tokenizer/tables";
import { renderChatJson } from "./template/json_api";
import { blockSeed, blockKeys as chainKeys, xxh64 } from "./blocks";

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
  return '{"name":"' + t.name + '","bosId":' + t.bosId.toString() + ',"eosId":' + t.eosId.toString() + ',"addsBos":' + (t.addsBos ? "true" : "false") + "}";
}

/** Canonical name of a model alias ("" when unknown). */
export function canonicalModel(model: string): string {
  return canonicalModelName(model);
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

export const Uint8Array_ID = idof<Uint8Array>();
export const Uint32Array_ID = idof<Uint32Array>();
