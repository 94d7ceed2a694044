/**
 * Chained 64-bit block keys over full blocks of token ids (shared by the filter and, through the standalone wasm,
 * the EPP and the CLI). Algorithm (docs/tokenizer.md "Block keys"; TypeScript reference: test/fixtures/blocks-ref.ts):
 *   seedBytes = utf8(model)
 *               + (lora != "" || cacheSalt != "" ? 0x00 + utf8(lora) : "")
 *               + (cacheSalt != "" ? 0x00 + utf8(cacheSalt) : "")
 *   seed      = xxh64(seedBytes, 0)
 *   key_0     = xxh64(le_u32(ids[0 .. B)), seed)
 *   key_i     = xxh64(le_u32(ids[i*B .. (i+1)*B)), key_{i-1})
 * Only full blocks are hashed; a trailing partial block yields no key. xxh64 is the reference XXH64.
 */
import { TokenBuffer } from "./tokenizer/buffer";

const P1: u64 = 0x9e3779b185ebca87;
const P2: u64 = 0xc2b2ae3d27d4eb4f;
const P3: u64 = 0x165667b19e3779f9;
const P4: u64 = 0x85ebca77c2b2ae63;
const P5: u64 = 0x27d4eb2f165667c5;

// @ts-ignore: decorator
@inline function round(acc: u64, input: u64): u64 {
  acc += input * P2;
  acc = rotl<u64>(acc, 31);
  return acc * P1;
}

// @ts-ignore: decorator
@inline function mergeRound(acc: u64, val: u64): u64 {
  acc ^= round(0, val);
  return acc * P1 + P4;
}

/** xxHash64 of linear memory [data, data+len) with `seed` (the reference XXH64 algorithm). */
export function xxh64(data: usize, len: i32, seed: u64): u64 {
  let p = data;
  let end = data + <usize>len;
  let h: u64;
  if (len >= 32) {
    let limit = end - 32;
    let v1 = seed + P1 + P2;
    let v2 = seed + P2;
    let v3 = seed;
    let v4 = seed - P1;
    do {
      v1 = round(v1, load<u64>(p));
      v2 = round(v2, load<u64>(p + 8));
      v3 = round(v3, load<u64>(p + 16));
      v4 = round(v4, load<u64>(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = seed + P5;
  }
  h += <u64>len;
  while (p + 8 <= end) {
    h ^= round(0, load<u64>(p));
    h = rotl<u64>(h, 27) * P1 + P4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= (<u64>load<u32>(p)) * P1;
    h = rotl<u64>(h, 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h ^= (<u64>load<u8>(p)) * P5;
    h = rotl<u64>(h, 11) * P1;
    p++;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

/** Seed of the key chain for a model (+ LoRA adapter, + cache_salt; pass "" when absent). */
export function blockSeed(model: string, lora: string, cacheSalt: string): u64 {
  let m = String.UTF8.encode(model);
  let l = String.UTF8.encode(lora);
  let s = String.UTF8.encode(cacheSalt);
  let withLora = lora.length > 0 || cacheSalt.length > 0;
  let withSalt = cacheSalt.length > 0;
  let n = m.byteLength + (withLora ? 1 + l.byteLength : 0) + (withSalt ? 1 + s.byteLength : 0);
  let buf = heap.alloc(<usize>(n > 0 ? n : 1));
  let o: usize = 0;
  memory.copy(buf, changetype<usize>(m), <usize>m.byteLength);
  o += <usize>m.byteLength;
  if (withLora) {
    store<u8>(buf + o, 0);
    memory.copy(buf + o + 1, changetype<usize>(l), <usize>l.byteLength);
    o += 1 + <usize>l.byteLength;
  }
  if (withSalt) {
    store<u8>(buf + o, 0);
    memory.copy(buf + o + 1, changetype<usize>(s), <usize>s.byteLength);
  }
  let h = xxh64(buf, n, 0);
  heap.free(buf);
  return h;
}

/**
 * Writes up to min(maxBlocks, out.length, floor(tokens.length / blockSize)) chained keys into `out`; returns
 * the count. maxBlocks < 0 means no limit besides out.length; blockSize <= 0 returns 0.
 */
export function blockKeys(tokens: TokenBuffer, blockSize: i32, seed: u64, maxBlocks: i32, out: StaticArray<u64>): i32 {
  if (blockSize <= 0) return 0;
  let n = tokens.length / blockSize;
  if (maxBlocks >= 0 && n > maxBlocks) n = maxBlocks;
  if (n > out.length) n = out.length;
  let p = tokens.dataStart();
  let bytes = blockSize << 2;
  let key = seed;
  for (let i = 0; i < n; i++) {
    key = xxh64(p + (<usize>i) * <usize>bytes, bytes, key);
    unchecked((out[i] = key));
  }
  return n;
}
