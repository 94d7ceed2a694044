// A proxy-wasm ABI v0.2.1 host for Node that drives a filter module the way Envoy (≥ 1.35, V8
// runtime, proxy-wasm-cpp-host) drives an HTTP filter. It serves the tests, the `tokenroute filter`
// CLI and the local development gateway. Each rule below names the Envoy / cpp-host code it follows;
// the few places it knowingly simplifies are marked SIMPLIFIED.
//
// Lifecycle (cpp-host wasm.cc createWasm, canary, getOrCreateThreadLocalPlugin):
//   1. the module is checked like BytecodeUtil::getAbiVersion + V8::link + WasmBase::getFunctions
//      (envoy-abi.ts checkModule) — a missing import or bad signature refuses the module;
//   2. a base VM is instantiated and its start function run (_initialize, else _start; with only
//      logging/clock/random/args/environ host calls allowed: WasmBase::startVm restricted callbacks);
//   3. a canary clone is started (root context create + proxy_on_vm_start) and configured
//      (proxy_on_configure); a false result rejects the plugin configuration;
//   4. one clone per worker thread, each with its own instance and linear memory, is started and
//      configured the same way.
// Requests are then served by one worker VM each (round-robin unless a worker is named).
import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import {
  BufferType,
  BUFFER_TYPE_MAX,
  CUSTOM_STAT_NAMESPACE,
  DataStatus,
  DATA_STATUS_NAMES,
  HeadersStatus,
  HEADERS_STATUS_NAMES,
  LOG_LEVEL_NAMES,
  MALLOC_ALLOWED,
  MapType,
  MAP_TYPE_MAX,
  MAX_WASM_MEMORY_BYTES,
  METRIC_ID_INCREMENT,
  METRIC_TYPE_MASK,
  MetricType,
  START_ALLOWED,
  Status,
  StreamType,
  STREAM_TYPE_MAX,
  TrailersStatus,
  TRAILERS_STATUS_NAMES,
  WASI_FUNCTIONS,
  WASI_MODULES,
  WASI_RANDOM_GET_MAX_BYTES,
  ENV_FUNCTIONS,
  checkModule,
  type LogLevelName,
  type ModuleCheck,
} from './envoy-abi.js';
import { HeaderMap, parsePairs, serializePairs, type HeaderPair } from './header-map.js';
import { getProperty, type PropertyScope, type PropertyValue } from './properties.js';
import { parseWasmModule } from './wasm-module.js';

// ---------------------------------------------------------------------------------------------
// Public types

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
}

// ---------------------------------------------------------------------------------------------
// Internals

const E_SUCCESS = 0;
const E_BADF = 8;
const E_FAULT = 21;
const E_INVAL = 28;
const E_NOSYS = 52;
const E_NOTSUP = 58;
const E_NOENT = 44;
const E_NOTDIR = 20;

const LOG_INFO = 2;
const LOG_ERROR = 4;

/** A trap raised by a host function (V8 turns it into a wasm trap in the caller). */
class HostTrap extends Error {}

const utf8ToBytesString = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const bytesStringToUtf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
const toBytes = (x: string | Uint8Array): Uint8Array => (typeof x === 'string' ? new Uint8Array(Buffer.from(x, 'utf8')) : x);

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  return new Uint8Array(Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
}

interface Metric {
  type: 'counter' | 'gauge' | 'histogram';
  value: number;
  samples: number[];
}

/** Process-wide state Envoy shares across worker VMs: the stats store and shared data. */
class SharedState {
  readonly metrics = new Map<string, Metric>();
  readonly sharedData = new Map<string, { value: Uint8Array; cas: number }>();
  nextCas = 1;
  readonly queues = new Map<string, { token: number; items: Uint8Array[]; vm: Vm; contextId: number }>();
  readonly queuesByToken = new Map<number, { token: number; items: Uint8Array[]; vm: Vm; contextId: number }>();
  nextQueueToken = 1;
}

/** One stream's state on the host side (Envoy's Context members for an HTTP filter). */
class StreamState {
  /** The headers object; `request_headers_` (headersAvailable) says whether the plugin may touch it. */
  readonly headers: HeaderMap;
  headersAvailable = true;
  trailers: HeaderMap | null = null;
  trailersAvailable = false;
  /** FilterManager's buffered request data for this filter. */
  buffered: Uint8Array[] = [];
  bufferedLength = 0;
  /** The chunk of the current data callback (request_body_buffer_), when not buffering. */
  currentChunk: Uint8Array | null = null;
  bufferingRequestBody = false;
  endOfStream = false;
  inBodyCallback = false;
  localReply: LocalReply | null = null;
  continueRequested = false;
  resetRequested = false;
  readonly filterState = new Map<string, Uint8Array>();
  constructor(
    headers: HeaderMap,
    readonly routeName: string | undefined,
    readonly clusterName: string | undefined,
    readonly extra: ReadonlyMap<string, PropertyValue>,
    readonly connectionId: bigint,
  ) {
    this.headers = headers;
  }
}

interface ContextState {
  readonly id: number;
  readonly parentId: number;
  readonly stream?: StreamState;
}

type Exports = Record<string, (...args: number[] | bigint[]) => number | undefined>;

/** One VM instance (cpp-host WasmBase with its WasmVm): a worker clone, the base VM or the canary. */
class Vm {
  instance!: WebAssembly.Instance;
  memory!: WebAssembly.Memory;
  exports!: Exports;
  failed: string | null = null;
  /** Host calls allowed right now (restricted callbacks), or null for all. */
  restricted: Set<string> | null = null;
  nextContextId = 1;
  readonly contexts = new Map<number, ContextState>();
  rootContextId = 0;
  current: ContextState | null = null;
  effectiveContextId = 0;
  stopNextIteration = false;
  readonly afterCall: (() => void)[] = [];
  readonly metricNames = new Map<number, string>();
  nextCounterId: number = MetricType.Counter;
  nextGaugeId: number = MetricType.Gauge;
  nextHistogramId: number = MetricType.Histogram;
  /** The plugin configuration while proxy_on_configure / the root on_context_create runs (temp_plugin_). */
  tempPluginConfig: Uint8Array | null = null;
  tickPeriodMs = 0;
  /** Set while the host calls the allocator, to refuse nested host calls. */
  private inMalloc = false;

  constructor(
    readonly host: ProxyWasmHost,
    readonly worker: number,
  ) {}

  instantiate(module: WebAssembly.Module): void {
    const imports = this.buildImports(module);
    this.instance = new WebAssembly.Instance(module, imports);
    this.exports = this.instance.exports as unknown as Exports;
    const mem = this.instance.exports.memory ?? this.importedMemory;
    if (!(mem instanceof WebAssembly.Memory)) throw new HostLoadError(['Wasm module has no memory']);
    this.memory = mem;
  }

  private importedMemory: WebAssembly.Memory | undefined;

  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  // ---- calling into the module ----------------------------------------------------------------

  has(name: string): boolean {
    return typeof this.exports[name] === 'function';
  }

  /**
   * Calls an export in the given context (cpp-host SaveRestoreContext). A trap fails the whole VM
   * (V8::getModuleFunctionImpl: fail(FailState::RuntimeError, "Function: <name> failed: ...")),
   * as does growing memory past the V8 limit. Returns undefined after a failure.
   */
  call(name: string, context: ContextState | null, ...args: (number | bigint)[]): number | undefined {
    if (this.failed) return undefined;
    const fn = this.exports[name];
    if (typeof fn !== 'function') return undefined;
    const savedCurrent = this.current;
    const savedEffective = this.effectiveContextId;
    this.current = context;
    this.effectiveContextId = 0;
    let result: number | undefined;
    try {
      result = (fn as (...a: (number | bigint)[]) => number | undefined)(...args);
    } catch (err) {
      this.fail(`Function: ${name} failed: ${(err as Error).message}`);
      result = undefined;
    } finally {
      this.current = savedCurrent;
      this.effectiveContextId = savedEffective;
    }
    if (!this.failed && this.memoryBytes > this.host.maxMemoryBytes) {
      this.fail(`Function: ${name} failed: linear memory of ${this.memoryBytes} bytes exceeds the ${this.host.maxMemoryBytes}-byte VM limit`);
    }
    return result;
  }

  /** cpp-host DeferAfterCallActions: run deferred actions, reset stopNextIteration afterwards. */
  runAfterCallActions(): void {
    while (this.afterCall.length > 0) this.afterCall.shift()!();
  }

  fail(message: string): void {
    if (this.failed) return;
    this.failed = message;
    this.host.emitLog({ level: 'critical', message, worker: this.worker, contextId: this.current?.id ?? 0, source: 'host' });
  }

  /** cpp-host WasmBase::allocMemory: the module's malloc with restricted callbacks. */
  alloc(size: number): number {
    if (this.inMalloc) return 0;
    const allocator = this.host.check.allocator!;
    const savedRestricted = this.restricted;
    this.restricted = MALLOC_ALLOWED;
    this.inMalloc = true;
    let ptr = 0;
    try {
      ptr = Number((this.exports[allocator] as (n: number) => number)(size)) >>> 0;
    } catch (err) {
      this.restricted = savedRestricted;
      this.inMalloc = false;
      throw err; // a trap inside the allocator traps the calling host function, hence the VM
    }
    this.restricted = savedRestricted;
    this.inMalloc = false;
    if (ptr === 0 || ptr + size > this.memory.buffer.byteLength) return 0;
    return ptr;
  }

  // ---- memory helpers (cpp-host WasmVm getMemory/setMemory/setWord) ----------------------------

  getMemory(ptr: number, size: number): Uint8Array | undefined {
    ptr >>>= 0;
    size >>>= 0;
    const buf = this.memory.buffer;
    if (ptr + size > buf.byteLength) return undefined;
    return new Uint8Array(buf, ptr, size);
  }

  setWord(ptr: number, value: number): boolean {
    ptr >>>= 0;
    if (ptr + 4 > this.memory.buffer.byteLength) return false;
    new DataView(this.memory.buffer).setUint32(ptr, value >>> 0, true);
    return true;
  }

  setU64(ptr: number, value: bigint): boolean {
    ptr >>>= 0;
    if (ptr + 8 > this.memory.buffer.byteLength) return false;
    new DataView(this.memory.buffer).setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  setMemory(ptr: number, data: Uint8Array): boolean {
    const dst = this.getMemory(ptr, data.length);
    if (!dst) return false;
    dst.set(data);
    return true;
  }

  /** cpp-host WasmBase::copyToPointerSize: empty → (0, 0) without allocating. */
  copyToPointerSize(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (data.length > 0) {
      ptr = this.alloc(data.length);
      if (ptr === 0) return false;
      if (!this.setMemory(ptr, data)) return false;
    }
    return this.setWord(ptrPtr, ptr) && this.setWord(sizePtr, data.length);
  }

  readString(ptr: number, size: number): string | undefined {
    const m = this.getMemory(ptr, size);
    return m ? Buffer.from(m).toString('latin1') : undefined;
  }

  /** contextOrEffectiveContext() */
  context(): ContextState | null {
    if (this.effectiveContextId !== 0) {
      const c = this.contexts.get(this.effectiveContextId);
      if (c) return c;
    }
    return this.current;
  }

  // ---- imports ---------------------------------------------------------------------------------

  private buildImports(module: WebAssembly.Module): WebAssembly.Imports {
    const env: Record<string, unknown> = {};
    const impl = this.envImpl();
    for (const name of Object.keys(ENV_FUNCTIONS)) env[name] = this.guard(`env.${name}`, impl[name] ?? (() => Status.Unimplemented));
    const wasiImpl = this.wasiImpl();
    const imports: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
    for (const mod of WASI_MODULES) {
      const ns: Record<string, unknown> = {};
      for (const name of Object.keys(WASI_FUNCTIONS)) ns[name] = this.guard(`${mod}.${name}`, wasiImpl[name]);
      imports[mod] = ns as WebAssembly.ModuleImports;
    }
    // A module that imports its memory gets one created for it (V8::link MEMORY).
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind === 'memory') {
        const info = this.host.moduleInfo.memory;
        this.importedMemory = new WebAssembly.Memory({ initial: info?.initial ?? 1, ...(info?.maximum !== undefined ? { maximum: info.maximum } : {}) });
        (imports[imp.module] as Record<string, unknown>)[imp.name] = this.importedMemory;
      }
    }
    return imports;
  }

  /** Wraps a host function with the restricted-callback check (V8 traps "restricted_callback"). */
  private guard(qualified: string, fn: (...args: never[]) => unknown): (...args: never[]) => unknown {
    return (...args: never[]) => {
      if (this.restricted && !this.restricted.has(qualified)) throw new HostTrap('restricted_callback');
      return fn(...args);
    };
  }

  private envImpl(): Record<string, (...args: never[]) => unknown> {
    const host = this.host;
    const self = this;
    const stream = (): StreamState | undefined => self.context()?.stream;
    // proxy_add_header_map_value and proxy_replace_header_map_value differ only in the map operation.
    const writeHeader = (op: 'add' | 'set', type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number => {
      if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
      const key = self.readString(keyPtr, keySize);
      const value = self.readString(valuePtr, valueSize);
      if (key === undefined || value === undefined) return Status.InvalidMemoryAccess;
      const map = host.mutableMap(stream(), u32(type));
      if (!map) return Status.BadArgument;
      map[op](key, value);
      return Status.Ok;
    };
    const u32 = (x: number) => x >>> 0;

    return {
      proxy_log(level: number, ptr: number, size: number): number {
        const msg = self.readString(ptr, size);
        if (msg === undefined) return Status.InvalidMemoryAccess;
        if (level < 0 || level > 5) throw new HostTrap('proxy_log: invalid log level'); // Envoy PANICs on others
        host.pluginLog(level, bytesStringToUtf8(msg), self, 'proxy_log');
        return Status.Ok;
      },
      proxy_get_log_level(ptr: number): number {
        return self.setWord(ptr, host.logLevel) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_get_current_time_nanoseconds(ptr: number): number {
        return self.setU64(ptr, host.realtimeNs()) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_set_tick_period_milliseconds(ms: number): number {
        self.tickPeriodMs = u32(ms); // cpp-host: the period of the root context
        return Status.Ok;
      },
      proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number): number {
        if (!self.setWord(codePtr, 0)) return Status.InvalidMemoryAccess;
        return self.copyToPointerSize(new Uint8Array(0), ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
      },

      // -- properties (Envoy Context::getProperty / setProperty)
      proxy_get_property(pathPtr: number, pathSize: number, valuePtrPtr: number, valueSizePtr: number): number {
        const path = self.readString(pathPtr, pathSize);
        if (path === undefined) return Status.InvalidMemoryAccess;
        const value = getProperty(path, host.propertyScope(stream()));
        if (value === undefined) return Status.NotFound;
        return self.copyToPointerSize(value, valuePtrPtr, valueSizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_set_property(pathPtr: number, pathSize: number, valuePtr: number, valueSize: number): number {
        const path = self.readString(pathPtr, pathSize);
        const value = self.getMemory(valuePtr, valueSize);
        if (path === undefined || !value) return Status.InvalidMemoryAccess;
        const s = stream();
        if (!s) return Status.NotFound; // no stream info (root context)
        s.filterState.set(`wasm.${path}`, new Uint8Array(value));
        return Status.Ok;
      },

      // -- buffers (cpp-host exports.cc get_buffer_bytes / get_buffer_status / set_buffer_bytes;
      //    Envoy Context::getBuffer, Buffer::copyFrom)
      proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
        if (u32(type) > BUFFER_TYPE_MAX) return Status.BadArgument;
        const buf = host.getBuffer(self, u32(type));
        if (!buf) return Status.NotFound;
        start = u32(start);
        length = u32(length);
        if (start + length > 0xffffffff) return Status.BadArgument; // `start > start + length` in u32
        if (start > buf.length) length = 0;
        else if (start + length > buf.length) length = buf.length - start;
        if (length === 0) return self.setWord(ptrPtr, 0) && self.setWord(sizePtr, 0) ? Status.Ok : Status.InvalidMemoryAccess;
        return self.copyToPointerSize(buf.subarray(start, start + length), ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
        if (u32(type) > BUFFER_TYPE_MAX) return Status.BadArgument;
        const buf = host.getBuffer(self, u32(type));
        if (!buf) return Status.NotFound;
        return self.setWord(lengthPtr, buf.length) && self.setWord(flagsPtr, 0) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_set_buffer_bytes(type: number, start: number, length: number, dataPtr: number, dataSize: number): number {
        if (u32(type) > BUFFER_TYPE_MAX) return Status.BadArgument;
        const data = self.getMemory(dataPtr, dataSize);
        if (!data) return Status.InvalidMemoryAccess;
        return host.setBuffer(self, u32(type), u32(start), u32(length), new Uint8Array(data));
      },

      // -- header maps (cpp-host exports.cc; Envoy Context::getMap / getConstMap and the
      //    HeaderMap operations)
      proxy_get_header_map_value(type: number, keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number): number {
        if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
        const key = self.readString(keyPtr, keySize);
        if (key === undefined) return Status.InvalidMemoryAccess;
        const map = host.constMap(stream(), u32(type));
        if (!map) return Status.BadArgument; // "Requested map type is not currently available"
        const v = map.get(key);
        if (v === undefined) return Status.NotFound;
        return self.copyToPointerSize(new Uint8Array(Buffer.from(v, 'latin1')), valuePtrPtr, valueSizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number): number {
        if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
        const map = host.constMap(stream(), u32(type));
        const pairs = map ? map.pairs() : []; // headerMapToPairs(nullptr) is empty, still Ok
        const data = pairs.length === 0 ? new Uint8Array(0) : serializePairs(pairs);
        return self.copyToPointerSize(data, ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_get_header_map_size(type: number, resultPtr: number): number {
        if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
        const map = host.mutableMap(stream(), u32(type));
        if (!map) return Status.BadArgument;
        return self.setWord(resultPtr, map.byteSize()) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_add_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
        return writeHeader('add', type, keyPtr, keySize, valuePtr, valueSize);
      },
      proxy_replace_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number): number {
        return writeHeader('set', type, keyPtr, keySize, valuePtr, valueSize);
      },
      proxy_remove_header_map_value(type: number, keyPtr: number, keySize: number): number {
        if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
        const key = self.readString(keyPtr, keySize);
        if (key === undefined) return Status.InvalidMemoryAccess;
        const map = host.mutableMap(stream(), u32(type));
        if (!map) return Status.BadArgument;
        map.remove(key);
        return Status.Ok;
      },
      proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
        if (u32(type) > MAP_TYPE_MAX) return Status.BadArgument;
        const data = self.getMemory(ptr, size);
        if (!data) return Status.InvalidMemoryAccess;
        const map = host.mutableMap(stream(), u32(type));
        if (!map) return Status.BadArgument;
        map.clear();
        for (const [k, v] of parsePairs(data)) map.add(k, v);
        return Status.Ok;
      },

      // -- stream control (Envoy Context::continueStream / closeStream / sendLocalResponse)
      proxy_continue_stream(type: number): number {
        if (u32(type) > STREAM_TYPE_MAX) return Status.BadArgument;
        const s = stream();
        if (u32(type) === StreamType.Request && s) {
          self.afterCall.push(() => {
            s.continueRequested = true;
          });
          s.headersAvailable = false; // request_headers_ = nullptr
          s.currentChunk = null;
          s.trailersAvailable = false;
        }
        if (u32(type) === StreamType.Upstream) return Status.Unimplemented;
        return Status.Ok;
      },
      proxy_close_stream(type: number): number {
        if (u32(type) > STREAM_TYPE_MAX) return Status.BadArgument;
        const s = stream();
        if (u32(type) === StreamType.Request && s) self.afterCall.push(() => (s.resetRequested = true));
        return Status.Ok;
      },
      proxy_send_local_response(
        status: number,
        detailsPtr: number,
        detailsSize: number,
        bodyPtr: number,
        bodySize: number,
        headersPtr: number,
        headersSize: number,
        grpcStatus: number,
      ): number {
        const details = self.readString(detailsPtr, detailsSize);
        const body = self.readString(bodyPtr, bodySize);
        const headers = self.getMemory(headersPtr, headersSize);
        if (details === undefined || body === undefined || !headers) return Status.InvalidMemoryAccess;
        const pairs = parsePairs(headers).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
        const s = stream();
        if (s) {
          // Deferred until the callback returns (addAfterVmCallAction); grpc_status outside
          // 0..16 means none; whitespace in details becomes '_' (StringUtil::replaceAllEmptySpace).
          const g = grpcStatus | 0;
          self.afterCall.push(() => {
            s.localReply ??= {
              status: u32(status),
              body: bytesStringToUtf8(body),
              headers: pairs,
              details: details.replace(/\s/g, '_'),
              ...(g >= 0 && g <= 16 ? { grpcStatus: g } : {}),
            };
          });
        }
        self.stopNextIteration = true;
        return Status.Ok;
      },
      proxy_clear_route_cache(): number {
        return Status.Ok;
      },

      // -- metrics (Envoy Context::defineMetric / incrementMetric / recordMetric / getMetric)
      proxy_define_metric(type: number, namePtr: number, nameSize: number, idPtr: number): number {
        const name = self.readString(namePtr, nameSize);
        if (name === undefined) return Status.InvalidMemoryAccess;
        if (u32(type) > MetricType.Histogram) return Status.BadArgument;
        let id: number;
        if (type === MetricType.Counter) id = self.nextCounterId += METRIC_ID_INCREMENT;
        else if (type === MetricType.Gauge) id = self.nextGaugeId += METRIC_ID_INCREMENT;
        else id = self.nextHistogramId += METRIC_ID_INCREMENT;
        const full = `${CUSTOM_STAT_NAMESPACE}.${name}`;
        const kind = (['counter', 'gauge', 'histogram'] as const)[type];
        if (!host.shared.metrics.has(full)) host.shared.metrics.set(full, { type: kind, value: 0, samples: [] });
        self.metricNames.set(id, full);
        return self.setWord(idPtr, id) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_increment_metric(id: number, offset: bigint): number {
        const m = host.metricById(self, u32(id));
        const type = u32(id) & METRIC_TYPE_MASK;
        if (type === MetricType.Counter) {
          if (!m) return Status.NotFound;
          if (offset <= 0n) return Status.BadArgument; // counters only go up
          m.value += Number(offset);
          return Status.Ok;
        }
        if (type === MetricType.Gauge) {
          if (!m) return Status.NotFound;
          m.value += Number(offset);
          return Status.Ok;
        }
        return Status.BadArgument;
      },
      proxy_record_metric(id: number, value: bigint): number {
        const m = host.metricById(self, u32(id));
        if (!m) return Status.NotFound;
        const v = Number(BigInt.asUintN(64, value));
        if (m.type === 'counter') m.value += v;
        else if (m.type === 'gauge') m.value = v;
        else {
          m.value += 1;
          if (m.samples.length < 100_000) m.samples.push(v);
        }
        return Status.Ok;
      },
      proxy_get_metric(id: number, resultPtr: number): number {
        const type = u32(id) & METRIC_TYPE_MASK;
        if (type === MetricType.Histogram) return Status.BadArgument;
        const m = host.metricById(self, u32(id));
        if (!m) return Status.NotFound;
        return self.setU64(resultPtr, BigInt(m.value)) ? Status.Ok : Status.InvalidMemoryAccess;
      },

      // -- shared data and queues (cpp-host shared_data.cc / shared_queue.cc; keyed by vm_id,
      //    shared by every worker VM)
      proxy_get_shared_data(keyPtr: number, keySize: number, valuePtrPtr: number, valueSizePtr: number, casPtr: number): number {
        const key = self.readString(keyPtr, keySize);
        if (key === undefined) return Status.InvalidMemoryAccess;
        const entry = host.shared.sharedData.get(`${host.vmId}\0${key}`);
        if (!entry) return Status.NotFound;
        if (!self.copyToPointerSize(entry.value, valuePtrPtr, valueSizePtr)) return Status.InvalidMemoryAccess;
        return self.setWord(casPtr, entry.cas) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_set_shared_data(keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number): number {
        const key = self.readString(keyPtr, keySize);
        const value = self.getMemory(valuePtr, valueSize);
        if (key === undefined || !value) return Status.InvalidMemoryAccess;
        const k = `${host.vmId}\0${key}`;
        const entry = host.shared.sharedData.get(k);
        if (u32(cas) !== 0 && entry && u32(cas) !== entry.cas) return Status.CasMismatch;
        host.shared.sharedData.set(k, { value: new Uint8Array(value), cas: host.shared.nextCas++ });
        return Status.Ok;
      },
      proxy_register_shared_queue(namePtr: number, nameSize: number, tokenPtr: number): number {
        const name = self.readString(namePtr, nameSize);
        if (name === undefined) return Status.InvalidMemoryAccess;
        const ctx = self.context();
        const rootId = ctx && ctx.parentId !== 0 ? ctx.parentId : (ctx?.id ?? 0);
        const key = `${host.vmId}\0${name}`;
        let q = host.shared.queues.get(key);
        if (!q) {
          q = { token: host.shared.nextQueueToken++, items: [], vm: self, contextId: rootId };
          host.shared.queues.set(key, q);
          host.shared.queuesByToken.set(q.token, q);
        } else {
          q.vm = self;
          q.contextId = rootId;
        }
        return self.setWord(tokenPtr, q.token) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_resolve_shared_queue(vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, tokenPtr: number): number {
        const vmId = self.readString(vmIdPtr, vmIdSize);
        const name = self.readString(namePtr, nameSize);
        if (vmId === undefined || name === undefined) return Status.InvalidMemoryAccess;
        const q = host.shared.queues.get(`${vmId || host.vmId}\0${name}`);
        if (!q) return Status.NotFound;
        return self.setWord(tokenPtr, q.token) ? Status.Ok : Status.InvalidMemoryAccess;
      },
      proxy_enqueue_shared_queue(token: number, dataPtr: number, dataSize: number): number {
        const data = self.getMemory(dataPtr, dataSize);
        if (!data) return Status.InvalidMemoryAccess;
        const q = host.shared.queuesByToken.get(u32(token));
        if (!q) return Status.NotFound;
        q.items.push(new Uint8Array(data));
        // cpp-host posts onQueueReady to the registering VM's thread.
        self.afterCall.push(() => {
          const root = q.vm.contexts.get(q.contextId);
          if (root) q.vm.call('proxy_on_queue_ready', root, q.contextId, q.token);
        });
        return Status.Ok;
      },
      proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number): number {
        const q = host.shared.queuesByToken.get(u32(token));
        if (!q) return Status.NotFound;
        const item = q.items.shift();
        if (!item) return Status.Empty;
        return self.copyToPointerSize(item, ptrPtr, sizePtr) ? Status.Ok : Status.InvalidMemoryAccess;
      },

      // -- out-calls: this host has no clusters, which Envoy answers the same way
      proxy_http_call(): number {
        return Status.BadArgument; // Context::httpCall: getThreadLocalCluster(cluster) == nullptr
      },
      proxy_grpc_call(): number {
        return Status.ParseFailure; // not a GrpcService proto and no such cluster
      },
      proxy_grpc_stream(): number {
        return Status.ParseFailure;
      },
      proxy_grpc_cancel(): number {
        return Status.NotFound;
      },
      proxy_grpc_close(): number {
        return Status.NotFound;
      },
      proxy_grpc_send(): number {
        return Status.NotFound;
      },
      proxy_call_foreign_function(namePtr: number, nameSize: number): number {
        const name = self.readString(namePtr, nameSize);
        if (name === undefined) return Status.InvalidMemoryAccess;
        return Status.NotFound; // SIMPLIFIED: Envoy's foreign functions (compress, ...) are not provided
      },

      // -- system
      proxy_set_effective_context(id: number): number {
        if (!self.contexts.has(u32(id))) return Status.BadArgument;
        self.effectiveContextId = u32(id);
        return Status.Ok;
      },
      proxy_done(): number {
        return Status.NotFound; // no root context is pending shutdown
      },
      pthread_equal(a: number, b: number): number {
        return a === b ? 1 : 0;
      },
      emscripten_notify_memory_growth(): void {},
    } as Record<string, (...args: never[]) => unknown>;
  }

  /** WASI as cpp-host implements it (exports.cc wasi_unstable_*). */
  private wasiImpl(): Record<string, (...args: never[]) => unknown> {
    const host = this.host;
    const self = this;
    const badfUnlessStd = (fd: number) => (fd === 1 || fd === 2 ? E_SUCCESS : E_BADF);
    const writev = (fd: number, iovs: number, iovsLen: number): { errno: number; written: number } => {
      let level: number;
      if (fd === 1) level = LOG_INFO;
      else if (fd === 2) level = LOG_ERROR;
      else return { errno: E_BADF, written: 0 };
      const parts: Buffer[] = [];
      for (let i = 0; i < iovsLen; i++) {
        const iov = self.getMemory(iovs + i * 8, 8);
        if (!iov) return { errno: E_FAULT, written: 0 };
        const dv = new DataView(iov.buffer, iov.byteOffset, 8);
        const len = dv.getUint32(4, true);
        if (len !== 0) {
          const data = self.getMemory(dv.getUint32(0, true), len);
          if (!data) return { errno: E_FAULT, written: 0 };
          parts.push(Buffer.from(data));
        }
      }
      let s = Buffer.concat(parts).toString('utf8');
      const written = parts.reduce((n, p) => n + p.length, 0);
      if (written > 0) {
        if (s.endsWith('\n')) s = s.slice(0, -1); // one trailing newline is dropped
        host.pluginLog(level, s, self, 'fd_write');
      }
      return { errno: E_SUCCESS, written };
    };
    return {
      fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
        const r = writev(fd, iovs, iovsLen);
        if (r.errno !== E_SUCCESS) return r.errno;
        return self.setWord(nwrittenPtr, r.written) ? E_SUCCESS : E_FAULT;
      },
      fd_pwrite(fd: number, iovs: number, iovsLen: number, _offset: bigint, nwrittenPtr: number): number {
        if (fd !== 1 && fd !== 2) return E_BADF;
        const r = writev(fd, iovs, iovsLen);
        if (r.errno !== E_SUCCESS) return r.errno;
        return self.setWord(nwrittenPtr, r.written) ? E_SUCCESS : E_FAULT;
      },
      fd_read: () => E_NOSYS,
      fd_seek: () => E_SUCCESS,
      fd_close: () => E_SUCCESS,
      fd_fdstat_get(fd: number, statPtr: number): number {
        if (fd !== 1 && fd !== 2) return E_BADF;
        const b = Buffer.alloc(24);
        b.writeBigUInt64LE(64n, 8); // fs_rights_base = __WASI_RIGHTS_FD_WRITE
        self.setMemory(statPtr, new Uint8Array(b));
        return E_SUCCESS;
      },
      fd_fdstat_set_flags: () => E_NOSYS,
      fd_fdstat_set_rights: badfUnlessStd,
      environ_get(environPtr: number, environBuf: number): number {
        for (const [k, v] of Object.entries(host.env)) {
          if (!self.setWord(environPtr, environBuf)) return E_FAULT;
          const data = new Uint8Array(Buffer.from(`${k}=${v}\0`, 'utf8'));
          if (!self.setMemory(environBuf, data)) return E_FAULT;
          environBuf += data.length;
          environPtr += 4;
        }
        return E_SUCCESS;
      },
      environ_sizes_get(countPtr: number, sizePtr: number): number {
        const entries = Object.entries(host.env);
        if (!self.setWord(countPtr, entries.length)) return E_FAULT;
        const size = entries.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0);
        return self.setWord(sizePtr, size) ? E_SUCCESS : E_FAULT;
      },
      args_get: () => E_SUCCESS,
      args_sizes_get(argcPtr: number, sizePtr: number): number {
        return self.setWord(argcPtr, 0) && self.setWord(sizePtr, 0) ? E_SUCCESS : E_FAULT;
      },
      clock_time_get(clockId: number, _precision: bigint, resultPtr: number): number {
        let t: bigint;
        if (clockId === 0) t = host.realtimeNs();
        else if (clockId === 1) t = host.monotonicNs();
        else return E_NOTSUP;
        return self.setU64(resultPtr, t) ? E_SUCCESS : E_FAULT;
      },
      clock_res_get(clockId: number, resultPtr: number): number {
        if (clockId !== 0 && clockId !== 1) return E_NOTSUP;
        return self.setU64(resultPtr, 1n) ? E_SUCCESS : E_FAULT;
      },
      fd_advise: () => E_SUCCESS,
      fd_allocate: badfUnlessStd,
      fd_datasync: badfUnlessStd,
      fd_filestat_set_size: badfUnlessStd,
      fd_filestat_set_times: badfUnlessStd,
      fd_pread: () => E_NOSYS,
      fd_readdir(_fd: number, _buf: number, _len: number, _cookie: bigint, nreadPtr: number): number {
        return self.setWord(nreadPtr, 0) ? E_NOTDIR : E_FAULT;
      },
      fd_renumber: (fd: number, to: number) => ((fd !== 1 && fd !== 2) || (to !== 1 && to !== 2) ? E_BADF : E_NOTSUP),
      fd_sync: badfUnlessStd,
      fd_tell(fd: number, resultPtr: number): number {
        if (fd !== 1 && fd !== 2) return E_BADF;
        return self.setU64(resultPtr, 0n) ? E_SUCCESS : E_FAULT;
      },
      path_create_directory: () => E_NOTSUP,
      path_filestat_set_times: () => E_NOTSUP,
      path_link: () => E_NOTSUP,
      path_readlink(_fd: number, _p: number, _l: number, _b: number, _bl: number, resultPtr: number): number {
        return self.setWord(resultPtr, 0) ? E_NOTSUP : E_FAULT;
      },
      path_remove_directory: () => E_NOTSUP,
      path_rename: () => E_NOTSUP,
      path_symlink: () => E_NOTSUP,
      path_unlink_file: () => E_NOTSUP,
      sock_accept(_fd: number, _flags: number, resultPtr: number): number {
        return self.setWord(resultPtr, 0) ? E_NOTSUP : E_FAULT;
      },
      sock_recv(_fd: number, _d: number, _l: number, _f: number, r0: number, r1: number): number {
        const ok = self.setWord(r0, 0) && !!self.getMemory(r1, 2);
        if (ok) self.getMemory(r1, 2)!.fill(0);
        return ok ? E_NOTSUP : E_FAULT;
      },
      sock_send(_fd: number, _d: number, _l: number, _f: number, r0: number): number {
        return self.setWord(r0, 0) ? E_NOTSUP : E_FAULT;
      },
      sock_shutdown: () => E_NOTSUP,
      random_get(bufPtr: number, len: number): number {
        if (len >>> 0 > WASI_RANDOM_GET_MAX_BYTES) return E_INVAL;
        if (len === 0) return E_SUCCESS;
        const dst = self.getMemory(bufPtr, len);
        if (!dst) return E_FAULT;
        randomFillSync(dst);
        return E_SUCCESS;
      },
      sched_yield: () => E_SUCCESS,
      poll_oneoff(_in: number, _out: number, _n: number, neventsPtr: number): number {
        return self.setWord(neventsPtr, 0) ? E_SUCCESS : E_FAULT;
      },
      proc_exit(): void {
        // cpp-host only logs it; the module keeps running (an AS abort then traps on `unreachable`).
        host.emitLog({ level: 'error', message: 'wasi_unstable proc_exit', worker: self.worker, contextId: self.context()?.id ?? 0, source: 'host' });
      },
      path_open: () => E_NOENT,
      fd_prestat_get: () => E_BADF,
      fd_prestat_dir_name: () => E_NOSYS,
      path_filestat_get: () => E_NOTSUP,
      fd_filestat_get: () => E_BADF,
    } as Record<string, (...args: never[]) => unknown>;
  }
}

// ---------------------------------------------------------------------------------------------
// The host

export class ProxyWasmHost {
  readonly check: ModuleCheck;
  readonly moduleInfo: ReturnType<typeof parseWasmModule>;
  readonly shared = new SharedState();
  readonly logs: LogEntry[] = [];
  readonly logLevel: number;
  readonly env: Readonly<Record<string, string>>;
  readonly vmId: string;
  readonly maxMemoryBytes: number;
  /** Time spent compiling the module and starting + configuring every VM (ms). */
  loadTimeMs = 0;
  private readonly pluginConfig: Uint8Array;
  private readonly vmConfig: Uint8Array;
  private readonly opts: ProxyWasmHostOptions;
  private readonly failurePolicy: FailurePolicy;
  private readonly module: WebAssembly.Module;
  private readonly baseVm: Vm;
  private workerVms: Vm[] = [];
  private nextWorker = 0;
  private nextConnectionId = 1n;
  private requestLogs: LogEntry[] | null = null;

  /**
   * Loads, checks, starts and configures the module as Envoy does, synchronously. Throws
   * HostLoadError when Envoy would refuse the module or the configuration (proxy_on_vm_start or
   * proxy_on_configure returning false, or a trap while starting).
   */
  constructor(opts: ProxyWasmHostOptions) {
    const t0 = performance.now();
    this.opts = opts;
    this.moduleInfo = parseWasmModule(opts.wasm);
    this.check = checkModule(this.moduleInfo);
    this.pluginConfig = opts.pluginConfig === undefined ? new Uint8Array(0) : toBytes(opts.pluginConfig);
    this.vmConfig = opts.vmConfig === undefined ? new Uint8Array(0) : toBytes(opts.vmConfig);
    this.logLevel = LOG_LEVEL_NAMES.indexOf(opts.logLevel ?? 'info');
    this.env = opts.env ?? {};
    this.vmId = opts.vmId ?? '';
    this.maxMemoryBytes = opts.maxMemoryBytes ?? MAX_WASM_MEMORY_BYTES;
    this.failurePolicy = opts.failurePolicy ?? (opts.failOpen ? 'FAIL_OPEN' : 'FAIL_CLOSED');
    if (this.check.errors.length > 0) throw new HostLoadError(this.check.errors);
    this.module = new WebAssembly.Module(opts.wasm);
    // Base VM on the main thread: instantiate and run the start function (WasmBase::initialize).
    this.baseVm = this.initializeVm(-1);
    // Configuration canary (WasmHandleBase::canary).
    this.startAndConfigure(this.initializeVm(-2), 'base');
    const workers = Math.max(1, opts.workers ?? 1);
    for (let w = 0; w < workers; w++) {
      const vm = this.initializeVm(w);
      this.startAndConfigure(vm, 'thread-local');
      this.workerVms.push(vm);
    }
    this.loadTimeMs = performance.now() - t0;
  }

  /** `new ProxyWasmHost(opts)` as a promise (for callers that prefer to await it). */
  static async create(opts: ProxyWasmHostOptions): Promise<ProxyWasmHost> {
    return new ProxyWasmHost(opts);
  }

  private initializeVm(worker: number): Vm {
    const vm = new Vm(this, worker);
    try {
      vm.instantiate(this.module);
    } catch (err) {
      if (err instanceof HostLoadError) throw err;
      throw new HostLoadError([`Failed to create new Wasm instance: ${(err as Error).message}`], this.logs);
    }
    const start = this.check.start;
    if (start) {
      vm.restricted = START_ALLOWED;
      vm.call(start, null);
      if (!vm.failed && start === '_initialize') {
        if (vm.has('main')) vm.call('main', null, 0, 0);
        else if (vm.has('__main_void')) vm.call('__main_void', null);
      }
      vm.restricted = null;
    }
    if (vm.failed) throw new HostLoadError([`Failed to initialize Wasm code: ${vm.failed}`], this.logs);
    return vm;
  }

  /** WasmBase::start(plugin) + configure(plugin) for one VM. */
  private startAndConfigure(vm: Vm, which: 'base' | 'thread-local'): void {
    const rootId = vm.nextContextId++;
    const root: ContextState = { id: rootId, parentId: 0 };
    vm.contexts.set(rootId, root);
    vm.rootContextId = rootId;
    // ContextBase::onStart: on_context_create(root, 0) with temp_plugin_ set, then on_vm_start.
    vm.tempPluginConfig = this.pluginConfig;
    vm.call('proxy_on_context_create', root, rootId, 0);
    vm.tempPluginConfig = null;
    vm.runAfterCallActions();
    let ok = true;
    if (!vm.failed && vm.has('proxy_on_vm_start')) {
      ok = (vm.call('proxy_on_vm_start', root, rootId, this.vmConfig.length) ?? 0) !== 0;
      vm.runAfterCallActions();
    }
    if (vm.failed || !ok) {
      throw new HostLoadError([vm.failed ?? `Failed to start ${which} Wasm`], this.logs);
    }
    // ContextBase::onConfigure.
    if (vm.has('proxy_on_configure')) {
      vm.tempPluginConfig = this.pluginConfig;
      ok = (vm.call('proxy_on_configure', root, rootId, this.pluginConfig.length) ?? 0) !== 0;
      vm.tempPluginConfig = null;
      vm.runAfterCallActions();
    }
    if (vm.failed || !ok) {
      throw new HostLoadError([vm.failed ?? `Failed to configure ${which} Wasm plugin`], this.logs);
    }
  }

  get workers(): readonly { readonly worker: number; readonly memoryBytes: number; readonly failed: string | null }[] {
    return this.workerVms.map((vm) => ({ worker: vm.worker, memoryBytes: vm.memoryBytes, failed: vm.failed }));
  }

  get baseMemoryBytes(): number {
    return this.baseVm.memoryBytes;
  }

  /** Custom metrics, summed over workers as Envoy's stats store does (names carry "wasmcustom."). */
  metrics(): Record<string, MetricValue> {
    const out: Record<string, MetricValue> = {};
    for (const [name, m] of this.shared.metrics) out[name] = m.type === 'histogram' ? { type: m.type, value: m.value, samples: [...m.samples] } : { type: m.type, value: m.value };
    return out;
  }

  /** Calls proxy_on_tick on every worker whose root context set a tick period. */
  tick(): void {
    for (const vm of this.workerVms) {
      if (vm.tickPeriodMs > 0 && !vm.failed) {
        vm.call('proxy_on_tick', vm.contexts.get(vm.rootContextId)!, vm.rootContextId);
        vm.runAfterCallActions();
      }
    }
  }

  // ---- logging -------------------------------------------------------------------------------

  emitLog(entry: LogEntry): void {
    this.logs.push(entry);
    this.requestLogs?.push(entry);
    this.opts.onLog?.(entry);
  }

  /** A log line from the plugin; dropped below Envoy's log level like ENVOY_LOG does. */
  pluginLog(level: number, message: string, vm: Vm, source: LogEntry['source']): void {
    if (level < this.logLevel) return;
    this.emitLog({ level: LOG_LEVEL_NAMES[level], message, worker: vm.worker, contextId: vm.context()?.id ?? 0, source });
  }

  realtimeNs(): bigint {
    return this.opts.clock?.realtimeNs?.() ?? BigInt(Date.now()) * 1_000_000n;
  }

  monotonicNs(): bigint {
    return this.opts.clock?.monotonicNs?.() ?? process.hrtime.bigint();
  }

  metricById(vm: Vm, id: number): Metric | undefined {
    const name = vm.metricNames.get(id);
    return name === undefined ? undefined : this.shared.metrics.get(name);
  }

  // ---- buffers and maps as Envoy's Context exposes them ------------------------------------------

  /** Envoy Context::getBuffer. */
  getBuffer(vm: Vm, type: number): Uint8Array | undefined {
    switch (type) {
      case BufferType.VmConfiguration:
        return this.vmConfig;
      case BufferType.PluginConfiguration:
        return vm.tempPluginConfig ?? undefined;
      case BufferType.HttpRequestBody: {
        const s = vm.context()?.stream;
        if (!s) return new Uint8Array(0); // buffer_.set(nullptr): an empty buffer
        if (s.bufferingRequestBody) return concat(s.buffered);
        return s.currentChunk ?? new Uint8Array(0);
      }
      case BufferType.HttpResponseBody:
      case BufferType.NetworkDownstreamData:
      case BufferType.NetworkUpstreamData:
      case BufferType.GrpcReceiveBuffer:
        return new Uint8Array(0); // buffer_.set(nullptr)
      case BufferType.CallData:
        return new Uint8Array(0);
      default:
        return undefined; // HttpCallResponseBody without a response
    }
  }

  /** Envoy Buffer::copyFrom on the request body: prepend, replace all, or append. */
  setBuffer(vm: Vm, type: number, start: number, length: number, data: Uint8Array): number {
    if (type !== BufferType.HttpRequestBody) {
      return type === BufferType.VmConfiguration || type === BufferType.PluginConfiguration ? Status.BadArgument : Status.NotFound;
    }
    const s = vm.context()?.stream;
    if (!s) return Status.NotFound;
    const current = s.bufferingRequestBody ? concat(s.buffered) : (s.currentChunk ?? new Uint8Array(0));
    let next: Uint8Array;
    if (start === 0 && length === 0) next = concat([data, current]);
    else if (start === 0 && length >= current.length) next = data;
    else if (start >= current.length) next = concat([current, data]);
    else return Status.BadArgument;
    if (s.bufferingRequestBody) {
      s.buffered = [next];
      s.bufferedLength = next.length;
    } else {
      s.currentChunk = next;
    }
    return Status.Ok;
  }

  /** Context::getConstMap (reads). */
  constMap(s: StreamState | undefined, type: number): HeaderMap | null {
    if (!s) return null;
    if (type === MapType.RequestHeaders) return s.headersAvailable ? s.headers : null;
    if (type === MapType.RequestTrailers) return s.trailersAvailable ? s.trailers : null;
    return null;
  }

  /**
   * Context::getMap (writes): request headers while they are held (request_headers_ non-null),
   * request trailers in the trailers callback, or created on demand from the last body callback
   * (addDecodedTrailers when end_of_stream).
   */
  mutableMap(s: StreamState | undefined, type: number): HeaderMap | null {
    if (!s) return null;
    if (type === MapType.RequestHeaders) return s.headersAvailable ? s.headers : null;
    if (type === MapType.RequestTrailers) {
      if (!s.trailersAvailable && s.inBodyCallback && s.endOfStream && s.trailers === null) {
        s.trailers = new HeaderMap();
        s.trailersAvailable = true;
      }
      return s.trailersAvailable ? s.trailers : null;
    }
    return null;
  }

  propertyScope(stream: StreamState | undefined): PropertyScope {
    return {
      pluginName: this.opts.pluginName ?? '',
      rootId: this.opts.rootId ?? '',
      vmId: this.vmId,
      stream: stream && {
        headers: stream.headers,
        routeName: stream.routeName,
        clusterName: stream.clusterName,
        protocol: 'HTTP/1.1',
        connectionId: stream.connectionId,
        filterState: stream.filterState,
        extra: stream.extra,
      },
    };
  }

  // ---- requests ------------------------------------------------------------------------------

  private pickWorker(worker: number | undefined): number {
    if (worker !== undefined) {
      if (!Number.isInteger(worker) || worker < 0 || worker >= this.workerVms.length) throw new RangeError(`no worker ${worker}`);
      return worker;
    }
    const w = this.nextWorker;
    this.nextWorker = (this.nextWorker + 1) % this.workerVms.length;
    return w;
  }

  /**
   * Runs one request's decode path through the filter as Envoy's filter manager would, then ends
   * the stream (proxy_on_log, proxy_on_done, proxy_on_delete).
   */
  async runRequest(req: HostRequest): Promise<HostResult> {
    return this.runRequestSync(req);
  }

  /** runRequest without the promise (the host never waits on anything). */
  runRequestSync(req: HostRequest): HostResult {
    const worker = this.pickWorker(req.worker);
    const logs: LogEntry[] = [];
    this.requestLogs = logs;
    try {
      return this.drive(worker, req, logs);
    } finally {
      this.requestLogs = null;
    }
  }

  private drive(worker: number, req: HostRequest, logs: LogEntry[]): HostResult {
    let vm = this.workerVms[worker];
    const headers = buildHeaders(req);
    const before = headers.pairs();
    const chunks = normalizeBody(req.body);
    const trailerPairs = req.trailers ? (Array.isArray(req.trailers) ? (req.trailers as HeaderPair[]) : Object.entries(req.trailers)) : [];
    const hasTrailers = trailerPairs.length > 0;
    const callbacks: CallbackRecord[] = [];
    const forwardedBody: Uint8Array[] = [];
    const bufferLimit = this.opts.bufferLimitBytes ?? 1024 * 1024;

    const finishUntouched = (action: HostAction, localReply?: LocalReply, skipped = false): HostResult => {
      const after = headers.pairs();
      return {
        action,
        worker,
        contextId: 0,
        headersBefore: decodePairs(before),
        headersAfter: decodePairs(after),
        addedHeaders: [],
        removedHeaders: [],
        body: action === 'continue' ? concat(chunks) : new Uint8Array(0),
        trailers: decodePairs(trailerPairs.map(([k, v]) => [k.toLowerCase(), utf8ToBytesString(v)])),
        ...(localReply ? { localReply } : {}),
        logs,
        callbacks,
        filterSkipped: skipped,
      };
    };

    // A failed VM (a trap earlier on this worker). Wasm FilterConfig::createFilter: fail-open skips
    // the filter; fail-closed creates a context without a VM, which fails every stream with 503.
    if (vm.failed) {
      if (this.failurePolicy === 'FAIL_RELOAD') {
        // SIMPLIFIED: Envoy reloads the VM with a backoff; here the next request gets a fresh clone.
        vm = this.reloadWorkerSync(worker);
      } else if (this.failurePolicy === 'FAIL_OPEN') {
        return finishUntouched('continue', undefined, true);
      } else {
        return finishUntouched('localReply', failStreamReply());
      }
    }

    const contextId = vm.nextContextId++;
    const stream = new StreamState(
      headers,
      req.routeName,
      req.clusterName,
      new Map(Object.entries(req.properties ?? {})),
      this.nextConnectionId++,
    );
    const ctx: ContextState = { id: contextId, parentId: vm.rootContextId, stream };
    vm.contexts.set(contextId, ctx);

    let trap: string | undefined;
    let action: HostAction | undefined;
    let localReply: LocalReply | undefined;
    let headersForwarded: [string, string][] | null = null;
    let headersPaused = false; // StopIteration: this filter's data callbacks continue
    let stopAll = false; // StopAllIteration*: no callbacks until continue
    let stopAllBuffer = false;
    let endStreamOnHeaders = false;
    let dataPaused = false;
    let trailersPaused = false;
    let failOpenSkip = false; // the VM failed during this stream with fail-open: the filter is bypassed

    const forwardHeaders = () => {
      headersForwarded ??= headers.pairs();
    };
    /** The filter manager resumes the stream: held headers and buffered data go on. */
    const resume = () => {
      headersPaused = dataPaused = trailersPaused = stopAll = false;
      forwardHeaders();
      forwardedBody.push(...stream.buffered);
      stream.buffered = [];
      stream.bufferedLength = 0;
    };
    const endWith = (reply: LocalReply) => {
      localReply = reply;
      action = 'localReply';
    };
    /**
     * One callback into the VM with cpp-host's status conversion, then CHECK_FAIL_HTTP (a trap:
     * fail-open bypasses the filter, fail-closed answers 503) and the deferred actions (a local
     * reply ends the stream; proxy_continue_stream resumes it). Returns the effective status, or
     * undefined when the stream ended or the filter is now bypassed.
     */
    const callback = (name: string, args: number[], convert: (r: number) => number, names: readonly string[]): number | undefined => {
      vm.stopNextIteration = false;
      const returned = vm.call(name, ctx, contextId, ...args);
      const converted = convert(returned ?? 0);
      vm.stopNextIteration = false;
      callbacks.push({ callback: name, ...(returned !== undefined ? { returned } : {}), effective: names[converted] });
      if (vm.failed) {
        trap ??= vm.failed;
        vm.afterCall.length = 0;
        if (this.failurePolicy === 'FAIL_OPEN') failOpenSkip = true;
        else endWith(failStreamReply()); // Context::failStream
        return undefined;
      }
      vm.runAfterCallActions();
      if (stream.localReply) {
        endWith(stream.localReply);
        return undefined;
      }
      if (stream.resetRequested) {
        action = 'reset';
        return undefined;
      }
      return converted;
    };
    const continueIfRequested = () => {
      if (stream.continueRequested) {
        stream.continueRequested = false;
        resume();
      }
    };

    // decodeHeaders: onCreate() then onRequestHeaders(headers.size(), end_stream).
    const endOfStreamOnHeaders = chunks.length === 0 && !hasTrailers;
    vm.call('proxy_on_context_create', ctx, contextId, vm.rootContextId);
    if (vm.failed) {
      trap = vm.failed;
      if (this.failurePolicy === 'FAIL_OPEN') failOpenSkip = true;
      else endWith(failStreamReply());
    }
    if (!action && !failOpenSkip) {
      stream.endOfStream = endOfStreamOnHeaders;
      const status = vm.has('proxy_on_request_headers')
        ? callback('proxy_on_request_headers', [headers.size, endOfStreamOnHeaders ? 1 : 0], (r) => this.convertHeadersStatus(vm, r), HEADERS_STATUS_NAMES)
        : HeadersStatus.Continue;
      if (status === HeadersStatus.Continue) {
        stream.headersAvailable = false; // decodeHeaders: request_headers_ = nullptr
        forwardHeaders();
      } else if (status === HeadersStatus.ContinueAndEndStream) {
        stream.headersAvailable = false;
        forwardHeaders();
        endStreamOnHeaders = true;
      } else if (status === HeadersStatus.StopIteration) {
        headersPaused = true;
      } else if (status !== undefined) {
        stopAll = true;
        stopAllBuffer = status === HeadersStatus.StopAllIterationAndBuffer;
      }
      if (!action) continueIfRequested();
    }

    // Data frames.
    for (let i = 0; i < chunks.length && !action; i++) {
      const chunk = chunks[i];
      const last = i === chunks.length - 1 && !hasTrailers;
      if (endStreamOnHeaders) continue; // the stream already ended with the headers
      if (failOpenSkip) {
        resume();
        forwardedBody.push(chunk);
        continue;
      }
      if (stopAll) {
        // The filter manager holds the data; with StopAllIterationAndBuffer it enforces the limit.
        stream.buffered.push(chunk);
        stream.bufferedLength += chunk.length;
        if (stopAllBuffer && stream.bufferedLength > bufferLimit) endWith(payloadTooLarge());
        continue;
      }
      // Context::decodeData
      if (stream.bufferingRequestBody) {
        stream.buffered.push(chunk); // addDecodedData(data, false)
        stream.bufferedLength += chunk.length;
        if (stream.bufferedLength > bufferLimit) {
          // FilterManager requestDataTooLarge (non-streaming): 413 local reply; the VM is not called.
          endWith(payloadTooLarge());
          break;
        }
        stream.currentChunk = null;
      } else {
        stream.currentChunk = chunk;
      }
      stream.endOfStream = last;
      const bodySize = stream.bufferingRequestBody ? stream.bufferedLength : chunk.length;
      let status: number | undefined = DataStatus.Continue;
      if (vm.has('proxy_on_request_body')) {
        stream.inBodyCallback = true;
        status = callback('proxy_on_request_body', [bodySize, last ? 1 : 0], (r) => this.convertDataStatus(vm, r), DATA_STATUS_NAMES);
        stream.inBodyCallback = false;
        if (failOpenSkip) status = DataStatus.Continue;
        if (status === undefined) break;
      }
      const wasBuffering = stream.bufferingRequestBody;
      stream.bufferingRequestBody = false;
      if (!wasBuffering && stream.currentChunk) {
        // commonHandleBufferData: a chunk the filter stops on moves into the filter manager's
        // buffer (and goes on from there when the filter continues).
        if (status !== DataStatus.StopIterationNoBuffer) {
          stream.buffered.push(stream.currentChunk);
          stream.bufferedLength += stream.currentChunk.length;
        }
      }
      stream.currentChunk = null;
      if (status === DataStatus.Continue) {
        // Continuing data also continues headers held with StopIteration (commonContinue).
        resume();
      } else {
        // StopIterationAndBuffer / StopIterationAndWatermark keep the data (only the first
        // enforces the limit); StopIterationNoBuffer drops this chunk.
        dataPaused = true;
        stream.bufferingRequestBody = status === DataStatus.StopIterationAndBuffer;
        if (stream.bufferingRequestBody && stream.bufferedLength > bufferLimit) endWith(payloadTooLarge());
      }
      if (!action) continueIfRequested();
    }

    // Trailers (decodeTrailers → onRequestTrailers).
    const trailers = new HeaderMap(trailerPairs.map(([k, v]) => [k, utf8ToBytesString(v)] as HeaderPair));
    if (!action && hasTrailers && !failOpenSkip && !stopAll) {
      stream.trailers = trailers;
      stream.trailersAvailable = true;
      const status = vm.has('proxy_on_request_trailers')
        ? callback('proxy_on_request_trailers', [trailers.size], (r) => this.convertTrailersStatus(vm, r), TRAILERS_STATUS_NAMES)
        : TrailersStatus.Continue;
      if (status === TrailersStatus.Continue || failOpenSkip) {
        stream.trailersAvailable = false;
        resume();
      } else if (status !== undefined) {
        trailersPaused = true;
      }
      if (!action) continueIfRequested();
    }

    if (!action) {
      if (failOpenSkip) resume();
      if (stopAll || headersPaused || dataPaused || trailersPaused) {
        action = 'stalled';
      } else {
        forwardHeaders();
        action = 'continue';
      }
    }

    // End of stream: access log, then filter destruction (HCM doDeferredStreamDestroy: log() before
    // destroyFilters(); Context::onDestroy → onDone + onDelete).
    if (!vm.failed) {
      if (vm.has('proxy_on_log')) {
        stream.headersAvailable = true; // readable in the access-log phase
        vm.call('proxy_on_log', ctx, contextId);
        vm.afterCall.length = 0;
      }
      vm.call('proxy_on_done', ctx, contextId);
      vm.afterCall.length = 0;
      vm.call('proxy_on_delete', ctx, contextId);
      vm.afterCall.length = 0;
      if (vm.failed) trap ??= vm.failed;
    }
    vm.contexts.delete(contextId);

    const after = headersForwarded ?? headers.pairs();
    const beforeDecoded = decodePairs(before);
    const afterDecoded = decodePairs(after);
    return {
      action,
      worker,
      contextId,
      headersBefore: beforeDecoded,
      headersAfter: afterDecoded,
      addedHeaders: diffAdded(beforeDecoded, afterDecoded),
      removedHeaders: diffRemoved(beforeDecoded, afterDecoded),
      body: action === 'continue' ? concat(forwardedBody.length ? forwardedBody : [new Uint8Array(0)]) : new Uint8Array(0),
      trailers: decodePairs(trailers.pairs()),
      ...(localReply ? { localReply } : {}),
      logs,
      callbacks,
      ...(trap ? { trap } : {}),
      filterSkipped: failOpenSkip,
    };
  }

  /** cpp-host ContextBase::convertVmCallResultToFilterHeadersStatus. */
  private convertHeadersStatus(vm: Vm, result: number): number {
    const r = result >>> 0;
    if (vm.stopNextIteration || r > HeadersStatus.StopAllIterationAndWatermark) return HeadersStatus.StopAllIterationAndWatermark;
    if (r === HeadersStatus.StopIteration && !this.opts.allowOnHeadersStopIteration) {
      // Default for ABI 0.2.x: StopIteration pauses everything (proxy-wasm-cpp-host issue #143).
      return HeadersStatus.StopAllIterationAndWatermark;
    }
    return r;
  }

  /** cpp-host convertVmCallResultToFilterDataStatus. */
  private convertDataStatus(vm: Vm, result: number): number {
    const r = result >>> 0;
    if (vm.stopNextIteration || r > DataStatus.StopIterationNoBuffer) return DataStatus.StopIterationNoBuffer;
    return r;
  }

  /** cpp-host convertVmCallResultToFilterTrailersStatus. */
  private convertTrailersStatus(vm: Vm, result: number): number {
    const r = result >>> 0;
    if (vm.stopNextIteration || r > TrailersStatus.StopIteration) return TrailersStatus.StopIteration;
    return r;
  }

  private reloadWorkerSync(worker: number): Vm {
    const vm = this.initializeVm(worker);
    this.startAndConfigure(vm, 'thread-local');
    this.workerVms[worker] = vm;
    return vm;
  }
}

function failStreamReply(): LocalReply {
  // Context::failStream: sendLocalReply(503, "", nullptr, Unavailable, "wasm_fail_stream").
  return { status: 503, body: '', headers: [], details: 'wasm_fail_stream', grpcStatus: 14 };
}

function payloadTooLarge(): LocalReply {
  // FilterManager ActiveStreamDecoderFilter::requestDataTooLarge.
  return { status: 413, body: 'Payload Too Large', headers: [], details: 'request_payload_too_large' };
}

function buildHeaders(req: HostRequest): HeaderMap {
  const m = new HeaderMap();
  m.add(':method', req.method ?? 'POST');
  m.add(':scheme', req.scheme ?? 'http');
  m.add(':authority', req.authority ?? 'localhost');
  m.add(':path', req.path ?? '/');
  const given = req.headers ? (Array.isArray(req.headers) ? (req.headers as HeaderPair[]) : Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as HeaderPair) : [[k, v as string] as HeaderPair]))) : [];
  for (const [k, v] of given) {
    const key = k.toLowerCase();
    if (key.startsWith(':') && m.get(key) !== undefined) m.set(key, utf8ToBytesString(v));
    else m.add(key, utf8ToBytesString(v));
  }
  return m;
}

function normalizeBody(body: HostRequest['body']): Uint8Array[] {
  if (body === undefined) return [];
  if (typeof body === 'string' || body instanceof Uint8Array) return [toBytes(body)];
  return (body as readonly (string | Uint8Array)[]).map(toBytes);
}

function decodePairs(pairs: readonly HeaderPair[]): [string, string][] {
  return pairs.map(([k, v]) => [bytesStringToUtf8(k), bytesStringToUtf8(v)]);
}

function diffAdded(before: readonly HeaderPair[], after: readonly HeaderPair[]): [string, string][] {
  const remaining = new Map<string, number>();
  for (const [k, v] of before) remaining.set(`${k}\0${v}`, (remaining.get(`${k}\0${v}`) ?? 0) + 1);
  const added: [string, string][] = [];
  for (const [k, v] of after) {
    const key = `${k}\0${v}`;
    const n = remaining.get(key) ?? 0;
    if (n > 0) remaining.set(key, n - 1);
    else added.push([k, v]);
  }
  return added;
}

function diffRemoved(before: readonly HeaderPair[], after: readonly HeaderPair[]): string[] {
  const present = new Set(after.map(([k]) => k));
  return [...new Set(before.map(([k]) => k).filter((k) => !present.has(k)))];
}
