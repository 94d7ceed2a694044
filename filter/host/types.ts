// The proxy-wasm host's public types: its options, one request in and its result out, log lines,
// metrics, and the load error (Envoy's "Unable to create Wasm HTTP filter").
import type { LogLevelName } from './envoy-abi.js';
import type { HeaderPair } from './header-map.js';
import type { PropertyValue } from './properties.js';


export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

export interface ProxyWasmHostOptions {
  /** The module bytes (or an already compiled module plus its bytes for checking). */
  readonly wasm: Uint8Array;
  /** PluginConfig.configuration, read by the plugin in proxy_on_configure. */
  readonly pluginConfig?: string | Uint8Array;
  /** VmConfig.configuration, read in proxy_on_vm_start. */
  readonly vmConfig?: string | Uint8Array;
  /** PluginConfig.allow_on_headers_stop_iteration (Envoy ≥ 1.35); default false as in Envoy. */
  readonly allowOnHeadersStopIteration?: boolean;
  /**
   * The stream's request buffer limit (route request_body_buffer_limit, else the listener's
   * per_connection_buffer_limit_bytes): Envoy's default 1 MiB; Envoy Gateway sets 32768.
   */
  readonly bufferLimitBytes?: number;
  /** PluginConfig.fail_open (same as failurePolicy FAIL_OPEN). */
  readonly failOpen?: boolean;
  /** PluginConfig.failure_policy; overrides failOpen when given. */
  readonly failurePolicy?: FailurePolicy;
  /** Number of worker threads, each with its own VM clone (Envoy --concurrency). Default 1. */
  readonly workers?: number;
  readonly pluginName?: string;
  readonly rootId?: string;
  readonly vmId?: string;
  /** Envoy's log level as proxy_get_log_level reports it; lower-level plugin logs are dropped. */
  readonly logLevel?: LogLevelName;
  /** VmConfig.environment_variables (WASI environ_get). */
  readonly env?: Readonly<Record<string, string>>;
  /** Clocks (ns); default wall clock and process.hrtime. */
  readonly clock?: { readonly realtimeNs?: () => bigint; readonly monotonicNs?: () => bigint };
  /** Called for every log line as it is emitted. */
  readonly onLog?: (entry: LogEntry) => void;
  /** Largest linear memory a VM may use before it is treated as failed (V8 in Envoy: 1 GiB). */
  readonly maxMemoryBytes?: number;
}

export interface LogEntry {
  readonly level: LogLevelName;
  readonly message: string;
  /** -1 for the base VM, -2 for the configuration canary. */
  readonly worker: number;
  readonly contextId: number;
  /** proxy_log, or wasi fd_write (stdout → info, stderr → error), or the host itself. */
  readonly source: 'proxy_log' | 'fd_write' | 'host';
}

export interface HostRequest {
  readonly method?: string;
  readonly path?: string;
  readonly authority?: string;
  readonly scheme?: string;
  /** Regular headers (pseudo-headers may be given here too). Values are UTF-8 text. */
  readonly headers?: Readonly<Record<string, string | string[]>> | readonly HeaderPair[];
  /**
   * The body as one piece or as the chunks Envoy would deliver one data callback each.
   * undefined or [] = no body (headers carry end_stream); [""] = one empty data frame.
   */
  readonly body?: string | Uint8Array | readonly (string | Uint8Array)[];
  readonly trailers?: Readonly<Record<string, string>> | readonly HeaderPair[];
  /** xds.route_name; undefined = the route has no name (NOT_FOUND). */
  readonly routeName?: string;
  readonly clusterName?: string;
  /** Additional properties, keyed by their path segments joined with ".". */
  readonly properties?: Readonly<Record<string, PropertyValue>>;
  /** The worker VM to use (default: round-robin). */
  readonly worker?: number;
}

export type HostAction =
  /** The request went on upstream (headersAfter, body and trailers are what the upstream gets). */
  | 'continue'
  /** Envoy answered it locally (the plugin's send_local_response, 413 over the buffer limit, 503 on a VM failure). */
  | 'localReply'
  /** The filter paused and nothing resumes it: Envoy would hold the request until a timeout. */
  | 'stalled'
  /** The plugin reset the stream (proxy_close_stream). */
  | 'reset';

export interface LocalReply {
  readonly status: number;
  readonly body: string;
  readonly headers: [string, string][];
  readonly details: string;
  readonly grpcStatus?: number;
}

export interface CallbackRecord {
  readonly callback: string;
  readonly returned?: number;
  /** The status Envoy acts on after cpp-host's conversion (e.g. StopIteration → StopAllIterationAndWatermark). */
  readonly effective?: string;
}

export interface HostResult {
  readonly action: HostAction;
  readonly worker: number;
  readonly contextId: number;
  readonly headersBefore: [string, string][];
  /** The request headers as forwarded (or as they stood when the stream ended). */
  readonly headersAfter: [string, string][];
  readonly addedHeaders: [string, string][];
  readonly removedHeaders: string[];
  readonly body: Uint8Array;
  readonly trailers: [string, string][];
  readonly localReply?: LocalReply;
  readonly logs: LogEntry[];
  readonly callbacks: CallbackRecord[];
  /** The trap message, when the VM failed during this request. */
  readonly trap?: string;
  /** True when the filter was skipped (failed VM with fail-open). */
  readonly filterSkipped: boolean;
}

export interface MetricValue {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly value: number;
  /** Histogram samples (bounded; Envoy keeps quantiles, not samples). */
  readonly samples?: number[];
}

export class HostLoadError extends Error {
  constructor(readonly reasons: readonly string[], readonly logs: readonly LogEntry[] = []) {
    super(`Unable to create Wasm HTTP filter: ${reasons.join('; ')}`);
  }

  /** The message and the filter's own error log lines (e.g. which configuration field is wrong), one per line. */
  explain(): string {
    const logged = this.logs.filter((l) => l.level === 'error' || l.level === 'critical').map((l) => l.message);
    return [this.message, ...logged].join('\n  ');
  }
}
