/** UTF-8 helpers: lossy validation (WHATWG / Rust from_utf8_lossy "maximal subpart" rule) and UTF-16 → UTF-8. */

/** Scratch byte buffer that grows; reused across calls. */
export class ByteBuf {
  data: usize = 0;
  cap: i32 = 0;
  len: i32 = 0;
  ensure(n: i32): void {
    if (n <= this.cap) return;
    let c = this.cap < 256 ? 256 : this.cap;
    while (c < n) c <<= 1;
    let nd = heap.alloc(<usize>c);
    if (this.data) {
      memory.copy(nd, this.data, <usize>this.len);
      heap.free(this.data);
    }
    this.data = nd;
    this.cap = c;
  }
  @inline push(b: u8): void {
    if (this.len == this.cap) this.ensure(this.len + 1);
    store<u8>(this.data + <usize>this.len, b);
    this.len++;
  }
}

/**
 * What a UTF-8 lead byte allows (Unicode Table 3-7): sequence length n and the range [lo, hi] of
 * the second byte, packed as n | lo << 8 | hi << 16; 0 when b0 cannot start a multi-byte sequence.
 */
@inline function leadInfo(b0: u32): u32 {
  let lo: u32 = 0x80, hi: u32 = 0xbf, n: u32;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    else if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    else if (b0 == 0xf4) hi = 0x8f;
  } else return 0;
  return n | (lo << 8) | (hi << 16);
}

/**
 * Length of the valid UTF-8 sequence starting at p (1..4), or 0 if the bytes at p do not start one. When 0,
 * `maximalSubpart()` gives the number of bytes the lossy decoder replaces with one U+FFFD.
 */
export function validSeqLen(p: usize, end: usize): i32 {
  let b0 = <u32>load<u8>(p);
  if (b0 < 0x80) return 1;
  let info = leadInfo(b0);
  if (info == 0) return 0;
  let n = <i32>(info & 0xff), lo = (info >> 8) & 0xff, hi = info >> 16;
  if (p + <usize>n > end) return 0;
  let b1 = <u32>load<u8>(p + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (let i = 2; i < n; i++) {
    let b = <u32>load<u8>(p + <usize>i);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

/** Bytes covered by one U+FFFD at an invalid position p (the maximal subpart of an ill-formed sequence, >= 1). */
export function maximalSubpart(p: usize, end: usize): i32 {
  let b0 = <u32>load<u8>(p);
  let info = leadInfo(b0);
  if (info == 0) return 1;
  let n = <i32>(info & 0xff), lo = (info >> 8) & 0xff, hi = info >> 16;
  let i = 1;
  while (i < n && p + <usize>i < end) {
    let b = <u32>load<u8>(p + <usize>i);
    if (i == 1) {
      if (b < lo || b > hi) break;
    } else if (b < 0x80 || b > 0xbf) break;
    i++;
  }
  return i;
}

/** True if [p, p+len) is valid UTF-8. */
export function isValidUtf8(p: usize, len: i32): bool {
  let end = p + <usize>len;
  while (p < end) {
    // ASCII fast path, 8 bytes at a time
    if (p + 8 <= end && (load<u64>(p) & 0x8080808080808080) == 0) {
      p += 8;
      continue;
    }
    let n = validSeqLen(p, end);
    if (n == 0) return false;
    p += <usize>n;
  }
  return true;
}

/** Writes the lossy-decoded-then-re-encoded bytes of [p, p+len) into out (invalid subparts → EF BF BD). */
export function sanitizeUtf8(p: usize, len: i32, out: ByteBuf): void {
  let end = p + <usize>len;
  out.len = 0;
  out.ensure(len * 3 + 4);
  while (p < end) {
    let n = validSeqLen(p, end);
    if (n > 0) {
      for (let i = 0; i < n; i++) out.push(load<u8>(p + <usize>i));
      p += <usize>n;
    } else {
      p += <usize>maximalSubpart(p, end);
      out.push(0xef);
      out.push(0xbf);
      out.push(0xbd);
    }
  }
}

/** UTF-16 string → UTF-8 bytes in out; lone surrogates become U+FFFD. */
export function stringToUtf8(s: string, out: ByteBuf): void {
  let n = s.length;
  out.len = 0;
  out.ensure(n * 3 + 4);
  let base = changetype<usize>(s);
  let o = out.data;
  let w: usize = 0;
  for (let i = 0; i < n; i++) {
    let c = <u32>load<u16>(base + ((<usize>i) << 1));
    if (c < 0x80) {
      store<u8>(o + w++, <u8>c);
    } else if (c < 0x800) {
      store<u8>(o + w++, <u8>(0xc0 | (c >> 6)));
      store<u8>(o + w++, <u8>(0x80 | (c & 0x3f)));
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        if (c <= 0xdbff && i + 1 < n) {
          let d = <u32>load<u16>(base + ((<usize>(i + 1)) << 1));
          if (d >= 0xdc00 && d <= 0xdfff) {
            let cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            store<u8>(o + w++, <u8>(0xf0 | (cp >> 18)));
            store<u8>(o + w++, <u8>(0x80 | ((cp >> 12) & 0x3f)));
            store<u8>(o + w++, <u8>(0x80 | ((cp >> 6) & 0x3f)));
            store<u8>(o + w++, <u8>(0x80 | (cp & 0x3f)));
            i++;
            continue;
          }
        }
        c = 0xfffd;
      }
      store<u8>(o + w++, <u8>(0xe0 | (c >> 12)));
      store<u8>(o + w++, <u8>(0x80 | ((c >> 6) & 0x3f)));
      store<u8>(o + w++, <u8>(0x80 | (c & 0x3f)));
    }
  }
  out.len = <i32>w;
}

/** Decodes one code point of valid UTF-8 at p; returns cp, and its byte length via the global below. */
export let lastSeqLen: i32 = 0;
@inline export function decodeAt(p: usize): u32 {
  let b0 = <u32>load<u8>(p);
  if (b0 < 0x80) {
    lastSeqLen = 1;
    return b0;
  }
  if (b0 < 0xe0) {
    lastSeqLen = 2;
    return ((b0 & 0x1f) << 6) | (<u32>load<u8>(p + 1) & 0x3f);
  }
  if (b0 < 0xf0) {
    lastSeqLen = 3;
    return ((b0 & 0x0f) << 12) | ((<u32>load<u8>(p + 1) & 0x3f) << 6) | (<u32>load<u8>(p + 2) & 0x3f);
  }
  lastSeqLen = 4;
  return ((b0 & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3f) << 12) | ((<u32>load<u8>(p + 2) & 0x3f) << 6) | (<u32>load<u8>(p + 3) & 0x3f);
}

/** Appends the UTF-8 encoding of cp to out. */
export function pushCp(out: ByteBuf, cp: u32): void {
  if (cp < 0x80) out.push(<u8>cp);
  else if (cp < 0x800) {
    out.push(<u8>(0xc0 | (cp >> 6)));
    out.push(<u8>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push(<u8>(0xe0 | (cp >> 12)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
    out.push(<u8>(0x80 | (cp & 0x3f)));
  } else {
    out.push(<u8>(0xf0 | (cp >> 18)));
    out.push(<u8>(0x80 | ((cp >> 12) & 0x3f)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3f)));
    out.push(<u8>(0x80 | (cp & 0x3f)));
  }
}
