// Envoy header maps in and header mutations out.
//
// Envoy sends a header value either in `raw_value` (bytes; the default since the
// `envoy.reloadable_features.send_header_raw_value` runtime flag flipped on) or in `value` (UTF-8
// string; older Envoy or the flag turned off). The same flag decides which field Envoy *reads*
// from our mutations, and Envoy rejects a HeaderValue that sets both ("Only one of value or
// raw_value ... should be set"). So we answer in the field the proxy used (`HeaderValueField`),
// raw_value by default, and never both.
//
// For the append behaviour we set append_action OVERWRITE_IF_EXISTS_OR_ADD and leave the
// deprecated `append` BoolValue unset: Envoy's ext_proc reads `append` (unset = false = overwrite)
// and other proxies read append_action; both then overwrite.
//
// Raw bytes are mapped to JS strings as latin1, which round-trips any byte sequence unchanged
// (values we re-send are byte-identical); strings we author that hold characters above U+00FF go
// out as UTF-8.
import type { HeaderMap, HeaderMutation, HeaderValue, HeaderValueOption } from './types.js';

export type HeaderValueField = 'raw_value' | 'value';

/** Decoded headers plus which value field the proxy used (so replies can use the same one). */
export interface DecodedHeaders {
  readonly headers: Map<string, string>;
  readonly field: HeaderValueField | undefined;
}

/**
 * Decodes a HeaderMap into lower-cased name → value. Repeated names (Envoy sends each entry of a
 * multi-valued header separately) are joined with ',' as HTTP list semantics allow.
 */
export function decodeHeaderMap(map: HeaderMap | null | undefined): DecodedHeaders {
  const headers = new Map<string, string>();
  let field: HeaderValueField | undefined;
  const list = map?.headers;
  if (!list) return { headers, field };
  for (let i = 0; i < list.length; i++) {
    const h = list[i];
    const raw = h.raw_value;
    let value: string;
    if (raw && raw.length > 0) {
      value = bytesToString(raw);
      field = 'raw_value';
    } else if (h.value) {
      value = h.value;
      field ??= 'value';
    } else {
      value = '';
    }
    // Envoy lower-cases keys already; this is a cheap guard for other proxies.
    const key = h.key.toLowerCase();
    const prev = headers.get(key);
    headers.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  return { headers, field };
}

/** Reads one header's value from a HeaderMap without decoding the rest. */
export function findHeader(map: HeaderMap | null | undefined, name: string): string | undefined {
  const list = map?.headers;
  if (!list) return undefined;
  for (let i = 0; i < list.length; i++) {
    const h = list[i];
    if (h.key === name || h.key.toLowerCase() === name) {
      return h.raw_value && h.raw_value.length > 0 ? bytesToString(h.raw_value) : (h.value ?? '');
    }
  }
  return undefined;
}

/** One header to set (overwrite or add), encoded in the proxy's value field. */
export function headerOption(key: string, value: string, field: HeaderValueField = 'raw_value'): HeaderValueOption {
  const header: HeaderValue = field === 'raw_value' ? { key, raw_value: stringToBytes(value) } : { key, value };
  return { header, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/** Builds a HeaderMutation from headers to set (in order) and names to remove. */
export function buildHeaderMutation(
  set: Iterable<readonly [string, string]>,
  remove: readonly string[] = [],
  field: HeaderValueField = 'raw_value',
): HeaderMutation {
  const setHeaders: HeaderValueOption[] = [];
  for (const [k, v] of set) setHeaders.push(headerOption(k, v, field));
  const mutation: HeaderMutation = { set_headers: setHeaders };
  if (remove.length > 0) mutation.remove_headers = remove.slice();
  return mutation;
}

function bytesToString(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes)
    ? bytes.toString('latin1')
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

// Characters above U+00FF cannot be latin1; such strings are authored by us, not round-tripped.
const NON_LATIN1 = /[^\u0000-\u00ff]/;

function stringToBytes(s: string): Buffer {
  return Buffer.from(s, NON_LATIN1.test(s) ? 'utf8' : 'latin1');
}
