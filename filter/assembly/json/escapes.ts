// JSON string escapes (RFC 8259 §7): the \uXXXX digits and the decoding of a string span the
// reader (./reader.ts) has already validated.

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Four hex digits at pos as a code unit, or -1. */
export function hex4(base: usize, pos: i32, n: i32): i32 {
  if (pos + 4 > n) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const h = hexDigit(<i32>load<u8>(base + <usize>(pos + k)));
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/** Decodes a validated string span with escapes into a UTF-16 string. */
export function decodeEscaped(base: usize, start: i32, end: i32): string {
  // Each input byte yields at most one UTF-16 unit (a 4-byte sequence yields 2; \uXXXX, 6 bytes, 1).
  const out = new ArrayBuffer((end - start) << 1);
  const o = changetype<usize>(out);
  let w: usize = 0;
  let i = start;
  while (i < end) {
    const c = <i32>load<u8>(base + <usize>i);
    if (c == 0x5c) {
      const e = <i32>load<u8>(base + <usize>(i + 1));
      let u = 0;
      if (e == 0x75) {
        u = hex4(base, i + 2, end);
        i += 6;
      } else {
        u = e == 0x62 ? 0x08 : e == 0x66 ? 0x0c : e == 0x6e ? 0x0a : e == 0x72 ? 0x0d : e == 0x74 ? 0x09 : e;
        i += 2;
      }
      store<u16>(o + w, <u16>u);
      w += 2;
      continue;
    }
    if (c < 0x80) {
      store<u16>(o + w, <u16>c);
      w += 2;
      i++;
      continue;
    }
    let cp = 0;
    if (c < 0xe0) {
      cp = ((c & 0x1f) << 6) | (<i32>load<u8>(base + <usize>(i + 1)) & 0x3f);
      i += 2;
    } else if (c < 0xf0) {
      cp = ((c & 0x0f) << 12) | ((<i32>load<u8>(base + <usize>(i + 1)) & 0x3f) << 6) | (<i32>load<u8>(base + <usize>(i + 2)) & 0x3f);
      i += 3;
    } else {
      cp =
        ((c & 0x07) << 18) |
        ((<i32>load<u8>(base + <usize>(i + 1)) & 0x3f) << 12) |
        ((<i32>load<u8>(base + <usize>(i + 2)) & 0x3f) << 6) |
        (<i32>load<u8>(base + <usize>(i + 3)) & 0x3f);
      i += 4;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      store<u16>(o + w, <u16>(0xd800 | (cp >> 10)));
      store<u16>(o + w + 2, <u16>(0xdc00 | (cp & 0x3ff)));
      w += 4;
    } else {
      store<u16>(o + w, <u16>cp);
      w += 2;
    }
  }
  return String.UTF16.decodeUnsafe(o, w);
}
