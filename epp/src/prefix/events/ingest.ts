// KV-event ingestion logic (runs in the subscriber worker, testable without sockets): per-source
// sequence tracking (gap, restart, duplicate), decoded events → index operations in our key space.
// BlockStored: the parent's key comes from the engine-key map (or the model seed when there is no
// parent), our keys are recomputed from the event's token_ids with the shared wasm xxh64, and each
// engine block is mapped to its keys. BlockRemoved translates engine hashes through the map;
// AllBlocksCleared clears the pod. Engine blocks may be m × our block size (1:m); a smaller or
// non-multiple engine block size is counted and skipped. Output is a compact u32 op stream
// (OpWriter) that the event loop applies to the BlockIndex with no decoding work left.
import { EngineKeyMap } from './engine-map.js';
import { EventBatchDecoder, type DecodeProblem, type KvEvent } from './events.js';
import { FLAG_CPU, FLAG_GPU } from '../index/block-index.js';
import type { WasmHasher } from '../keys/wasm-hash.js';

export const OP_ADD = 1;
export const OP_REMOVE = 2;
export const OP_CLEAR = 3;
export const OP_UNCERTAIN = 4;

/** A batch of index operations: pod names, and ops referring to them by index. */
export interface OpBatch {
  readonly pods: string[];
  readonly ops: Uint32Array;
  /** Block events (stored + removed blocks) the batch carries. */
  readonly blockEvents: number;
}

export class OpWriter {
  private buf = new Uint32Array(4096);
  private len = 0;
  private pods = new Map<string, number>();
  private blockEvents = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint32Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  private pod(name: string): number {
    let i = this.pods.get(name);
    if (i === undefined) {
      i = this.pods.size;
      this.pods.set(name, i);
    }
    return i;
  }

  keys(op: typeof OP_ADD | typeof OP_REMOVE, pod: string, flags: number, halves: Uint32Array, from = 0, n = halves.length >>> 1): void {
    if (n === 0) return;
    this.ensure(4 + 2 * n);
    const b = this.buf;
    b[this.len++] = op;
    b[this.len++] = this.pod(pod);
    b[this.len++] = flags;
    b[this.len++] = n;
    b.set(halves.subarray(2 * from, 2 * (from + n)), this.len);
    this.len += 2 * n;
    this.blockEvents += n;
  }

  podOp(op: typeof OP_CLEAR | typeof OP_UNCERTAIN, pod: string): void {
    this.ensure(2);
    this.buf[this.len++] = op;
    this.buf[this.len++] = this.pod(pod);
  }

  size(): number {
    return this.len;
  }

  /** The ops so far (a copy sized to fit, transferable) and a fresh writer state. */
  take(): OpBatch | undefined {
    if (this.len === 0) return undefined;
    const batch = { pods: [...this.pods.keys()], ops: this.buf.slice(0, this.len), blockEvents: this.blockEvents };
    this.len = 0;
    this.pods = new Map();
    this.blockEvents = 0;
    return batch;
  }
}

export type SeqVerdict = 'first' | 'next' | 'gap' | 'duplicate' | 'restart';

/** Per-source sequence state: vLLM numbers each message; the simulator starts at 1. */
export class SeqTracker {
  private readonly last = new Map<string, bigint>();

  check(source: string, seq: bigint): { verdict: SeqVerdict; missed: bigint; expected: bigint } {
    const prev = this.last.get(source);
    this.last.set(source, seq);
    if (prev === undefined) return { verdict: 'first', missed: 0n, expected: seq };
    const expected = prev + 1n;
    if (seq === expected) return { verdict: 'next', missed: 0n, expected };
    if (seq > expected) return { verdict: 'gap', missed: seq - expected, expected };
    if (seq === prev) {
      this.last.set(source, prev);
      return { verdict: 'duplicate', missed: 0n, expected };
    }
    // Backwards: the publisher restarted (its cache is empty now).
    return { verdict: 'restart', missed: 0n, expected };
  }

  /** Sets the last applied sequence (after a replay filled a gap). */
  set(source: string, seq: bigint): void {
    this.last.set(source, seq);
  }

  forget(source: string): void {
    this.last.delete(source);
  }

  lastOf(source: string): bigint | undefined {
    return this.last.get(source);
  }
}

export interface IngestOptions {
  /** Our block size in tokens (the filter's blockSize). */
  readonly blockSize: number;
  /** Engine block size assumed when an event carries none. */
  readonly engineBlockSize?: number;
  /** Mappings engine → our keys kept (bounded cache). */
  readonly engineMapCapacity?: number;
  /** Model in the topic → model name seeding our keys (default: the same name). */
  readonly seedModelFor?: (topicModel: string) => string;
  readonly hasher: WasmHasher;
}

export type IngestCounter =
  | DecodeProblem
  | 'messages'
  | 'batches'
  | 'events'
  | 'blocks_stored'
  | 'blocks_removed'
  | 'cleared'
  | 'orphaned'
  | 'unknown_removals'
  | 'block_size_mismatch'
  | 'token_count_mismatch';

export class Ingestor {
  readonly counters = new Map<IngestCounter, number>();
  readonly engineMap: EngineKeyMap;
  private readonly decoder = new EventBatchDecoder();
  private readonly hasher: WasmHasher;
  private readonly blockSize: number;
  private readonly engineBlockSize: number;
  private readonly seedModelFor: (m: string) => string;
  /** Last engine block size seen per pod (BlockRemoved carries none). */
  private readonly podBlockSize = new Map<string, number>();
  private scratch = new Uint32Array(1024);

  constructor(opts: IngestOptions) {
    this.hasher = opts.hasher;
    this.blockSize = opts.blockSize;
    this.engineBlockSize = opts.engineBlockSize ?? opts.blockSize;
    this.engineMap = new EngineKeyMap(opts.engineMapCapacity ?? 1 << 20);
    this.seedModelFor = opts.seedModelFor ?? ((m) => m);
  }

  count(c: IngestCounter, n = 1): void {
    this.counters.set(c, (this.counters.get(c) ?? 0) + n);
  }

  /** Decodes a payload and appends its operations for `pod` to `out`. Never throws. */
  ingest(pod: string, model: string, payload: Uint8Array, out: OpWriter): void {
    this.count('batches');
    const batch = this.decoder.decode(payload);
    for (const p of batch.problems) this.count(p);
    for (const e of batch.events) this.apply(pod, model, e, out);
  }

  apply(pod: string, model: string, e: KvEvent, out: OpWriter): void {
    this.count('events');
    if (e.kind === 'cleared') {
      this.count('cleared');
      out.podOp(OP_CLEAR, pod);
      return;
    }
    const seedModel = this.seedModelFor(model);
    const salt = this.hasher.seed(seedModel);
    const sLo = Number(salt & 0xffffffffn);
    const sHi = Number(salt >> 32n);
    const tier = e.medium === 'gpu' ? FLAG_GPU : FLAG_CPU;
    if (e.kind === 'removed') {
      const ebs = this.podBlockSize.get(pod) ?? this.engineBlockSize;
      const m = ebs % this.blockSize === 0 ? ebs / this.blockSize : 1;
      const n = e.hashes.length >>> 1;
      const keys = this.keysScratch(n * m);
      let k = 0;
      for (let i = 0; i < n; i++) {
        const eLo = e.hashes[2 * i] ^ sLo;
        const eHi = e.hashes[2 * i + 1] ^ sHi;
        for (let j = 0; j < m; j++) {
          if (!this.engineMap.get(eLo, eHi, j)) {
            this.count('unknown_removals');
            continue;
          }
          keys[2 * k] = this.engineMap.lo;
          keys[2 * k + 1] = this.engineMap.hi;
          k++;
        }
      }
      this.count('blocks_removed', n);
      out.keys(OP_REMOVE, pod, tier, keys, 0, k);
      return;
    }
    // BlockStored
    const n = e.hashes.length >>> 1;
    const ebs = e.blockSize > 0 ? e.blockSize : this.engineBlockSize;
    this.podBlockSize.set(pod, ebs);
    if (ebs % this.blockSize !== 0) {
      this.count('block_size_mismatch');
      return;
    }
    const m = ebs / this.blockSize;
    if (e.tokens.length === 0) {
      // A tier move (e.g. offload to CPU): the blocks are known; add the new tier.
      const keys = this.keysScratch(n * m);
      let k = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) {
          if (!this.engineMap.get(e.hashes[2 * i] ^ sLo, e.hashes[2 * i + 1] ^ sHi, j)) continue;
          keys[2 * k] = this.engineMap.lo;
          keys[2 * k + 1] = this.engineMap.hi;
          k++;
        }
      }
      if (k < n * m) this.count('orphaned', n * m - k);
      this.count('blocks_stored', k);
      out.keys(OP_ADD, pod, tier, keys, 0, k);
      return;
    }
    if (e.tokens.length !== n * ebs) {
      this.count('token_count_mismatch');
      return;
    }
    let parent: bigint;
    if (e.parentLo === undefined) {
      parent = this.hasher.seed(seedModel, e.loraName);
    } else if (this.engineMap.get(e.parentLo ^ sLo, e.parentHi! ^ sHi, m - 1)) {
      parent = (BigInt(this.engineMap.hi) << 32n) | BigInt(this.engineMap.lo);
    } else {
      // The parent's key is unknown (we joined late or the mapping aged out): no chain to extend.
      this.count('orphaned', n);
      return;
    }
    const keys = this.keysScratch(n * m);
    this.hasher.chain(e.tokens, 0, n * m, this.blockSize, parent, keys);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const k = i * m + j;
        this.engineMap.set(e.hashes[2 * i] ^ sLo, e.hashes[2 * i + 1] ^ sHi, j, keys[2 * k], keys[2 * k + 1]);
      }
    }
    this.count('blocks_stored', n);
    out.keys(OP_ADD, pod, tier, keys, 0, n * m);
  }

  private keysScratch(n: number): Uint32Array {
    if (this.scratch.length < 2 * n) this.scratch = new Uint32Array(Math.max(2 * n, this.scratch.length * 2));
    return this.scratch;
  }
}

/** Applies an op batch to an index-like target; `resolve` maps a pod name to endpoint names. */
export interface OpTarget {
  add(pod: string, flags: number, halves: Uint32Array, from: number, n: number): void;
  remove(pod: string, flags: number, halves: Uint32Array, from: number, n: number): void;
  clear(pod: string): void;
  uncertain(pod: string): void;
}

export function applyOps(batch: OpBatch, target: OpTarget): void {
  const { ops, pods } = batch;
  let i = 0;
  while (i < ops.length) {
    const op = ops[i];
    const pod = pods[ops[i + 1]];
    if (op === OP_ADD || op === OP_REMOVE) {
      const flags = ops[i + 2];
      const n = ops[i + 3];
      const from = i + 4;
      if (op === OP_ADD) target.add(pod, flags, ops, from, n);
      else target.remove(pod, flags, ops, from, n);
      i = from + 2 * n;
    } else if (op === OP_CLEAR) {
      target.clear(pod);
      i += 2;
    } else if (op === OP_UNCERTAIN) {
      target.uncertain(pod);
      i += 2;
    } else {
      return; // corrupt stream: stop (cannot happen with OpWriter)
    }
  }
}
