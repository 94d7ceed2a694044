// Block-key chains computed with the xxh64 of the shared tokenroute core wasm (the one the
// edge filter runs), so keys recomputed from KV events' token_ids are bit-identical to the
// filter's: key_i = xxh64(le_u32(block_i), key_{i-1}), key_{-1} = seed (docs/tokenizer.md
// "Block keys"). TokenrouteCore.blockKeys always starts from a model seed; ingestion must start
// from a parent block's key, so this loads the same module and calls its `xxh64Bytes` export on
// a pinned scratch array, one call per block (no BigInt arithmetic, no second xxh64).
// Also GIE's character-block fallback keys (GIE's approximate prefix producer, `pkg/epp/framework/plugins/requestcontrol/dataproducer/approximateprefix/`), with the same xxh64.
import { readFileSync } from 'node:fs';
import { instantiateSync } from '@assemblyscript/loader';
import { defaultCoreWasmPath } from '../../../../filter/core/tokenroute-core.js';

interface HashExports {
  memory: { buffer: ArrayBuffer };
  __newArray(id: number, values: ArrayLike<number> | ArrayBufferView): number;
  __getArrayView(ptr: number): ArrayBufferView;
  __pin(p: number): number;
  __unpin(p: number): void;
  Uint8Array_ID: { value: unknown };
  xxh64Bytes(ptr: number, seed: bigint): bigint;
}

interface Scratch {
  ptr: number;
  bytes: Uint8Array;
  words: Uint32Array | undefined;
  buffer: ArrayBuffer;
}

const textEncoder = new TextEncoder();

export class WasmHasher {
  private readonly x: HashExports;
  private readonly u8Id: number;
  private readonly scratch = new Map<number, Scratch>();
  private readonly seeds = new Map<string, bigint>();

  private constructor(x: HashExports) {
    this.x = x;
    this.u8Id = x.Uint8Array_ID.value as number;
  }

  static load(wasmPath: string = defaultCoreWasmPath()): WasmHasher {
    const wasmApi = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }).WebAssembly;
    const mod = new wasmApi.Module(readFileSync(wasmPath));
    const { exports } = instantiateSync<Record<string, unknown>>(mod as never, {
      env: {
        abort() {
          throw new Error('tokenroute core abort');
        },
      },
    });
    return new WasmHasher(exports as unknown as HashExports);
  }

  /** A pinned wasm Uint8Array of exactly `len` bytes, with a current view (memory may have grown). */
  private buf(len: number): Scratch {
    let s = this.scratch.get(len);
    if (!s) {
      const ptr = this.x.__pin(this.x.__newArray(this.u8Id, new Uint8Array(len)));
      s = { ptr, bytes: new Uint8Array(0), words: undefined, buffer: new ArrayBuffer(0) };
      this.scratch.set(len, s);
    }
    if (s.buffer !== this.x.memory.buffer) {
      const view = this.x.__getArrayView(s.ptr) as Uint8Array;
      s.bytes = view;
      s.words = view.byteOffset % 4 === 0 && len % 4 === 0 ? new Uint32Array(view.buffer, view.byteOffset, len >>> 2) : undefined;
      s.buffer = this.x.memory.buffer;
    }
    return s;
  }

  /** xxh64 of `bytes` with `seed` (the wasm's). */
  xxh64(bytes: Uint8Array, seed: bigint = 0n): bigint {
    const s = this.buf(bytes.length);
    s.bytes.set(bytes);
    return BigInt.asUintN(64, this.x.xxh64Bytes(s.ptr, BigInt.asIntN(64, seed)));
  }

  /** Seed of the key chain: xxh64(model [\0 lora [\0 cacheSalt]], 0), as filter/assembly/blocks.ts. */
  seed(model: string, lora = '', cacheSalt = ''): bigint {
    let text = model;
    if (lora !== '' || cacheSalt !== '') text += '\0' + lora;
    if (cacheSalt !== '') text += '\0' + cacheSalt;
    let v = this.seeds.get(text);
    if (v === undefined) {
      v = this.xxh64(textEncoder.encode(text), 0n);
      if (this.seeds.size > 4096) this.seeds.clear();
      this.seeds.set(text, v);
    }
    return v;
  }

  /**
   * Chained keys over `blocks` full blocks of `ids` starting at `offset`, the first chained from
   * `parent`. Writes interleaved (lo, hi) u32 halves into `out` at `outOffset` (2 words a key)
   * and returns the last key.
   */
  chain(ids: ArrayLike<number>, offset: number, blocks: number, blockSize: number, parent: bigint, out: Uint32Array, outOffset = 0): bigint {
    const s = this.buf(blockSize * 4);
    let key = BigInt.asIntN(64, parent);
    for (let b = 0; b < blocks; b++) {
      const base = offset + b * blockSize;
      const words = s.words;
      if (words) {
        for (let j = 0; j < blockSize; j++) words[j] = ids[base + j] >>> 0;
      } else {
        const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength);
        for (let j = 0; j < blockSize; j++) dv.setUint32(j * 4, ids[base + j] >>> 0, true);
      }
      key = this.x.xxh64Bytes(s.ptr, key);
      const u = BigInt.asUintN(64, key);
      out[outOffset + 2 * b] = Number(u & 0xffffffffn);
      out[outOffset + 2 * b + 1] = Number(u >> 32n);
    }
    return BigInt.asUintN(64, key);
  }

  /** Chained keys of every full block of `ids` from the model seed, as BigUint64Array (= core.blockKeys). */
  blockKeys(ids: ArrayLike<number>, blockSize: number, seed: bigint, maxBlocks = -1): BigUint64Array {
    let n = Math.floor(ids.length / blockSize);
    if (maxBlocks >= 0 && n > maxBlocks) n = maxBlocks;
    const halves = new Uint32Array(n * 2);
    this.chain(ids, 0, n, blockSize, seed, halves);
    const out = new BigUint64Array(n);
    for (let i = 0; i < n; i++) out[i] = (BigInt(halves[2 * i + 1]) << 32n) | BigInt(halves[2 * i]);
    return out;
  }

  /**
   * GIE's approximate (character) prefix keys: the UTF-8 prefix text cut into blocks of
   * `blockBytes` (partial last block dropped); h_0 = xxh64(model [+ cacheSalt]); h_i =
   * xxh64(block_i ‖ le_u64(h_{i-1})). Returns interleaved (lo, hi) halves.
   */
  charBlockKeys(text: string, blockBytes: number, model: string, cacheSalt: string, maxBlocks: number): Uint32Array {
    // A character is at least one byte, so the first blockBytes × maxBlocks characters are enough.
    const bytes = textEncoder.encode(text.length > blockBytes * maxBlocks ? text.slice(0, blockBytes * maxBlocks) : text);
    let n = Math.floor(bytes.length / blockBytes);
    if (n > maxBlocks) n = maxBlocks;
    const out = new Uint32Array(n * 2);
    let prev = this.xxh64(textEncoder.encode(cacheSalt ? model + cacheSalt : model), 0n);
    const s = this.buf(blockBytes + 8);
    // xxh64 allocates nothing, so wasm memory cannot grow (and detach this view) inside the loop.
    const parentSlot = new DataView(s.bytes.buffer, s.bytes.byteOffset + blockBytes, 8);
    for (let i = 0; i < n; i++) {
      s.bytes.set(bytes.subarray(i * blockBytes, (i + 1) * blockBytes), 0);
      parentSlot.setBigUint64(0, prev, true);
      prev = BigInt.asUintN(64, this.x.xxh64Bytes(s.ptr, 0n));
      out[2 * i] = Number(prev & 0xffffffffn);
      out[2 * i + 1] = Number(prev >> 32n);
    }
    return out;
  }
}
