// One VM instance (proxy-wasm-cpp-host wasm_vm.h WasmVm + the calling half of wasm.cc WasmBase):
// linear memory access, the module's allocator behind restricted callbacks, calls into exports in
// a saved/restored context with a trap failing the whole VM, and the import object — the host
// functions come from the ABI translators (abi-env.ts, abi-wasi.ts), each behind the
// restricted-callback guard. The VM knows its host only through VmHost.
import { ENV_FUNCTIONS, MALLOC_ALLOWED, MetricType, Status, WASI_FUNCTIONS, WASI_MODULES } from './envoy-abi.js';
import { HostTrap, type ContextState } from './state.js';
import { HostLoadError, type LogEntry } from './types.js';

/** What a VM needs from the host that runs it. */
export interface VmHost {
  readonly maxMemoryBytes: number;
  /** The module's allocator export (checkModule: "malloc", else "proxy_on_memory_allocate"). */
  readonly allocator: string;
  /** The limits of a memory the module imports (it gets one created for it). */
  readonly memoryLimits: { readonly initial: number; readonly maximum?: number } | undefined;
  emitLog(entry: LogEntry): void;
}

type HostFunction = (...args: never[]) => unknown;
/** The host functions of the env and WASI namespaces, by name. */
export interface HostFunctions {
  readonly env: Record<string, HostFunction>;
  readonly wasi: Record<string, HostFunction>;
}

type Exports = Record<string, (...args: number[] | bigint[]) => number | undefined>;

/** One VM instance (cpp-host WasmBase with its WasmVm): a worker clone, the base VM or the canary. */
export class Vm {
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
    readonly host: VmHost,
    readonly worker: number,
  ) {}

  /** Instantiates the module with the host functions `abi` gives for this VM (each behind the restricted-callback guard). */
  instantiate(module: WebAssembly.Module, abi: (vm: Vm) => HostFunctions): void {
    const imports = this.buildImports(module, abi(this));
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
    const allocator = this.host.allocator;
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

  private buildImports(module: WebAssembly.Module, abi: HostFunctions): WebAssembly.Imports {
    const env: Record<string, unknown> = {};
    for (const name of Object.keys(ENV_FUNCTIONS)) env[name] = this.guard(`env.${name}`, abi.env[name] ?? (() => Status.Unimplemented));
    const imports: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
    for (const mod of WASI_MODULES) {
      const ns: Record<string, unknown> = {};
      for (const name of Object.keys(WASI_FUNCTIONS)) ns[name] = this.guard(`${mod}.${name}`, abi.wasi[name]);
      imports[mod] = ns as WebAssembly.ModuleImports;
    }
    // A module that imports its memory gets one created for it (V8::link MEMORY).
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind === 'memory') {
        const info = this.host.memoryLimits;
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
}
