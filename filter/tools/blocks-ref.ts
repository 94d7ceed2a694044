/**
 * TypeScript reference of tokenroute's block keys (the same algorithm as filter/assembly/blocks.ts, which the Envoy
 * filter and the standalone wasm run). The EPP can use it to recompute keys from vLLM KV events' token_ids without
 * loading the wasm. Spec: docs/tokenizer.md "Block keys".
 */
const M64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const mul = (a: bigint, b: bigint): bigint => (a * b) & M64;
const add = (a: bigint, b: bigint): bigint => (a + b) & M64;
function round(acc: bigint, input: bigint): bigint {
  return mul(rotl(add(acc, mul(input, P2)), 31n), P1);
}
function mergeRound(acc: bigint, val: bigint): bigint {
  return add(mul(acc ^ round(0n, val), P1), P4);
}

/** Reference XXH64 of `data` with `seed` (BigInt arithmetic; clarity over speed). */
export function xxh64(data: Uint8Array, seed: bigint = 0n): bigint {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const len = data.byteLength;
  seed &= M64;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = add(add(seed, P1), P2), v2 = add(seed, P2), v3 = seed, v4 = (seed - P1) & M64;
    while (p <= len - 32) {
      v1 = round(v1, dv.getBigUint64(p, true));
      v2 = round(v2, dv.getBigUint64(p + 8, true));
      v3 = round(v3, dv.getBigUint64(p + 16, true));
      v4 = round(v4, dv.getBigUint64(p + 24, true));
      p += 32;
    }
    h = add(add(rotl(v1, 1n), rotl(v2, 7n)), add(rotl(v3, 12n), rotl(v4, 18n)));
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = add(seed, P5);
  }
  h = add(h, BigInt(len));
  while (p + 8 <= len) {
    h ^= round(0n, dv.getBigUint64(p, true));
    h = add(mul(rotl(h, 27n), P1), P4);
    p += 8;
  }
  if (p + 4 <= len) {
    h ^= mul(BigInt(dv.getUint32(p, true)), P1);
    h = add(mul(rotl(h, 23n), P2), P3);
    p += 4;
  }
  while (p < len) {
    h ^= mul(BigInt(data[p]!), P5);
    h = mul(rotl(h, 11n), P1);
    p++;
  }
  h ^= h >> 33n;
  h = mul(h, P2);
  h ^= h >> 29n;
  h = mul(h, P3);
  h ^= h >> 32n;
  return h;
}

/** seed = xxh64(utf8(model) [+ "\0" + utf8(lora)] [+ "\0" + utf8(cacheSalt)], 0); see blocks.ts for when parts appear. */
export function blockSeed(model: string, lora = "", cacheSalt = ""): bigint {
  let s = model;
  if (lora !== "" || cacheSalt !== "") s += "\0" + lora;
  if (cacheSalt !== "") s += "\0" + cacheSalt;
  return xxh64(new TextEncoder().encode(s), 0n);
}

/** key_i = xxh64(le_u32(ids of block i), key_{i-1}), key_{-1} = seed; full blocks only; at most maxBlocks (< 0: all). */
export function blockKeys(ids: ArrayLike<number>, blockSize: number, seed: bigint, maxBlocks = -1): bigint[] {
  if (blockSize <= 0) return [];
  let n = Math.floor(ids.length / blockSize);
  if (maxBlocks >= 0 && n > maxBlocks) n = maxBlocks;
  const buf = new Uint8Array(blockSize * 4);
  const dv = new DataView(buf.buffer);
  const keys: bigint[] = [];
  let key = seed;
  for (let b = 0; b < n; b++) {
    for (let j = 0; j < blockSize; j++) dv.setUint32(j * 4, ids[b * blockSize + j]! >>> 0, true);
    key = xxh64(buf, key);
    keys.push(key);
  }
  return keys;
}
