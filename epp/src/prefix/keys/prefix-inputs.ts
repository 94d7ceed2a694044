// The prefix-input producer behind the `token-producer` plugin: a request's block keys for every
// block size its consumers (the prefix scorers) need, from one reading of the request — one
// verification of the filter's headers, at most one tokenization. Sources, in order:
//  1. `filter`: the x-tokenroute-* headers of the edge filter, decoded and HMAC-verified
//     (epp/src/protocol/tokenroute-headers.ts), when their model and block size match;
//  2. `epp-tokenizer`: the same tokenizer/template/hash wasm run by the EPP in a worker thread,
//     for models configured in `models`;
//  3. `char-blocks`: GIE's approximation, xxh64 chained over blocks of blockSize × 4 bytes of the
//     prefix text seeded by the target model (+ cache_salt);
//  4. `none`: nothing to key (e.g. an empty prompt).
// A need the filter's keys cannot meet (another block size) is met by the EPP tokenizer, which keys
// the same tokens once per block size in the same worker job. The source, the reason a better one
// was not used, and the key count go into the decision trace (the request state's notes).
import { sampleDigest } from '../../protocol/digest.js';
import type { InferenceRequest } from '../../framework/request.js';
import { filterHeaderVerifier, type FilterHeaderTrust, type FilterHeaderVerifier } from './filter-headers.js';
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
  /**
   * The block each key stands for, ascending (a prefix digest: protocol/digest.ts); absent when key
   * i is block i. A chained key names its whole prefix, so a match at key k is a match of
   * positions[k] + 1 blocks.
   */
  readonly positions?: Uint32Array;
  /** Full blocks the keys describe: positions[n - 1] + 1, or n. */
  readonly blocks: number;
  /** Prompt tokens when known (filter / EPP tokenizer); else an estimate (chars ÷ 4). */
  readonly promptTokens: number;
  /** The EPP tokenizer stopped after the blocks its consumers use: promptTokens is an estimate. */
  readonly tokensEstimated?: boolean;
  readonly exact: boolean;
  /** Why a better source was not used. */
  readonly fallbackReason?: string;
}

/** What one consumer needs: keys at this block size, at most this many. */
export interface KeyNeed {
  readonly blockSize: number;
  readonly maxBlocks: number;
}

export interface PrefixInputOptions {
  readonly models: ReadonlyMap<string, ModelBinding>;
  readonly headers: FilterHeaderTrust;
  readonly tokenizeTimeoutMs: number;
  readonly charFallback: boolean;
  /** The digest grid every source's keys are sampled onto (token-producer digestDenseBlocks). */
  readonly digestDenseBlocks: number;
  /** Lazily provided so plugins that never need them do not start workers. */
  readonly pool: () => TokenizerPool | undefined;
  readonly hasher: () => WasmHasher;
}

function halvesOf(keys: BigUint64Array): Uint32Array {
  const out = new Uint32Array(keys.length * 2);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    out[2 * i] = Number(k & 0xffffffffn);
    out[2 * i + 1] = Number(k >> 32n);
  }
  return out;
}

/**
 * Keys on the digest grid of `dense`, cut to blocks below `maxBlocks`: `positions` absent means
 * the halves are blocks 0..k-1 (then they are sampled onto the grid).
 */
function onGrid(halves: Uint32Array, positions: Uint32Array | undefined, dense: number, maxBlocks: number): Pick<PrefixInputs, 'keys' | 'n' | 'positions' | 'blocks'> {
  let keys = halves;
  let pos = positions;
  if (!pos) {
    const dense0 = Math.min(halves.length >>> 1, maxBlocks);
    ({ keys, positions: pos } = sampleDigest(halves, dense0, dense));
  }
  let n = pos.length;
  while (n > 0 && pos[n - 1] >= maxBlocks) n--;
  if (n < pos.length) {
    keys = keys.subarray(0, 2 * n);
    pos = pos.subarray(0, n);
  }
  return { keys, n, positions: pos, blocks: n === 0 ? 0 : pos[n - 1] + 1 };
}

/** `inputs` cut to the blocks below `maxBlocks` (a consumer asking for fewer than were produced). */
export function limitInputs(inputs: PrefixInputs, maxBlocks: number): PrefixInputs {
  if (inputs.blocks <= maxBlocks) return inputs;
  if (!inputs.positions) {
    const n = Math.min(inputs.n, maxBlocks);
    return { ...inputs, keys: inputs.keys.subarray(0, 2 * n), n, blocks: n };
  }
  return { ...inputs, ...onGrid(inputs.keys, inputs.positions, 0, maxBlocks) };
}

/** The largest maxBlocks asked for each distinct block size, in first-asked order. */
function mergeNeeds(needs: readonly KeyNeed[]): KeyNeed[] {
  const out: KeyNeed[] = [];
  for (const n of needs) {
    const i = out.findIndex((o) => o.blockSize === n.blockSize);
    if (i < 0) out.push({ blockSize: n.blockSize, maxBlocks: n.maxBlocks });
    else if (out[i].maxBlocks < n.maxBlocks) out[i] = { blockSize: n.blockSize, maxBlocks: n.maxBlocks };
  }
  return out;
}

/** Inputs by block size. */
export type PrefixInputsBySize = ReadonlyMap<number, PrefixInputs>;

export class PrefixInputProducer {
  private readonly opts: PrefixInputOptions;
  /** Shared with every plugin of the same trust: one verdict per request (replays fall back to tokenizing here). */
  private readonly verifier: FilterHeaderVerifier;
  /** Tokenizer jobs sent (one per request at most); read by tests and metrics. */
  tokenizations = 0;

  constructor(opts: PrefixInputOptions) {
    this.opts = opts;
    this.verifier = filterHeaderVerifier(opts.headers);
  }

  /**
   * The request's inputs for each needed block size; a promise when the EPP tokenizer runs (in a
   * worker, once for all block sizes). Never rejects.
   */
  produce(req: InferenceRequest, wanted: readonly KeyNeed[]): PrefixInputsBySize | Promise<PrefixInputsBySize> {
    const needs = mergeNeeds(wanted);
    const out = new Map<number, PrefixInputs>();
    if (needs.length === 0) return out;
    const verdict = this.verifier.verdict(req.headers, req.incomingModel);
    const dense = this.opts.digestDenseBlocks;
    let reason = verdict.ok ? undefined : verdict.reason;
    if (verdict.ok && verdict.value.digest && verdict.value.digest.dense !== dense) reason = `filter digest grid denseBlocks ${verdict.value.digest.dense} ≠ ${dense}`;
    const missing: KeyNeed[] = [];
    for (const need of needs) {
      if (reason === undefined && verdict.ok && verdict.value.blockSize === need.blockSize) {
        const v = verdict.value;
        const keys = onGrid(halvesOf(v.blockKeys), v.positions, dense, need.maxBlocks);
        out.set(need.blockSize, { source: 'filter', blockSize: need.blockSize, ...keys, promptTokens: v.tokens ?? v.blockKeys.length * need.blockSize, exact: v.exact ?? false });
      } else {
        missing.push(need);
      }
    }
    if (missing.length === 0) return out;
    const why = reason ?? `filter block size ${verdict.ok ? verdict.value.blockSize : '?'} ≠ ${missing.map((m) => m.blockSize).join(', ')}`;

    const binding = this.opts.models.get(req.incomingModel) ?? this.opts.models.get(req.targetModel);
    const pool = binding ? this.opts.pool() : undefined;
    let tokenizerWhy = why;
    if (!binding) tokenizerWhy += `; model ${JSON.stringify(req.incomingModel)} has no tokenizer configured`;
    else if (!pool) tokenizerWhy += '; tokenizer workers unavailable';
    else {
      const [first, ...rest] = missing;
      const job = {
        kind: req.body.kind,
        // The bytes when kept: reading `json` of a body parsed off the event loop would parse it here.
        json: req.body.raw ? undefined : req.body.json,
        body: req.body.raw,
        model: req.incomingModel,
        binding,
        blockSize: first.blockSize,
        maxBlocks: first.maxBlocks,
        alsoBlockSizes: rest,
        cacheSalt: req.body.cacheSalt,
        // The consumers use no block past their maxBlocks: the rest of a long prompt is counted
        // (estimated), not tokenized.
        stopAfterBlocks: true,
      };
      this.tokenizations++;
      return pool.run(job, this.opts.tokenizeTimeoutMs).then((r) => {
        if (r.ok) {
          missing.forEach((need, i) => {
            const keys = onGrid(halvesOf(i === 0 ? r.keys : r.also![i - 1]), undefined, dense, need.maxBlocks);
            out.set(need.blockSize, { source: 'epp-tokenizer', blockSize: need.blockSize, ...keys, promptTokens: r.tokens, tokensEstimated: r.tokensEstimated, exact: r.exact, fallbackReason: why });
          });
        } else {
          for (const need of missing) out.set(need.blockSize, this.charBlocks(req, need, `${why}; epp tokenizer: ${r.reason}`));
        }
        return out;
      });
    }
    for (const need of missing) out.set(need.blockSize, this.charBlocks(req, need, tokenizerWhy));
    return out;
  }

  private charBlocks(req: InferenceRequest, need: KeyNeed, reason: string): PrefixInputs {
    const { blockSize, maxBlocks } = need;
    const length = req.body.prefixLength;
    if (!this.opts.charFallback || length === 0) {
      return { source: 'none', blockSize, keys: new Uint32Array(0), n: 0, blocks: 0, promptTokens: Math.ceil(length / 4), exact: false, fallbackReason: reason };
    }
    // A character is at least one byte: the first blockBytes × maxBlocks characters hold every block hashed.
    const blockBytes = blockSize * 4;
    const text = req.body.prefixHead(blockBytes * maxBlocks);
    const keys = this.opts.hasher().charBlockKeys(text, blockBytes, req.targetModel, req.body.cacheSalt ?? '', maxBlocks);
    // GIE's character blocks stay dense: their own index, their own (small) maxBlocks.
    return { source: 'char-blocks', blockSize, keys, n: keys.length >>> 1, blocks: keys.length >>> 1, promptTokens: Math.ceil(length / 4), exact: false, fallbackReason: reason };
  }
}
