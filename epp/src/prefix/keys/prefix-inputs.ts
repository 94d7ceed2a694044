// The prefix-input producer shared by the prefix plugins: a request's block keys, computed once
// per request and kept in the CycleState. Sources, in order:
//  1. `filter`: the x-tokenroute-* headers of the edge filter, decoded and HMAC-verified
//     (epp/src/protocol/tokenroute-headers.ts), when their model and block size match;
//  2. `epp-tokenizer`: the same tokenizer/template/hash wasm run by the EPP in a worker thread,
//     for models configured in `models`;
//  3. `char-blocks`: GIE's approximation, xxh64 chained over blocks of blockSize × 4 bytes of the
//     prefix text seeded by the target model (+ cache_salt);
//  4. `none`: nothing to key (e.g. an empty prompt).
// The source, the reason a better one was not used, and the key count go into the decision trace
// (CycleState entries under `trace.`).
import { decodeTokenrouteHeaders, parseHmacKey } from '../../protocol/tokenroute-headers.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { CycleState } from '../../framework/plugins.js';
import { stateKey, type StateKey } from '../../framework/cycle-state.js';
import type { ModelBinding } from './request-keys.js';
import type { TokenizerPool } from './tokenizer-pool.js';
import type { WasmHasher } from './wasm-hash.js';

export type PrefixSource = 'filter' | 'epp-tokenizer' | 'char-blocks' | 'none';

export interface PrefixInputs {
  readonly source: PrefixSource;
  readonly blockSize: number;
  /** Interleaved (lo, hi) u32 halves of the block keys, `n` keys. */
  readonly keys: Uint32Array;
  readonly n: number;
  /** Prompt tokens when known (filter / EPP tokenizer); else an estimate (chars ÷ 4). */
  readonly promptTokens: number;
  readonly exact: boolean;
  /** Why a better source was not used. */
  readonly fallbackReason?: string;
}

export interface FilterHeaderTrust {
  /** HMAC keys (base64) the filter signs with. */
  readonly hmacKeys: readonly string[];
  /** Environment variable holding one more base64 key. */
  readonly hmacKeyEnv?: string;
  /** Accept unsigned headers when no key is configured (only when nothing but the filter can reach the EPP). */
  readonly trustUnsigned: boolean;
  /** Reject values older than this (seconds); 0 = no check. */
  readonly maxAgeSeconds: number;
}

export interface PrefixInputOptions {
  readonly blockSize: number;
  readonly maxBlocks: number;
  readonly models: ReadonlyMap<string, ModelBinding>;
  readonly headers: FilterHeaderTrust;
  readonly tokenizeTimeoutMs: number;
  readonly charFallback: boolean;
  /** Lazily provided so plugins that never need them do not start workers. */
  readonly pool: () => TokenizerPool | undefined;
  readonly hasher: () => WasmHasher;
}

/** Resolved HMAC keys (decoded once). */
export function hmacKeysOf(trust: FilterHeaderTrust): Uint8Array[] {
  const keys = trust.hmacKeys.map(parseHmacKey);
  const env = trust.hmacKeyEnv ? process.env[trust.hmacKeyEnv] : undefined;
  if (env) keys.push(parseHmacKey(env));
  return keys;
}

function halvesOf(keys: BigUint64Array, max: number): Uint32Array {
  const n = Math.min(keys.length, max);
  const out = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    out[2 * i] = Number(k & 0xffffffffn);
    out[2 * i + 1] = Number(k >> 32n);
  }
  return out;
}

/** The request's inputs for one block size (a promise while a worker computes them). */
function inputsKey(blockSize: number): StateKey<PrefixInputs | Promise<PrefixInputs>> {
  return stateKey(`prefix.inputs/${blockSize}`);
}

export class PrefixInputProducer {
  private readonly opts: PrefixInputOptions;
  private readonly hmac: Uint8Array[];

  constructor(opts: PrefixInputOptions) {
    this.opts = opts;
    this.hmac = hmacKeysOf(opts.headers);
  }

  /** The inputs for `blockSize`, cached in `state` (another plugin may have computed them). */
  static cached(state: CycleState, blockSize: number): PrefixInputs | undefined {
    const v = state.read(inputsKey(blockSize));
    return v instanceof Promise ? undefined : v;
  }

  /** Computes (or reuses) the request's inputs for `blockSize`; may hop to a worker. */
  produce(req: InferenceRequest, state: CycleState, blockSize = this.opts.blockSize): PrefixInputs | Promise<PrefixInputs> {
    const key = inputsKey(blockSize);
    const have = state.read(key);
    if (have) return have;
    const result = this.compute(req, blockSize);
    const store = (r: PrefixInputs): PrefixInputs => {
      state.write(key, r);
      state.note('prefixSource', r.source);
      state.note('prefixBlocks', r.n);
      state.note('prefixBlockSize', r.blockSize);
      if (r.fallbackReason) state.note('prefixFallback', r.fallbackReason);
      return r;
    };
    if (result instanceof Promise) {
      const p = result.then(store);
      state.write(key, p);
      return p;
    }
    return store(result);
  }

  private compute(req: InferenceRequest, blockSize: number): PrefixInputs | Promise<PrefixInputs> {
    const max = this.opts.maxBlocks;
    let reason: string;
    const decoded = decodeTokenrouteHeaders(req.headers, { keys: this.hmac, maxAgeSeconds: this.opts.headers.maxAgeSeconds || undefined, maxBlocks: 4096 });
    if (!decoded.ok) reason = `filter headers ${decoded.reason}`;
    else if (!decoded.value.signed && !this.opts.headers.trustUnsigned) reason = 'filter headers unsigned (no hmac key configured)';
    else if (decoded.value.error !== undefined) reason = `filter could not tokenize: ${decoded.value.error}`;
    else if (decoded.value.model !== req.incomingModel) reason = 'filter headers name another model';
    else if (decoded.value.blockSize !== blockSize) reason = `filter block size ${decoded.value.blockSize} ≠ ${blockSize}`;
    else {
      const v = decoded.value;
      const keys = halvesOf(v.blockKeys, max);
      return { source: 'filter', blockSize, keys, n: keys.length >>> 1, promptTokens: v.tokens ?? v.blockKeys.length * blockSize, exact: v.exact ?? false };
    }

    const binding = this.opts.models.get(req.incomingModel) ?? this.opts.models.get(req.targetModel);
    const pool = binding ? this.opts.pool() : undefined;
    if (!binding) reason += `; model ${JSON.stringify(req.incomingModel)} has no tokenizer configured`;
    else if (!pool) reason += '; tokenizer workers unavailable';
    else {
      const job = { kind: req.body.kind, json: req.body.json, body: req.body.raw, model: req.incomingModel, binding, blockSize, maxBlocks: max };
      return pool.run(job, this.opts.tokenizeTimeoutMs).then((r) => {
        if (r.ok) {
          const keys = halvesOf(r.keys, max);
          return { source: 'epp-tokenizer', blockSize, keys, n: keys.length >>> 1, promptTokens: r.tokens, exact: r.exact, fallbackReason: reason } as PrefixInputs;
        }
        return this.charBlocks(req, blockSize, `${reason}; epp tokenizer: ${r.reason}`);
      });
    }
    return this.charBlocks(req, blockSize, reason);
  }

  private charBlocks(req: InferenceRequest, blockSize: number, reason: string): PrefixInputs {
    const text = req.body.prefixText;
    if (!this.opts.charFallback || !text) {
      return { source: 'none', blockSize, keys: new Uint32Array(0), n: 0, promptTokens: Math.ceil((text?.length ?? 0) / 4), exact: false, fallbackReason: reason };
    }
    const keys = this.opts.hasher().charBlockKeys(text, blockSize * 4, req.targetModel, req.body.cacheSalt ?? '', this.opts.maxBlocks);
    return { source: 'char-blocks', blockSize, keys, n: keys.length >>> 1, promptTokens: Math.ceil(text.length / 4), exact: false, fallbackReason: reason };
  }
}
