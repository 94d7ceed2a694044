/**
 * Chained 64-bit block keys over full blocks of token ids (shared by the filter and, through the standalone wasm,
 * the EPP). Algorithm (docs/tokenizer.md "Block keys"):
 *   seed   = xxh64(utf8(model) [+ 0x00 + utf8(lora) [+ 0x00 + utf8(cacheSalt)]], 0)
 *   key_0  = xxh64(le_u32(ids[0..B)), seed)
 *   key_i  = xxh64(le_u32(ids[i*B..(i+1)*B)), key_{i-1})
 * Only full blocks are hashed; a trailing partial block yields no key.
 */
import { TokenBuffer } from "./tokenizer/buffer";

/** xxHash64 of linear memory [data, data+len) with `seed` (the reference XXH64 algorithm). */
export function xxh64(data: usize, len: i32, seed: u64): u64 {
  return 0;
}

/** Seed of the key chain for a model (+ LoRA adapter, + cache_salt; pass "" when absent). */
export function blockSeed(model: string, lora: string, cacheSalt: string): u64 {
  return 0;
}

/**
 * Writes up to min(maxBlocks, out.length, floor(tokens.length / blockSize)) chained keys into `out`; returns
 * the count. blockSize <= 0 returns 0.
 */
export function blockKeys(tokens: TokenBuffer, blockSize: i32, seed: u64, maxBlocks: i32, out: StaticArray<u64>): i32 {
  return 0;
}
