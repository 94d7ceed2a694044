// An HTTP header map with Envoy's HeaderMapImpl semantics, and the proxy-wasm 0.2.1 pair encoding.
//  - Names are lower-cased on every operation (Http::LowerCaseString).
//  - Entries keep insertion order, except that pseudo-headers (":path"...) are kept in front of
//    the regular ones (HeaderMapImpl inserts them before pseudo_headers_end_).
//  - get returns the first value (Context::getHeaderMapValue: entry[0]); remove removes every
//    value of the name; set (replace) removes every value and adds one (HeaderMapImpl::setCopy).
//  - size() counts entries; byteSize() sums name and value lengths (what Envoy's
//    proxy_get_header_map_size returns: HeaderMap::byteSize()).
// Values are bytes; they are held as latin1 strings, which round-trip any byte sequence.

export type HeaderPair = readonly [string, string];

export class HeaderMap {
  private entries: [string, string][] = [];

  constructor(pairs: Iterable<HeaderPair> = []) {
    for (const [k, v] of pairs) this.add(k, v);
  }

  static fromRecord(headers: Record<string, string | string[]>): HeaderMap {
    const m = new HeaderMap();
    for (const [k, v] of Object.entries(headers)) {
      for (const one of Array.isArray(v) ? v : [v]) m.add(k, one);
    }
    return m;
  }

  get size(): number {
    return this.entries.length;
  }

  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += k.length + v.length;
    return n;
  }

  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.entries.filter(([k]) => k === key).map(([, v]) => v);
  }

  add(name: string, value: string): void {
    const key = name.toLowerCase();
    if (key.startsWith(':')) {
      let i = 0;
      while (i < this.entries.length && this.entries[i][0].startsWith(':')) i++;
      this.entries.splice(i, 0, [key, value]);
    } else {
      this.entries.push([key, value]);
    }
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.add(name, value);
  }

  remove(name: string): void {
    const key = name.toLowerCase();
    this.entries = this.entries.filter(([k]) => k !== key);
  }

  clear(): void {
    this.entries = [];
  }

  pairs(): [string, string][] {
    return this.entries.map(([k, v]) => [k, v]);
  }

  clone(): HeaderMap {
    const m = new HeaderMap();
    m.entries = this.pairs();
    return m;
  }
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/**
 * The 0.2.1 pair encoding (cpp-host PairsUtil::marshalPairs): u32 count, a (u32 name length,
 * u32 value length) per pair, then each name and value followed by NUL; little-endian.
 */
export function serializePairs(pairs: readonly HeaderPair[]): Uint8Array {
  const names = pairs.map(([k]) => Buffer.from(k, 'latin1'));
  const values = pairs.map(([, v]) => Buffer.from(v, 'latin1'));
  let size = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) size += names[i].length + values[i].length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pairs.length, 0);
  let pos = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    out.writeUInt32LE(names[i].length, 4 + i * 8);
    out.writeUInt32LE(values[i].length, 8 + i * 8);
    names[i].copy(out, pos);
    pos += names[i].length + 1;
    values[i].copy(out, pos);
    pos += values[i].length + 1;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes the pair encoding as cpp-host PairsUtil::toPairs does: anything malformed (too short,
 * more than PAIRS_MAX_COUNT pairs, larger than PAIRS_MAX_BYTES, a missing NUL, trailing bytes)
 * yields no pairs at all.
 */
export function parsePairs(data: Uint8Array, maxBytes = 1024 * 1024, maxCount = 1024): [string, string][] {
  if (data.length > maxBytes || data.length < 4) return [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(0, true);
  if (count > maxCount) return [];
  if (4 + count * 8 > data.length) return [];
  let pos = 4 + count * 8;
  const out: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const klen = view.getUint32(4 + i * 8, true);
    const vlen = view.getUint32(8 + i * 8, true);
    if (pos + klen + 1 > data.length) return [];
    const k = latin1(data.subarray(pos, pos + klen));
    pos += klen;
    if (data[pos++] !== 0) return [];
    if (pos + vlen + 1 > data.length) return [];
    const v = latin1(data.subarray(pos, pos + vlen));
    pos += vlen;
    if (data[pos++] !== 0) return [];
    out.push([k, v]);
  }
  if (pos !== data.length) return [];
  return out;
}
