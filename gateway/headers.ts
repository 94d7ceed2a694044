// Header handling of the development gateway. Inside the gateway a header is a [name, value]
// pair of "byte strings" (each char one byte, latin1), the way Node hands raw headers over and
// writes them back, so any byte sequence round-trips unchanged. Conversions happen only at the
// edges: the proxy-wasm host takes UTF-8 text, ext_proc takes raw_value bytes.
import type { HeaderMap, HeaderMutation, HeaderValue } from '../epp/src/protocol/index.js';

export type HeaderPair = [string, string];

/** Hop-by-hop headers (RFC 9110 §7.6.1): never forwarded, never shown to filters or the EPP. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

export function isHopByHop(name: string, connectionTokens: ReadonlySet<string> = new Set()): boolean {
  return HOP_BY_HOP.has(name) || connectionTokens.has(name);
}

/** Names listed in a Connection header (also hop-by-hop). */
export function connectionTokens(pairs: readonly HeaderPair[]): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of pairs) if (k === 'connection') for (const t of v.split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  return out;
}

/** Node rawHeaders (name, value, name, value, ...) → lower-cased pairs without hop-by-hop headers. */
export function fromRawHeaders(raw: readonly string[]): HeaderPair[] {
  const all: HeaderPair[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) all.push([raw[i].toLowerCase(), raw[i + 1]]);
  const conn = connectionTokens(all);
  return all.filter(([k]) => !isHopByHop(k, conn));
}

export function getHeader(pairs: readonly HeaderPair[], name: string): string | undefined {
  for (const [k, v] of pairs) if (k === name) return v;
  return undefined;
}

export function removeHeader(pairs: HeaderPair[], name: string): HeaderPair[] {
  return pairs.filter(([k]) => k !== name);
}

export function setHeader(pairs: HeaderPair[], name: string, value: string): HeaderPair[] {
  const out = removeHeader(pairs, name);
  out.push([name, value]);
  return out;
}

/** Byte string → UTF-8 text (for the proxy-wasm host). */
export function bytesToUtf8(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/** UTF-8 text → byte string. */
export function utf8ToBytes(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** Pairs → an ext_proc HeaderMap, values as raw_value bytes (what Envoy sends by default). */
export function toHeaderMap(pairs: readonly HeaderPair[]): HeaderMap {
  return { headers: pairs.map(([key, v]) => ({ key, raw_value: Buffer.from(v, 'latin1') })) };
}

/** A HeaderValue's value as a byte string, whichever field the processor used. */
export function headerValueBytes(h: HeaderValue): string {
  if (h.raw_value && h.raw_value.length > 0) return Buffer.from(h.raw_value).toString('latin1');
  return utf8ToBytes(h.value ?? '');
}

export interface MutationResult {
  readonly pairs: HeaderPair[];
  /** Names the mutation set (added or overwrote). */
  readonly set: Set<string>;
  /** Names the mutation removed. */
  readonly removed: Set<string>;
  /** Entries that were ignored, with the reason (invalid characters, pseudo-header removal). */
  readonly ignored: string[];
}

const INVALID_VALUE = /[\0\r\n]/;
const VALID_NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Applies an ext_proc HeaderMutation as Envoy's ext_proc filter does (Envoy
 * `source/extensions/filters/http/ext_proc/mutation_utils.cc` at v1.35): removals first, then
 * each set_headers entry. A set entry overwrites unless the deprecated `append`
 * BoolValue is true or append_action says otherwise (Envoy's ext_proc reads `append`, unset =
 * overwrite; OVERWRITE_IF_EXISTS and ADD_IF_ABSENT are honoured too). An empty value removes the
 * header unless keep_empty_value. Pseudo-headers cannot be removed; names and values with
 * forbidden characters are ignored (Envoy rejects them).
 */
export function applyHeaderMutation(pairs: readonly HeaderPair[], m: HeaderMutation | undefined): MutationResult {
  let out: HeaderPair[] = [...pairs];
  const set = new Set<string>();
  const removed = new Set<string>();
  const ignored: string[] = [];
  for (const raw of m?.remove_headers ?? []) {
    const name = raw.toLowerCase();
    if (name.startsWith(':') || name === 'host') {
      ignored.push(`remove ${name}: pseudo-headers and host cannot be removed`);
      continue;
    }
    out = removeHeader(out, name);
    removed.add(name);
  }
  for (const o of m?.set_headers ?? []) {
    const name = (o.header?.key ?? '').toLowerCase();
    const value = o.header ? headerValueBytes(o.header) : '';
    if (!VALID_NAME.test(name) || INVALID_VALUE.test(value)) {
      ignored.push(`set ${JSON.stringify(name)}: invalid name or value`);
      continue;
    }
    const appendFlag = (o as { append?: { value?: boolean } | boolean }).append;
    const append = typeof appendFlag === 'boolean' ? appendFlag : appendFlag?.value === true;
    const exists = out.some(([k]) => k === name);
    const action = o.append_action;
    if (value === '' && !o.keep_empty_value) {
      if (!name.startsWith(':')) {
        out = removeHeader(out, name);
        removed.add(name);
      }
      continue;
    }
    if (action === 'ADD_IF_ABSENT' && exists) continue;
    if (action === 'OVERWRITE_IF_EXISTS' && !exists) continue;
    if (append && !name.startsWith(':')) out.push([name, value]);
    else out = name.startsWith(':') ? out.map(([k, v]) => [k, k === name ? value : v] as HeaderPair) : setHeader(out, name, value);
    set.add(name);
  }
  return { pairs: out, set, removed, ignored };
}

/** Pairs → a Node OutgoingHttpHeaders object (repeated names become arrays; pseudo-headers dropped). */
export function toNodeHeaders(pairs: readonly HeaderPair[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    if (k.startsWith(':')) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
