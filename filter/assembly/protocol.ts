// The x-tokenroute-* request-header protocol from the filter to the EPP, version 3
// (docs/protocol-headers.md is the normative description; epp/src/protocol/tokenroute-headers.ts
// decodes it). Everything here is pure computation: names, value encodings, the canonical string
// and its HMAC-SHA256 signature (SHA-256 per FIPS 180-4, HMAC per RFC 2104; checked against the
// RFC 4231 vectors in test/filter/filter/protocol.test.ts).

export const HEADER_PREFIX = 'x-tokenroute-';
export const PROTOCOL_VERSION = '3';

export const H_VERSION = 'x-tokenroute-v';
export const H_TIME = 'x-tokenroute-t';
export const H_MODEL = 'x-tokenroute-model';
export const H_PROFILE = 'x-tokenroute-profile';
export const H_TOKENS = 'x-tokenroute-tokens';
export const H_BLOCK_SIZE = 'x-tokenroute-block-size';
export const H_EXACT = 'x-tokenroute-exact';
export const H_DIGEST = 'x-tokenroute-digest';
export const H_BLOCKS = 'x-tokenroute-blocks';
export const H_ERROR = 'x-tokenroute-error';
export const H_SIGNATURE = 'x-tokenroute-sig';

/** Bytes of HMAC-SHA256 output kept in the signature (128 bits). */
export const SIGNATURE_BYTES = 16;

/** Whether a (lower-case) header name belongs to the protocol. */
export function isProtocolHeader(name: string): bool {
  if (name.length < HEADER_PREFIX.length) return false;
  for (let i = 0; i < HEADER_PREFIX.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20; // Envoy lower-cases names; be safe anyway
    if (c != HEADER_PREFIX.charCodeAt(i)) return false;
  }
  return true;
}

/** The values one request carries; strings are already in their header encoding. */
export class ProtocolValues {
  timeSeconds: i64 = 0;
  /**
   * The request's x-request-id as Envoy set it (signed, not sent again): binds the signature to
   * this request, so a captured header set cannot steer another one.
   */
  requestId: string = '';
  model: string = '';
  profile: string = '';
  /** Set when the filter produced keys. */
  tokens: i64 = -1;
  blockSize: i32 = 0;
  exact: bool = false;
  /** The digest's grid (digest.ts): blocks keyed one by one, and the prompt's full blocks. */
  digestDense: i32 = 0;
  digestBlocks: i32 = 0;
  blocks: string = '';
  /** Set (and tokens/blocks absent) when it did not. */
  error: string = '';
}

/**
 * The string the signature covers: a fixed label, then every protocol value in a fixed order,
 * each on its own line, absent values as empty lines. Values never contain '\n' (they are
 * header-safe by construction), so the encoding is unambiguous.
 */
export function canonicalString(v: ProtocolValues): string {
  const ok = v.error.length == 0;
  return (
    'tokenroute/' + PROTOCOL_VERSION + '\n' +
    v.timeSeconds.toString() + '\n' +
    v.requestId + '\n' +
    v.model + '\n' +
    v.profile + '\n' +
    (ok ? v.tokens.toString() : '') + '\n' +
    (ok ? v.blockSize.toString() : '') + '\n' +
    (ok ? (v.exact ? '1' : '0') : '') + '\n' +
    (ok ? digestValue(v) : '') + '\n' +
    (ok ? v.blocks : '') + '\n' +
    v.error
  );
}

/** Name/value pairs to add, in order; the signature is included when `key` is non-null. */
export function protocolHeaders(v: ProtocolValues, key: Uint8Array | null): Array<string> {
  const out = new Array<string>();
  out.push(H_VERSION);
  out.push(PROTOCOL_VERSION);
  out.push(H_TIME);
  out.push(v.timeSeconds.toString());
  out.push(H_MODEL);
  out.push(v.model);
  if (v.profile.length > 0) {
    out.push(H_PROFILE);
    out.push(v.profile);
  }
  if (v.error.length == 0) {
    out.push(H_TOKENS);
    out.push(v.tokens.toString());
    out.push(H_BLOCK_SIZE);
    out.push(v.blockSize.toString());
    out.push(H_EXACT);
    out.push(v.exact ? '1' : '0');
    out.push(H_DIGEST);
    out.push(digestValue(v));
    out.push(H_BLOCKS);
    out.push(v.blocks);
  } else {
    out.push(H_ERROR);
    out.push(v.error);
  }
  if (key !== null) {
    out.push(H_SIGNATURE);
    const mac = hmacSha256(key, utf8Bytes(canonicalString(v)));
    out.push(base64url(mac, SIGNATURE_BYTES));
  }
  return out;
}

// ---- value encodings -------------------------------------------------------------------------

/** x-tokenroute-digest: `<dense>:<blocks>`. */
export function digestValue(v: ProtocolValues): string {
  return v.digestDense.toString() + ':' + v.digestBlocks.toString();
}

/** Block keys as base64url (no padding) of their little-endian u64 bytes. */
export function encodeBlockKeys(keys: StaticArray<u64>, count: i32): string {
  const bytes = new Uint8Array(count * 8);
  for (let i = 0; i < count; i++) store<u64>(bytes.dataStart + <usize>(i * 8), unchecked(keys[i]));
  return base64url(bytes, bytes.length);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url without padding (RFC 4648 §5) of the first `len` bytes. */
export function base64url(data: Uint8Array, len: i32): string {
  if (len > data.length) len = data.length;
  const outLen = (len / 3) * 4 + (len % 3 == 0 ? 0 : (len % 3) + 1);
  const out = new ArrayBuffer(outLen << 1);
  const o = changetype<usize>(out);
  const src = data.dataStart;
  const alpha = changetype<usize>(B64);
  let w: usize = 0;
  let i = 0;
  for (; i + 3 <= len; i += 3) {
    const x = (<u32>load<u8>(src + <usize>i) << 16) | (<u32>load<u8>(src + <usize>i + 1) << 8) | <u32>load<u8>(src + <usize>i + 2);
    store<u16>(o + w, load<u16>(alpha + (<usize>(x >> 18) << 1)));
    store<u16>(o + w + 2, load<u16>(alpha + (<usize>((x >> 12) & 63) << 1)));
    store<u16>(o + w + 4, load<u16>(alpha + (<usize>((x >> 6) & 63) << 1)));
    store<u16>(o + w + 6, load<u16>(alpha + (<usize>(x & 63) << 1)));
    w += 8;
  }
  const rest = len - i;
  if (rest > 0) {
    let x = <u32>load<u8>(src + <usize>i) << 16;
    if (rest == 2) x |= <u32>load<u8>(src + <usize>i + 1) << 8;
    store<u16>(o + w, load<u16>(alpha + (<usize>(x >> 18) << 1)));
    store<u16>(o + w + 2, load<u16>(alpha + (<usize>((x >> 12) & 63) << 1)));
    w += 4;
    if (rest == 2) {
      store<u16>(o + w, load<u16>(alpha + (<usize>((x >> 6) & 63) << 1)));
      w += 2;
    }
  }
  return String.UTF16.decodeUnsafe(o, w);
}

/** Decodes standard or URL-safe base64 (padding optional); null when malformed. */
export function base64Decode(s: string): Uint8Array | null {
  let n = s.length;
  while (n > 0 && s.charCodeAt(n - 1) == 0x3d /* = */) n--;
  if (n % 4 == 1) return null;
  const out = new Uint8Array((n * 3) >> 2);
  let acc: u32 = 0;
  let bits = 0;
  let w = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let v: i32 = -1;
    if (c >= 0x41 && c <= 0x5a) v = c - 0x41;
    else if (c >= 0x61 && c <= 0x7a) v = c - 0x61 + 26;
    else if (c >= 0x30 && c <= 0x39) v = c - 0x30 + 52;
    else if (c == 0x2b || c == 0x2d) v = 62;
    else if (c == 0x2f || c == 0x5f) v = 63;
    if (v < 0) return null;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (w < out.length) out[w++] = <u8>((acc >> <u32>bits) & 0xff);
    }
  }
  return out;
}

/**
 * A string as a header-safe value: bytes outside [A-Za-z0-9] and `-._~:/@+` are written as %XX of
 * their UTF-8 (RFC 3986 percent-encoding), so any model name — control characters, CR/LF,
 * non-ASCII — becomes a plain token the EPP decodes with decodeURIComponent.
 */
export function percentEncode(s: string): string {
  const bytes = utf8Bytes(s);
  const n = bytes.length;
  let plain = true;
  for (let i = 0; i < n; i++) {
    if (!safeByte(unchecked(bytes[i]))) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  const hex = '0123456789ABCDEF';
  const parts = new Array<string>();
  for (let i = 0; i < n; i++) {
    const b = unchecked(bytes[i]);
    if (safeByte(b)) parts.push(String.fromCharCode(b));
    else parts.push('%' + hex.charAt(b >> 4) + hex.charAt(b & 15));
  }
  return parts.join('');
}

function safeByte(b: u8): bool {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b == 0x2d || b == 0x2e || b == 0x5f || b == 0x7e || b == 0x3a || b == 0x2f || b == 0x40 || b == 0x2b
  );
}

export function utf8Bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE));
}

// ---- SHA-256 (FIPS 180-4) and HMAC (RFC 2104) ------------------------------------------------

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/** SHA-256 of `data` (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array {
  const h = new StaticArray<u32>(8);
  h[0] = 0x6a09e667;
  h[1] = 0xbb67ae85;
  h[2] = 0x3c6ef372;
  h[3] = 0xa54ff53a;
  h[4] = 0x510e527f;
  h[5] = 0x9b05688c;
  h[6] = 0x1f83d9ab;
  h[7] = 0x5be0cd19;
  const n = data.length;
  // Padded message: data, 0x80, zeros, 64-bit big-endian bit length; a multiple of 64 bytes.
  const total = ((n + 9 + 63) >> 6) << 6;
  const msg = new Uint8Array(total);
  memory.copy(msg.dataStart, data.dataStart, <usize>n);
  msg[n] = 0x80;
  const bitLen = <u64>n << 3;
  for (let i = 0; i < 8; i++) msg[total - 1 - i] = <u8>(bitLen >> (<u64>i * 8));
  const w = new StaticArray<u32>(64);
  for (let off = 0; off < total; off += 64) {
    const p = msg.dataStart + <usize>off;
    for (let t = 0; t < 16; t++) unchecked((w[t] = bswap<u32>(load<u32>(p + <usize>(t * 4)))));
    for (let t = 16; t < 64; t++) {
      const w15 = unchecked(w[t - 15]);
      const w2 = unchecked(w[t - 2]);
      const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >> 3);
      const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >> 10);
      unchecked((w[t] = unchecked(w[t - 16]) + s0 + unchecked(w[t - 7]) + s1));
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = hh + S1 + ch + unchecked(K[t]) + unchecked(w[t]);
      const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = S0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) store<u32>(out.dataStart + <usize>(i * 4), bswap<u32>(h[i]));
  return out;
}

/** HMAC-SHA256(key, message) (32 bytes). */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  let k = key;
  if (k.length > 64) k = sha256(k);
  const inner = new Uint8Array(64 + message.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    const b: u8 = i < k.length ? k[i] : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  memory.copy(inner.dataStart + 64, message.dataStart, <usize>message.length);
  const ih = sha256(inner);
  memory.copy(outer.dataStart + 64, ih.dataStart, 32);
  return sha256(outer);
}
