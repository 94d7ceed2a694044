// proxy_get_property / proxy_set_property as Envoy answers them (source/extensions/common/wasm/
// context.cc Context::getProperty, findValue, setProperty; the CEL attribute vocabulary of
// docs/root/intro/arch_overview/advanced/attributes.rst):
//  - the path is split on NUL; the first segment is a top-level attribute (request, xds, plugin_name
//    ...), later segments walk into it. A dotted name such as "request.path" is therefore ONE
//    segment and is looked up as the filter-state key "wasm.request.path";
//  - strings are returned as their bytes, integers as 8 little-endian bytes, maps in the pair
//    encoding;
//  - proxy_set_property(path, value) always writes the filter-state key "wasm.<path>" of the stream
//    (NOT_FOUND without a stream), which later get_property calls can read back.
import { HeaderMap, serializePairs } from './header-map.js';

export type PropertyValue = string | Uint8Array | bigint | ReadonlyMap<string, string>;

/** What a property lookup can see: the stream (absent for root contexts) and the plugin. */
export interface PropertyScope {
  readonly pluginName: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly stream?: {
    readonly headers: HeaderMap | null;
    readonly routeName?: string;
    readonly clusterName?: string;
    readonly protocol: string;
    readonly connectionId: bigint;
    readonly sourceAddress?: string;
    readonly destinationAddress?: string;
    /** Filter state written by proxy_set_property, keyed "wasm.<path>". */
    readonly filterState: Map<string, Uint8Array>;
    /** Extra attributes, keyed by their segments joined with "." (e.g. "metadata.filter_metadata.envoy.lb"). */
    readonly extra: ReadonlyMap<string, PropertyValue>;
  };
}

function encode(v: PropertyValue): Uint8Array {
  if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'latin1'));
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    return new Uint8Array(b);
  }
  if (v instanceof Uint8Array) return v;
  return serializePairs([...v.entries()]);
}

function requestAttribute(name: string, headers: HeaderMap | null, protocol: string): PropertyValue | undefined {
  if (!headers) return undefined;
  const path = headers.get(':path');
  switch (name) {
    case 'path':
      return path;
    case 'url_path':
      return path === undefined ? undefined : path.split('?')[0];
    case 'query': {
      if (path === undefined) return undefined;
      const q = path.indexOf('?');
      return q < 0 ? '' : path.slice(q + 1);
    }
    case 'host':
      return headers.get(':authority');
    case 'scheme':
      return headers.get(':scheme');
    case 'method':
      return headers.get(':method');
    case 'referer':
      return headers.get('referer');
    case 'useragent':
      return headers.get('user-agent');
    case 'id':
      return headers.get('x-request-id');
    case 'protocol':
      return protocol;
    case 'headers': {
      const m = new Map<string, string>();
      for (const [k, v] of headers.pairs()) m.set(k, m.has(k) ? `${m.get(k)},${v}` : v);
      return m;
    }
    default:
      return undefined;
  }
}

/** Resolves a NUL-separated property path; undefined means NOT_FOUND. */
export function getProperty(path: string, scope: PropertyScope): Uint8Array | undefined {
  const segments = path.split('\0');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const [top, ...rest] = segments;
  const s = scope.stream;
  // Top-level names Envoy's Wasm context answers itself.
  if (rest.length === 0) {
    if (top === 'plugin_name') return encode(scope.pluginName);
    if (top === 'plugin_root_id') return encode(scope.rootId);
    if (top === 'plugin_vm_id') return encode(scope.vmId);
    if (top === 'connection_id') return s ? encode(s.connectionId) : undefined;
  }
  if (!s) return undefined; // no stream info: the CEL activation has nothing to offer
  const extra = s.extra.get(segments.join('.'));
  if (extra !== undefined) return encode(extra);
  if (top === 'request' && rest.length === 1) {
    const v = requestAttribute(rest[0], s.headers, s.protocol);
    return v === undefined ? undefined : encode(v);
  }
  if (top === 'request' && rest.length === 2 && rest[0] === 'headers') {
    const v = s.headers?.get(rest[1]);
    return v === undefined ? undefined : encode(v);
  }
  if (top === 'xds' && rest.length === 1) {
    if (rest[0] === 'route_name') return s.routeName === undefined ? undefined : encode(s.routeName);
    if (rest[0] === 'cluster_name') return s.clusterName === undefined ? undefined : encode(s.clusterName);
    return undefined;
  }
  if ((top === 'source' || top === 'destination') && rest.length === 1 && rest[0] === 'address') {
    const a = top === 'source' ? s.sourceAddress : s.destinationAddress;
    return a === undefined ? undefined : encode(a);
  }
  if (['request', 'response', 'connection', 'upstream', 'source', 'destination', 'xds', 'metadata', 'filter_state'].includes(top)) {
    return undefined;
  }
  // Anything else is a filter-state CelState written by proxy_set_property (uninterpreted bytes:
  // no further segments can be walked into).
  const state = s.filterState.get(`wasm.${top}`);
  if (state === undefined || rest.length > 0) return undefined;
  return state;
}
