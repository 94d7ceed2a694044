/** Unicode lookups over the generated tables (unicode_data.ts). */
import {
  PROP_INDEX, PROP_DATA, CCC_INDEX, CCC_DATA, DECOMP_COUNT, DECOMP_INDEX, DECOMP_DATA, COMP_COUNT, COMP_KEYS, COMP_VALS,
} from "./unicode_data";
export { F_L, F_N, F_M, F_P, F_S, F_WS, F_NFC, FIRST_NFC_UNSAFE } from "./unicode_data";

/** Property flags of a code point (F_L | F_N | ...); 0 for cp >= 0x110000. */
// @ts-ignore: decorator
@inline export function props(cp: u32): u8 {
  if (cp >= 0x110000) return 0;
  let blk = <usize>load<u16>(PROP_INDEX + ((<usize>(cp >> 8)) << 1));
  return load<u8>(PROP_DATA + (blk << 8) + <usize>(cp & 0xff));
}

/** Canonical combining class rank (order-preserving, 0 = starter). */
// @ts-ignore: decorator
@inline export function ccc(cp: u32): u8 {
  if (cp >= 0x110000) return 0;
  let blk = <usize>load<u16>(CCC_INDEX + ((<usize>(cp >> 8)) << 1));
  return load<u8>(CCC_DATA + (blk << 8) + <usize>(cp & 0xff));
}

/** Full canonical decomposition of cp (non-Hangul) as (offset << 8 | length) into DECOMP_DATA, or 0. */
export function decompositionOf(cp: u32): u32 {
  let lo = 0, hi = DECOMP_COUNT - 1;
  while (lo <= hi) {
    let mid = (lo + hi) >>> 1;
    let k = load<u32>(DECOMP_INDEX + ((<usize>mid) << 3));
    if (k < cp) lo = mid + 1;
    else if (k > cp) hi = mid - 1;
    else return load<u32>(DECOMP_INDEX + ((<usize>mid) << 3) + 4);
  }
  return 0;
}

// @ts-ignore: decorator
@inline export function decompositionCp(i: u32): u32 {
  return load<u32>(DECOMP_DATA + ((<usize>i) << 2));
}

/** Primary composite of (a, b), or 0 (Hangul handled by the caller). */
export function compose(a: u32, b: u32): u32 {
  let key = ((<u64>a) << 21) | <u64>b;
  let lo = 0, hi = COMP_COUNT - 1;
  while (lo <= hi) {
    let mid = (lo + hi) >>> 1;
    let k = load<u64>(COMP_KEYS + ((<usize>mid) << 3));
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else return load<u32>(COMP_VALS + ((<usize>mid) << 2));
  }
  return 0;
}
