// The pieces of ext_proc messages the gateway builds and reads, in GIE's processing mode (request
// and response headers SEND, bodies FULL_DUPLEX_STREAMED) and with GIE's names (GIE
// `docs/proposals/004-endpoint-picker-protocol/README.md` at v1.5.0).
import {
  DESTINATION_ENDPOINT_KEY,
  DESTINATION_ENDPOINT_NAMESPACE,
  DESTINATION_ENDPOINT_SERVED_KEY,
  jsonToStruct,
  structToJson,
  type ProcessingRequest,
  type ProcessingResponse,
  type ProtoStruct,
} from '../../epp/src/protocol/index.js';

/**
 * What Envoy ≥ 1.35 announces in the first message of each stream for GIE's processing mode
 * (`protocol_config`, Envoy `source/extensions/filters/http/ext_proc/ext_proc.cc` at v1.35).
 */
export const PROTOCOL_CONFIG = { request_body_mode: 'FULL_DUPLEX_STREAMED', response_body_mode: 'FULL_DUPLEX_STREAMED' } as const;

/** The `xds.route_name` attribute Envoy's ext_proc filter attaches when asked for it. */
export function routeNameAttributes(routeName: string): NonNullable<ProcessingRequest['attributes']> {
  return { 'envoy.filters.http.ext_proc': jsonToStruct({ 'xds.route_name': routeName }) };
}

/** metadata_context with envoy.lb → x-gateway-destination-endpoint-served: the endpoint that answered. */
export function servedMetadata(endpoint: string): { filter_metadata: Record<string, ProtoStruct> } {
  return { filter_metadata: { [DESTINATION_ENDPOINT_NAMESPACE]: jsonToStruct({ [DESTINATION_ENDPOINT_SERVED_KEY]: endpoint }) } };
}

/** envoy.lb / x-gateway-destination-endpoint from a reply's dynamic metadata. */
export function metadataDestination(dm: ProtoStruct | undefined): string | undefined {
  if (!dm) return undefined;
  const ns = structToJson(dm)[DESTINATION_ENDPOINT_NAMESPACE];
  const v = ns && typeof ns === 'object' ? (ns as Record<string, unknown>)[DESTINATION_ENDPOINT_KEY] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** Which reply this is, for error messages. */
export function replyKind(r: ProcessingResponse): string {
  return r.response ?? Object.keys(r).find((k) => k !== 'dynamic_metadata' && k !== 'mode_override' && (r as Record<string, unknown>)[k] !== undefined) ?? 'an empty message';
}
