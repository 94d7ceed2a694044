// What Envoy's proxy-wasm host (proxy-wasm-cpp-host, as built into Envoy ≥ 1.35 with the V8
// runtime) offers a module and expects from it, as data: the ABI's enum values, every host function
// Envoy registers with its wasm signature, the callback signatures it looks up, and the load-time
// checks it performs (BytecodeUtil::getAbiVersion, WasmBase::getFunctions, V8::link).
//
// This file has only type imports: filter/tools/build-filter.mjs transpiles and loads it directly
// to check the built filter's imports, so the list exists once.
import type { FuncSignature, ValType, WasmModuleInfo } from './wasm-module.js';

// proxy_status_t (proxy-wasm spec v0.2.1; cpp-host WasmResult)
export const Status = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;

// Envoy's FilterHeadersStatus / FilterDataStatus / FilterTrailersStatus as cpp-host passes them.
export const HeadersStatus = { Continue: 0, StopIteration: 1, ContinueAndEndStream: 2, StopAllIterationAndBuffer: 3, StopAllIterationAndWatermark: 4 } as const;
export const DataStatus = { Continue: 0, StopIterationAndBuffer: 1, StopIterationAndWatermark: 2, StopIterationNoBuffer: 3 } as const;
export const TrailersStatus = { Continue: 0, StopIteration: 1 } as const;
export const HEADERS_STATUS_NAMES = ['Continue', 'StopIteration', 'ContinueAndEndStream', 'StopAllIterationAndBuffer', 'StopAllIterationAndWatermark'] as const;
export const DATA_STATUS_NAMES = ['Continue', 'StopIterationAndBuffer', 'StopIterationAndWatermark', 'StopIterationNoBuffer'] as const;
export const TRAILERS_STATUS_NAMES = ['Continue', 'StopIteration'] as const;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  NetworkDownstreamData: 2,
  NetworkUpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;
export const BUFFER_TYPE_MAX = 8;

export const MapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;
export const MAP_TYPE_MAX = 7;

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3 } as const;
export const STREAM_TYPE_MAX = 3;

export const LOG_LEVEL_NAMES = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
/** cpp-host WasmBase: metric ids carry their type in the low 2 bits and grow by 4. */
export const METRIC_TYPE_MASK = 0x3;
export const METRIC_ID_INCREMENT = 0x4;

/** Envoy prefixes every custom metric with this stat namespace (Wasm::custom_stat_namespace_). */
export const CUSTOM_STAT_NAMESPACE = 'wasmcustom';

/** cpp-host limits.h */
export const MAX_WASM_MEMORY_BYTES = 1024 * 1024 * 1024;
export const WASI_RANDOM_GET_MAX_BYTES = 64 * 1024;
export const PAIRS_MAX_BYTES = 1024 * 1024;
export const PAIRS_MAX_COUNT = 1024;

const W = 'i32' as const;
const L = 'i64' as const;
const sig = (params: ValType[], results: ValType[] = [W]): FuncSignature => ({ params, results });
const words = (n: number): FuncSignature => sig(Array<ValType>(n).fill(W));

/**
 * Host functions in module "env" for ABI 0.2.1 (cpp-host exports.h FOR_ALL_HOST_FUNCTIONS plus the
 * 0.2.1-specific continue_stream, close_stream and get_log_level; WasmBase::registerCallbacks).
 * `Word` is i32 on wasm32; int64_t/uint64_t are i64.
 */
export const ENV_FUNCTIONS: Readonly<Record<string, FuncSignature>> = {
  proxy_log: words(3),
  proxy_get_status: words(3),
  proxy_set_property: words(4),
  proxy_get_property: words(4),
  proxy_send_local_response: words(8),
  proxy_get_shared_data: words(5),
  proxy_set_shared_data: words(5),
  proxy_register_shared_queue: words(3),
  proxy_resolve_shared_queue: words(5),
  proxy_dequeue_shared_queue: words(3),
  proxy_enqueue_shared_queue: words(3),
  proxy_get_header_map_value: words(5),
  proxy_add_header_map_value: words(5),
  proxy_replace_header_map_value: words(5),
  proxy_remove_header_map_value: words(3),
  proxy_get_header_map_pairs: words(3),
  proxy_set_header_map_pairs: words(3),
  proxy_get_header_map_size: words(2),
  proxy_get_buffer_status: words(3),
  proxy_get_buffer_bytes: words(5),
  proxy_set_buffer_bytes: words(5),
  proxy_http_call: words(10),
  proxy_grpc_call: words(12),
  proxy_grpc_stream: words(9),
  proxy_grpc_close: words(1),
  proxy_grpc_cancel: words(1),
  proxy_grpc_send: words(4),
  proxy_set_tick_period_milliseconds: words(1),
  proxy_get_current_time_nanoseconds: words(1),
  proxy_define_metric: words(4),
  proxy_increment_metric: sig([W, L]),
  proxy_record_metric: sig([W, L]),
  proxy_get_metric: words(2),
  proxy_set_effective_context: words(1),
  proxy_done: words(0),
  proxy_call_foreign_function: words(6),
  // ABI 0.2.1 only
  proxy_continue_stream: words(1),
  proxy_close_stream: words(1),
  proxy_get_log_level: words(1),
  // emscripten helpers cpp-host always registers
  pthread_equal: words(2),
  emscripten_notify_memory_growth: sig([W], []),
};

/** WASI functions cpp-host registers under both "wasi_unstable" and "wasi_snapshot_preview1". */
export const WASI_FUNCTIONS: Readonly<Record<string, FuncSignature>> = {
  fd_write: words(4),
  fd_read: words(4),
  fd_seek: sig([W, L, W, W]),
  fd_close: words(1),
  fd_fdstat_get: words(2),
  fd_fdstat_set_flags: words(2),
  fd_fdstat_set_rights: sig([W, L, L]),
  environ_get: words(2),
  environ_sizes_get: words(2),
  args_get: words(2),
  args_sizes_get: words(2),
  clock_time_get: sig([W, L, W]),
  clock_res_get: words(2),
  fd_advise: sig([W, L, L, W]),
  fd_allocate: sig([W, L, L]),
  fd_datasync: words(1),
  fd_filestat_set_size: sig([W, L]),
  fd_filestat_set_times: sig([W, L, L, W]),
  fd_pread: sig([W, W, W, L, W]),
  fd_pwrite: sig([W, W, W, L, W]),
  fd_readdir: sig([W, W, W, L, W]),
  fd_renumber: words(2),
  fd_sync: words(1),
  fd_tell: words(2),
  path_create_directory: words(3),
  path_filestat_set_times: sig([W, W, W, W, L, L, W]),
  path_link: words(6),
  path_readlink: words(6),
  path_remove_directory: words(3),
  path_rename: words(6),
  path_symlink: words(4),
  path_unlink_file: words(3),
  sock_accept: words(3),
  sock_recv: words(6),
  sock_send: words(5),
  sock_shutdown: words(2),
  random_get: words(2),
  sched_yield: words(0),
  poll_oneoff: words(4),
  proc_exit: sig([W], []),
  path_open: sig([W, W, W, W, W, L, L, W, W]),
  fd_prestat_get: words(2),
  fd_prestat_dir_name: words(3),
  path_filestat_get: words(5),
  fd_filestat_get: words(2),
};

export const WASI_MODULES = ['wasi_unstable', 'wasi_snapshot_preview1'] as const;

/** The host function Envoy links for (module, name), or undefined when it has none. */
export function envoyHostFunction(module: string, name: string): FuncSignature | undefined {
  if (module === 'env') return Object.prototype.hasOwnProperty.call(ENV_FUNCTIONS, name) ? ENV_FUNCTIONS[name] : undefined;
  if ((WASI_MODULES as readonly string[]).includes(module)) {
    return Object.prototype.hasOwnProperty.call(WASI_FUNCTIONS, name) ? WASI_FUNCTIONS[name] : undefined;
  }
  return undefined;
}

/**
 * Module exports cpp-host looks up (WasmBase::getFunctions) with the signatures it requires
 * (WasmCallVoid<N> = N i32 params, no result; WasmCallWord<N> = N i32 params, i32 result). A wrong
 * signature fails the VM ("Bad function signature for: ...").
 */
export const MODULE_FUNCTIONS: Readonly<Record<string, FuncSignature>> = {
  _initialize: sig([], []),
  _start: sig([], []),
  main: words(2),
  __main_void: words(0),
  malloc: words(1),
  proxy_on_memory_allocate: words(1),
  proxy_validate_configuration: words(2),
  proxy_on_vm_start: words(2),
  proxy_on_configure: words(2),
  proxy_on_tick: sig([W], []),
  proxy_on_context_create: sig([W, W], []),
  proxy_on_new_connection: words(1),
  proxy_on_downstream_data: words(3),
  proxy_on_upstream_data: words(3),
  proxy_on_downstream_connection_close: sig([W, W], []),
  proxy_on_upstream_connection_close: sig([W, W], []),
  proxy_on_request_headers: words(3),
  proxy_on_request_body: words(3),
  proxy_on_request_trailers: words(2),
  proxy_on_request_metadata: words(2),
  proxy_on_response_headers: words(3),
  proxy_on_response_body: words(3),
  proxy_on_response_trailers: words(2),
  proxy_on_response_metadata: words(2),
  proxy_on_http_call_response: sig([W, W, W, W, W], []),
  proxy_on_grpc_receive: sig([W, W, W], []),
  proxy_on_grpc_close: sig([W, W, W], []),
  proxy_on_grpc_receive_initial_metadata: sig([W, W, W], []),
  proxy_on_grpc_receive_trailing_metadata: sig([W, W, W], []),
  proxy_on_queue_ready: sig([W, W], []),
  proxy_on_foreign_function: sig([W, W, W], []),
  proxy_on_done: words(1),
  proxy_on_log: sig([W], []),
  proxy_on_delete: sig([W], []),
};

/**
 * Host calls V8 allows while the module's start function (_initialize/_start, main) runs
 * (cpp-host WasmBase::startVm setRestrictedCallback); any other host call traps with
 * "restricted_callback".
 */
export const START_ALLOWED = new Set<string>([
  'env.emscripten_notify_memory_growth',
  'env.proxy_log',
  ...[
    'fd_write', 'args_sizes_get', 'args_get', 'environ_sizes_get', 'environ_get', 'clock_time_get', 'clock_res_get', 'random_get',
    'poll_oneoff', 'fd_fdstat_get', 'fd_fdstat_set_flags', 'fd_advise', 'fd_allocate', 'fd_datasync', 'fd_fdstat_set_rights',
    'fd_filestat_get', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_pread', 'fd_prestat_dir_name', 'fd_prestat_get',
    'fd_pwrite', 'fd_readdir', 'fd_renumber', 'fd_sync', 'fd_tell', 'path_create_directory', 'path_filestat_get',
    'path_filestat_set_times', 'path_link', 'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink',
    'path_unlink_file', 'sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown',
  ].flatMap((f) => [`wasi_unstable.${f}`, `wasi_snapshot_preview1.${f}`]),
]);

/** Host calls allowed while the host runs the module's allocator (cpp-host WasmBase::allocMemory). */
export const MALLOC_ALLOWED = new Set<string>([
  'env.proxy_log',
  ...['fd_write', 'clock_time_get', 'poll_oneoff'].flatMap((f) => [`wasi_unstable.${f}`, `wasi_snapshot_preview1.${f}`]),
]);

export type AbiVersion = '0.1.0' | '0.2.0' | '0.2.1';

export interface ModuleCheck {
  readonly abiVersion?: AbiVersion;
  /** Problems Envoy would refuse the module for, each as Envoy words it. */
  readonly errors: readonly string[];
  /** The export name of the allocator ("malloc" preferred, as cpp-host does). */
  readonly allocator?: string;
  /** The start function ("_initialize" preferred over "_start"). */
  readonly start?: string;
}

function sameSignature(a: FuncSignature, b: FuncSignature): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length && a.params.every((p, i) => p === b.params[i]) && a.results.every((r, i) => r === b.results[i]);
}

function fmt(s: FuncSignature): string {
  return `(${s.params.join(', ')}) -> (${s.results.join(', ')})`;
}

/**
 * The checks Envoy runs when loading and linking a module: ABI version marker (first
 * proxy_abi_version_* function export), every import present among the host functions with the same
 * signature (V8::link; GLOBAL imports are refused), an allocator export, and the signatures of the
 * callbacks it will call. Only ABI 0.2.1 modules are accepted here (this host implements 0.2.1).
 */
export function checkModule(info: WasmModuleInfo): ModuleCheck {
  const errors: string[] = [];
  let abiVersion: AbiVersion | undefined;
  for (const e of info.exports) {
    if (e.kind !== 'function') continue;
    const m = /^proxy_abi_version_(0_1_0|0_2_0|0_2_1)$/.exec(e.name);
    if (m) {
      abiVersion = m[1].replace(/_/g, '.') as AbiVersion;
      break;
    }
  }
  if (!abiVersion) errors.push('Missing or unknown Proxy-Wasm ABI version');
  else if (abiVersion !== '0.2.1') errors.push(`Proxy-Wasm ABI ${abiVersion} is not supported by this host (0.2.1 only)`);

  for (const imp of info.imports) {
    if (imp.kind === 'global') {
      errors.push(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
      continue;
    }
    if (imp.kind !== 'function') continue;
    const want = envoyHostFunction(imp.module, imp.name);
    if (!want) {
      errors.push(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
      continue;
    }
    if (imp.signature && !sameSignature(imp.signature, want)) {
      errors.push(
        `Failed to load Wasm module due to an import type mismatch: ${imp.module}.${imp.name}, want: ${fmt(imp.signature)}, but host exports: ${fmt(want)}`,
      );
    }
  }

  const exported = new Map(info.exports.filter((e) => e.kind === 'function').map((e) => [e.name, e.signature]));
  for (const [name, want] of Object.entries(MODULE_FUNCTIONS)) {
    const got = exported.get(name);
    if (got && !sameSignature(got, want)) {
      errors.push(`Bad function signature for: ${name}, want: ${fmt(want)}, but the module exports: ${fmt(got)}`);
    }
  }
  const allocator = exported.has('malloc') ? 'malloc' : exported.has('proxy_on_memory_allocate') ? 'proxy_on_memory_allocate' : undefined;
  if (!allocator) errors.push('Wasm module is missing malloc function.');
  const start = exported.has('_initialize') ? '_initialize' : exported.has('_start') ? '_start' : undefined;
  if (!info.exports.some((e) => e.kind === 'memory') && !info.imports.some((i) => i.kind === 'memory')) {
    errors.push('Wasm module has no memory');
  }
  return { abiVersion, errors, allocator, start };
}
