// The plugin configuration (Envoy PluginConfig.configuration, read in proxy_on_configure) → a
// typed, validated FilterConfig. Validation is strict — an unknown key, a wrong type or an out-of-
// range value is an error naming its field — because a silently ignored typo in a routing filter
// shows up much later as bad cache locality. The format is documented in docs/filter.md.
import { JsonDoc, JsonError, parseJson } from '../json/reader';
import { base64Decode } from '../protocol';
import { ModelBinding, bindModel } from './tokenize';
import { DEFAULT_SEGMENT_CACHE_BYTES } from '../tokenizer/index';

export const enum OnError {
  Passthrough = 0,
  Reject = 1,
}

export const DEFAULT_BLOCK_SIZE: i32 = 16;
/** Blocks keyed per prompt: 1 Mi tokens at 16-token blocks (the digest bounds what is sent). */
export const DEFAULT_MAX_BLOCKS: i32 = 65536;
export const DEFAULT_MAX_BODY_BYTES: i32 = 1 << 20;
export const MAX_MAX_BLOCKS: i32 = 1 << 20;
/** Blocks at the start of the prompt keyed one by one in the digest (digest.ts). */
export const DEFAULT_DENSE_BLOCKS: i32 = 256;
export const MAX_DENSE_BLOCKS: i32 = 1 << 16;
/** Header budget of x-tokenroute-blocks: 16 KiB, far below Envoy's 60 KiB limit on all request headers. */
export const DEFAULT_MAX_DIGEST_BYTES: i32 = 16384;
export const MIN_MAX_DIGEST_BYTES: i32 = 1024;
export const MAX_MAX_DIGEST_BYTES: i32 = 49152;
/** Token ids kept per tokenizer for long segments (tokenizer/segment_cache.ts): the tokenizer's default. */
export const DEFAULT_TOKEN_CACHE_BYTES: i32 = <i32>DEFAULT_SEGMENT_CACHE_BYTES;
export const MAX_TOKEN_CACHE_BYTES: i32 = 1 << 30;
export const MAX_BLOCK_SIZE: i32 = 1024;
export const MAX_MAX_BODY_BYTES: i32 = 64 << 20;
export const MIN_HMAC_KEY_BYTES: i32 = 16;

export class ModelConfig {
  /** The name clients send in `model`. */
  name: string = '';
  /** Tokenizer + template, resolved at configure time. */
  binding: ModelBinding;
  /** Model name fed into the block-key seed (default: `name`). */
  seedModel: string = '';
  /** LoRA adapter fed into the block-key seed (default: none). */
  lora: string = '';

  constructor(binding: ModelBinding) {
    this.binding = binding;
  }
}

export class FilterConfig {
  models: Map<string, ModelConfig> = new Map<string, ModelConfig>();
  blockSize: i32 = DEFAULT_BLOCK_SIZE;
  maxBlocks: i32 = DEFAULT_MAX_BLOCKS;
  denseBlocks: i32 = DEFAULT_DENSE_BLOCKS;
  maxDigestBytes: i32 = DEFAULT_MAX_DIGEST_BYTES;
  tokenCacheBytes: i32 = DEFAULT_TOKEN_CACHE_BYTES;
  maxBodyBytes: i32 = DEFAULT_MAX_BODY_BYTES;
  onError: OnError = OnError.Passthrough;
  /** Envoy route name (xds.route_name) → profile name. */
  routes: Map<string, string> = new Map<string, string>();
  defaultProfile: string = '';
  hmacKey: Uint8Array | null = null;

  /** Keys that fit maxDigestBytes of base64url: 8 bytes a key, 4 characters per 3 bytes. */
  get maxDigestKeys(): i32 {
    return (this.maxDigestBytes * 3) / 32;
  }

  profileFor(routeName: string | null): string {
    if (routeName !== null && this.routes.has(routeName)) return this.routes.get(routeName);
    return this.defaultProfile;
  }
}

export class ConfigResult {
  config: FilterConfig | null = null;
  /** "<field>: <problem>" when invalid. */
  error: string = '';
}

function fail(error: string): ConfigResult {
  const r = new ConfigResult();
  r.error = error;
  return r;
}

const TOP_KEYS: StaticArray<string> = ['models', 'blockSize', 'maxBlocks', 'denseBlocks', 'maxDigestBytes', 'tokenCacheBytes', 'maxBodyBytes', 'onError', 'routes', 'defaultProfile', 'hmacKey'];
const MODEL_KEYS: StaticArray<string> = ['tokenizer', 'template', 'seedModel', 'lora'];

function unknownKey(doc: JsonDoc, obj: i32, allowed: StaticArray<string>): string | null {
  const n = doc.length(obj);
  let k = doc.first(obj);
  for (let i = 0; i < n; i++) {
    let known = false;
    for (let j = 0; j < allowed.length; j++) {
      if (doc.stringEquals(k, allowed[j])) {
        known = true;
        break;
      }
    }
    if (!known) return doc.str(k);
    k = doc.next(doc.next(k));
  }
  return null;
}

/** A profile name: 1-128 characters of [A-Za-z0-9._-] (sent as a header value as-is). */
export function validProfileName(s: string): bool {
  if (s.length == 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return true;
}

function intField(doc: JsonDoc, obj: i32, key: string, min: i32, max: i32, dflt: i32, out: StaticArray<i32>): string | null {
  const v = doc.get(obj, key);
  if (v < 0) {
    out[0] = dflt;
    return null;
  }
  const x = doc.intInRange(v, <i64>min, <i64>max, -1);
  if (x < 0 || !doc.isInteger(v)) return `${key}: expected an integer in [${min}, ${max}]`;
  out[0] = <i32>x;
  return null;
}

function stringField(doc: JsonDoc, obj: i32, key: string, where: string, out: Array<string>): string | null {
  const v = doc.get(obj, key);
  if (v < 0) return null;
  if (!doc.isString(v)) return `${where}${key}: expected a string`;
  out.push(doc.str(v));
  return null;
}

/** Parses and validates the plugin configuration JSON. */
export function parseConfig(bytes: Uint8Array): ConfigResult {
  const doc = parseJson(bytes, 16);
  if (!doc.ok) {
    if (doc.error == JsonError.Empty) return fail('configuration: empty (expected a JSON object with "models")');
    return fail(`configuration: not valid JSON (byte ${doc.errorOffset})`);
  }
  const root = doc.root;
  if (!doc.isObject(root)) return fail('configuration: expected a JSON object');
  const unknown = unknownKey(doc, root, TOP_KEYS);
  if (unknown !== null) return fail(`${unknown}: unknown field`);

  const cfg = new FilterConfig();
  const num = new StaticArray<i32>(1);
  let e = intField(doc, root, 'blockSize', 1, MAX_BLOCK_SIZE, DEFAULT_BLOCK_SIZE, num);
  if (e !== null) return fail(e);
  cfg.blockSize = num[0];
  e = intField(doc, root, 'maxBlocks', 1, MAX_MAX_BLOCKS, DEFAULT_MAX_BLOCKS, num);
  if (e !== null) return fail(e);
  cfg.maxBlocks = num[0];
  e = intField(doc, root, 'denseBlocks', 1, MAX_DENSE_BLOCKS, DEFAULT_DENSE_BLOCKS, num);
  if (e !== null) return fail(e);
  cfg.denseBlocks = num[0];
  e = intField(doc, root, 'maxDigestBytes', MIN_MAX_DIGEST_BYTES, MAX_MAX_DIGEST_BYTES, DEFAULT_MAX_DIGEST_BYTES, num);
  if (e !== null) return fail(e);
  cfg.maxDigestBytes = num[0];
  e = intField(doc, root, 'tokenCacheBytes', 0, MAX_TOKEN_CACHE_BYTES, DEFAULT_TOKEN_CACHE_BYTES, num);
  if (e !== null) return fail(e);
  cfg.tokenCacheBytes = num[0];
  e = intField(doc, root, 'maxBodyBytes', 1, MAX_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, num);
  if (e !== null) return fail(e);
  cfg.maxBodyBytes = num[0];

  const onError = doc.get(root, 'onError');
  if (onError >= 0) {
    if (doc.stringEquals(onError, 'passthrough')) cfg.onError = OnError.Passthrough;
    else if (doc.stringEquals(onError, 'reject')) cfg.onError = OnError.Reject;
    else return fail('onError: expected "passthrough" or "reject"');
  }

  const strs = new Array<string>();
  e = stringField(doc, root, 'defaultProfile', '', strs);
  if (e !== null) return fail(e);
  if (strs.length > 0) {
    if (!validProfileName(strs[0])) return fail('defaultProfile: expected 1-128 characters of [A-Za-z0-9._-]');
    cfg.defaultProfile = strs[0];
  }

  const routes = doc.get(root, 'routes');
  if (routes >= 0) {
    if (!doc.isObject(routes)) return fail('routes: expected an object of route name → profile name');
    const n = doc.length(routes);
    let k = doc.first(routes);
    for (let i = 0; i < n; i++) {
      const v = doc.next(k);
      const route = doc.str(k);
      if (!doc.isString(v) || !validProfileName(doc.str(v))) {
        return fail(`routes.${route}: expected a profile name of 1-128 characters of [A-Za-z0-9._-]`);
      }
      cfg.routes.set(route, doc.str(v));
      k = doc.next(v);
    }
  }

  const hmac = doc.get(root, 'hmacKey');
  if (hmac >= 0) {
    if (!doc.isString(hmac)) return fail('hmacKey: expected a base64 string');
    const key = base64Decode(doc.str(hmac));
    if (key === null) return fail('hmacKey: not valid base64');
    if (key.length < MIN_HMAC_KEY_BYTES) return fail(`hmacKey: must decode to at least ${MIN_HMAC_KEY_BYTES} bytes`);
    cfg.hmacKey = key;
  }

  const models = doc.get(root, 'models');
  if (models < 0) return fail('models: required (an object of model name → {tokenizer, ...})');
  if (!doc.isObject(models) || doc.length(models) == 0) return fail('models: expected a non-empty object');
  const n = doc.length(models);
  let k = doc.first(models);
  for (let i = 0; i < n; i++) {
    const v = doc.next(k);
    const name = doc.str(k);
    const where = `models.${name}.`;
    if (name.length == 0) return fail('models: a model name is empty');
    if (!doc.isObject(v)) return fail(`models.${name}: expected an object`);
    const bad = unknownKey(doc, v, MODEL_KEYS);
    if (bad !== null) return fail(`${where}${bad}: unknown field`);
    const tok = new Array<string>();
    e = stringField(doc, v, 'tokenizer', where, tok);
    if (e !== null) return fail(e);
    if (tok.length == 0) return fail(`${where}tokenizer: required`);
    const tmpl = new Array<string>();
    e = stringField(doc, v, 'template', where, tmpl);
    if (e !== null) return fail(e);
    const binding = bindModel(tok[0], tmpl.length > 0 ? tmpl[0] : '');
    if (binding.error.length > 0) return fail(`${where}${binding.error}`);
    const m = new ModelConfig(binding);
    m.name = name;
    m.seedModel = name;
    const seed = new Array<string>();
    e = stringField(doc, v, 'seedModel', where, seed);
    if (e !== null) return fail(e);
    if (seed.length > 0) m.seedModel = seed[0];
    const lora = new Array<string>();
    e = stringField(doc, v, 'lora', where, lora);
    if (e !== null) return fail(e);
    if (lora.length > 0) m.lora = lora[0];
    cfg.models.set(name, m);
    k = doc.next(v);
  }

  const r = new ConfigResult();
  r.config = cfg;
  return r;
}
