// The protocol's public face for code outside the EPP (the development gateway, the CLI that
// composes it): the wire types of Envoy's ext_proc, the names GIE's protocol fixes, the Struct
// codec, the proto loader and the endpoint address format. Everything else under epp/src is the
// EPP's own and not for import from outside it.
export { loadExtProcPackage, httpStatusNumber } from './proto.js';
export { jsonToStruct, structToJson } from './struct.js';
export { DESTINATION_ENDPOINT_KEY, DESTINATION_ENDPOINT_NAMESPACE, DESTINATION_ENDPOINT_SERVED_KEY } from './keys.js';
export { ERROR_CODE_HEADER } from './errors.js';
export type {
  HeaderMap,
  HeaderMutation,
  HeaderValue,
  ImmediateResponse,
  ProcessingRequest,
  ProcessingResponse,
  ProtoStruct,
} from './types.js';
export {
  formatEndpointAddress,
  parseEndpointAddress,
  parseEndpointAddressList,
  type AddressHosts,
  type EndpointAddress,
  type EndpointAddressList,
} from './endpoint-address.js';
