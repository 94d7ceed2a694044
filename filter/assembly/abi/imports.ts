// Host functions of the proxy-wasm ABI v0.2.1 (module "env") and the few WASI functions Envoy
// provides (module "wasi_snapshot_preview1"), declared with the exact wasm signatures Envoy's
// proxy-wasm-cpp-host registers (include/proxy-wasm/exports.h): V8 refuses to link a module whose
// import types differ ("import type mismatch"), and refuses any import it does not know ("missing
// import"). AssemblyScript only emits the imports that are actually called, so declaring one here
// costs nothing; filter/tools/build-filter.mjs checks the built module's import list against the
// set Envoy registers.
//
// Every pointer is an i32 offset into this module's memory; every `*_ptr_ptr` receives a pointer
// to memory the host allocated through our proxy_on_memory_allocate export (see ./memory.ts).

// ---- logging and time ----------------------------------------------------------------------

// @ts-ignore: decorator
@external("env", "proxy_log")
export declare function proxy_log(level: u32, message_ptr: usize, message_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(level_ptr: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(time_ptr: usize): u32;

// clock 1 = monotonic (cpp-host wasi_unstable_clock_time_get: 0 realtime, 1 monotonic).
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "clock_time_get")
export declare function wasi_clock_time_get(clock_id: u32, precision: u64, time_ptr: usize): u32;

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "random_get")
export declare function wasi_random_get(buf_ptr: usize, buf_len: usize): u32;

// ---- properties ------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("env", "proxy_get_property")
export declare function proxy_get_property(path_ptr: usize, path_size: usize, value_ptr_ptr: usize, value_size_ptr: usize): u32;

// ---- buffers -----------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(buffer_type: u32, start: usize, max_size: usize, data_ptr_ptr: usize, size_ptr: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_buffer_status")
export declare function proxy_get_buffer_status(buffer_type: u32, length_ptr: usize, flags_ptr: usize): u32;

// ---- header maps -------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(map_type: u32, data_ptr_ptr: usize, size_ptr: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(map_type: u32, key_ptr: usize, key_size: usize, value_ptr_ptr: usize, value_size_ptr: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_add_header_map_value")
export declare function proxy_add_header_map_value(map_type: u32, key_ptr: usize, key_size: usize, value_ptr: usize, value_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(map_type: u32, key_ptr: usize, key_size: usize, value_ptr: usize, value_size: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(map_type: u32, key_ptr: usize, key_size: usize): u32;

// ---- stream control ----------------------------------------------------------------------------

// @ts-ignore: decorator
@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  status_code: u32,
  details_ptr: usize, details_size: usize,
  body_ptr: usize, body_size: usize,
  headers_ptr: usize, headers_size: usize,
  grpc_status: i32,
): u32;

// ---- metrics -----------------------------------------------------------------------------------

// @ts-ignore: decorator
@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metric_type: u32, name_ptr: usize, name_size: usize, metric_id_ptr: usize): u32;

// @ts-ignore: decorator
@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metric_id: u32, offset: i64): u32;

// @ts-ignore: decorator
@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metric_id: u32, value: u64): u32;
