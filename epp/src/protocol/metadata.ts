// The metadata side of the protocol: filter metadata and attributes the proxy sends with each
// message, the served-endpoint report on the response path, and the dynamic metadata
// (`envoy.lb` → x-gateway-destination-endpoint) we send back next to the header.
import {
  DESTINATION_ENDPOINT_KEY,
  DESTINATION_ENDPOINT_NAMESPACE,
  DESTINATION_ENDPOINT_SERVED_KEY,
} from './keys.js';
import { structToJson, jsonToStruct } from './struct.js';
import type { Metadata, ProtoStruct, ProtoValue } from './types.js';

/** `metadata_context.filter_metadata` as namespace → plain object. */
export function decodeFilterMetadata(md: Metadata | null | undefined): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const fm = md?.filter_metadata;
  if (!fm) return out;
  for (const ns of Object.keys(fm)) out[ns] = structToJson(fm[ns]);
  return out;
}

/**
 * Flattens ext_proc `attributes` (map<string, Struct>, keyed by filter name, e.g.
 * `envoy.filters.http.ext_proc`) into attribute name → value, e.g. `xds.route_name` → "route-a".
 * If two filters report the same attribute the later one wins.
 */
export function flattenAttributes(
  attrs: Record<string, ProtoStruct> | null | undefined,
  into: Map<string, unknown> = new Map(),
): Map<string, unknown> {
  if (!attrs) return into;
  for (const ns of Object.keys(attrs)) {
    const obj = structToJson(attrs[ns]);
    for (const k of Object.keys(obj)) into.set(k, obj[k]);
  }
  return into;
}

/**
 * The `x-gateway-destination-endpoint-served` value in `envoy.lb`, if present. Reads the one
 * field directly: it is checked on every response-path message, so no full Struct decode.
 */
export function servedEndpoint(md: Metadata | null | undefined): string | undefined {
  const v = md?.filter_metadata?.[DESTINATION_ENDPOINT_NAMESPACE]?.fields?.[DESTINATION_ENDPOINT_SERVED_KEY];
  if (!v) return undefined;
  const s = stringOf(v);
  if (s !== undefined) return s;
  // Be lenient about a proxy that reports a one-element list.
  const first = (v.listValue ?? (v as Record<string, unknown>).list_value as { values?: ProtoValue[] } | undefined)?.values?.[0];
  return first ? stringOf(first) : undefined;
}

function stringOf(v: ProtoValue): string | undefined {
  const s = v.stringValue ?? ((v as Record<string, unknown>).string_value as string | undefined);
  return typeof s === 'string' && s.length > 0 ? s : undefined;
}

/**
 * The ProcessingResponse.dynamic_metadata for a routing decision: `envoy.lb` →
 * {x-gateway-destination-endpoint: destination} plus the decision's own namespaces. Keys the
 * decision puts in `envoy.lb` are kept, but the destination is always ours so header and metadata
 * stay identical (a protocol MUST).
 */
export function destinationMetadata(
  destination: string,
  extra: ReadonlyMap<string, ReadonlyMap<string, string>> | undefined,
): ProtoStruct {
  const root: Record<string, Record<string, string>> = {};
  if (extra) {
    for (const [ns, kv] of extra) {
      const obj: Record<string, string> = (root[ns] ??= {});
      for (const [k, v] of kv) obj[k] = v;
    }
  }
  (root[DESTINATION_ENDPOINT_NAMESPACE] ??= {})[DESTINATION_ENDPOINT_KEY] = destination;
  return jsonToStruct(root);
}
