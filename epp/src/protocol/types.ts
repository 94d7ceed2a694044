// TypeScript shapes of the ext_proc v3 messages as @grpc/proto-loader hands them to us (and takes
// them back) with the options in proto.ts: snake_case field names (keepCase), enums as their
// names, no defaults filled in, and a virtual `request`/`response`/`mutation` oneof discriminator.
// Only the fields tokenroute reads or writes are typed; the .proto files stay the source of truth.
//
// Pitfall kept visible here: google.protobuf.Struct/Value come from protobufjs' bundled
// descriptors, whose field names are camelCase even with keepCase (`stringValue`, not
// `string_value`). struct.ts is the only code that touches them.

export type BodySendMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED';

export interface ProtoValue {
  nullValue?: 'NULL_VALUE' | number | null;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
  /** oneof discriminator, present on decoded messages. */
  kind?: string;
}

export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export interface HeaderValue {
  key: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface HeaderMap {
  headers?: HeaderValue[];
}

export interface HeaderValueOption {
  header: HeaderValue;
  append_action?: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
  keep_empty_value?: boolean;
}

export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

export interface HttpHeaders {
  headers?: HeaderMap;
  end_of_stream?: boolean;
}

export interface HttpBody {
  body?: Uint8Array;
  end_of_stream?: boolean;
}

export interface HttpTrailers {
  trailers?: HeaderMap;
}

export interface Metadata {
  filter_metadata?: Record<string, ProtoStruct>;
}

export interface ProtocolConfiguration {
  request_body_mode?: BodySendMode | number;
  response_body_mode?: BodySendMode | number;
  send_body_without_waiting_for_header_response?: boolean;
}

export type ProcessingRequestKind =
  | 'request_headers'
  | 'response_headers'
  | 'request_body'
  | 'response_body'
  | 'request_trailers'
  | 'response_trailers';

export interface ProcessingRequest {
  request?: ProcessingRequestKind;
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: HttpTrailers;
  response_trailers?: HttpTrailers;
  metadata_context?: Metadata;
  attributes?: Record<string, ProtoStruct>;
  observability_mode?: boolean;
  protocol_config?: ProtocolConfiguration;
}

export interface StreamedBodyResponse {
  body?: Uint8Array;
  end_of_stream?: boolean;
}

export interface BodyMutation {
  body?: Uint8Array;
  clear_body?: boolean;
  streamed_response?: StreamedBodyResponse;
  mutation?: 'body' | 'clear_body' | 'streamed_response';
}

export interface CommonResponse {
  status?: 'CONTINUE' | 'CONTINUE_AND_REPLACE';
  header_mutation?: HeaderMutation;
  body_mutation?: BodyMutation;
  clear_route_cache?: boolean;
}

export interface HeadersResponse {
  response?: CommonResponse;
}

export interface BodyResponse {
  response?: CommonResponse;
}

export interface TrailersResponse {
  header_mutation?: HeaderMutation;
}

export interface ImmediateResponse {
  /** envoy.type.v3.HttpStatus; we send the numeric code, decoders hand back the enum name. */
  status: { code: number | string };
  headers?: HeaderMutation;
  body?: Uint8Array;
  grpc_status?: { status: number };
  details?: string;
}

export type ProcessingResponseKind =
  | 'request_headers'
  | 'response_headers'
  | 'request_body'
  | 'response_body'
  | 'request_trailers'
  | 'response_trailers'
  | 'immediate_response';

export interface ProcessingResponse {
  response?: ProcessingResponseKind;
  request_headers?: HeadersResponse;
  response_headers?: HeadersResponse;
  request_body?: BodyResponse;
  response_body?: BodyResponse;
  request_trailers?: TrailersResponse;
  response_trailers?: TrailersResponse;
  immediate_response?: ImmediateResponse;
  dynamic_metadata?: ProtoStruct;
}
