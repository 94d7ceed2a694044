// The proxy-wasm ABI v0.2.1 enumerations this filter uses, named as the proxy-wasm AssemblyScript
// SDK names them (@solo-io/proxy-runtime assembly/runtime.ts: WasmResultValues, LogLevelValues,
// BufferTypeValues, HeaderMapTypeValues, MetricTypeValues, FilterHeadersStatusValues,
// FilterDataStatusValues, FilterTrailersStatusValues) without the SDK's "Values" suffix. The
// numbers are the ABI's (proxy-wasm spec abi-versions/v0.2.1; proxy-wasm-cpp-sdk
// proxy_wasm_common.h and proxy_wasm_enums.h, which proxy-wasm-cpp-host builds against). Const
// enums: they compile to plain i32 constants, so exported callbacks keep their wasm signatures.

/** proxy_status_t: what a host call returns. */
export const enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
}

/** proxy_log_level_t. */
export const enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** proxy_buffer_type_t (the ones this filter reads). */
export const enum BufferType {
  HttpRequestBody = 0,
  PluginConfiguration = 7,
}

/** proxy_map_type_t (the one this filter reads and writes). */
export const enum MapType {
  HttpRequestHeaders = 0,
}

/** proxy_metric_type_t. */
export const enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/**
 * What proxy_on_request_headers returns, as Envoy's cpp-host reads it (Http::FilterHeadersStatus;
 * the spec's proxy_action_t only names 0 and 1).
 */
export const enum FilterHeadersStatus {
  Continue = 0,
  StopIteration = 1,
}

/** What proxy_on_request_body returns (Http::FilterDataStatus). */
export const enum FilterDataStatus {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationNoBuffer = 3,
}

/** What proxy_on_request_trailers returns (Http::FilterTrailersStatus). */
export const enum FilterTrailersStatus {
  Continue = 0,
}
