/** Byte-string hashing for the vocab and word-cache tables (not the block keys: those use xxh64 in blocks.ts). */

// @ts-ignore: decorator
@inline function mix64(h: u64): u64 {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

/** A 32-bit hash of [p, p+len) (never 0). */
export function hashBytes(p: usize, len: i32): u32 {
  let h: u64 = 0x9e3779b97f4a7c15 ^ (<u64>len);
  let end = p + <usize>len;
  while (p + 8 <= end) {
    h = (h ^ load<u64>(p)) * 0x100000001b3;
    h = rotl<u64>(h, 29);
    p += 8;
  }
  let tail: u64 = 0;
  let sh: u64 = 0;
  while (p < end) {
    tail |= (<u64>load<u8>(p)) << sh;
    sh += 8;
    p++;
  }
  h = (h ^ tail) * 0x100000001b3;
  let r = <u32>mix64(h);
  return r == 0 ? 1 : r;
}

/** Hash of the concatenation of two byte strings (equals hashBytes of the concatenation). */
export function hashBytes2(p1: usize, l1: i32, p2: usize, l2: i32, scratch: usize): u32 {
  memory.copy(scratch, p1, <usize>l1);
  memory.copy(scratch + <usize>l1, p2, <usize>l2);
  return hashBytes(scratch, l1 + l2);
}

// @ts-ignore: decorator
@inline export function hashPair(a: u32, b: u32): u32 {
  return <u32>(((((<u64>a) << 32) | <u64>b) * 0x9e3779b97f4a7c15) >> 32);
}

/** memcmp equality. */
export function bytesEqual(a: usize, b: usize, len: i32): bool {
  let i: i32 = 0;
  while (i + 8 <= len) {
    if (load<u64>(a + <usize>i) != load<u64>(b + <usize>i)) return false;
    i += 8;
  }
  while (i < len) {
    if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
    i++;
  }
  return true;
}
