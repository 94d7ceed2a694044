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
//
// The files follow proxy-wasm-cpp-host's seams: vm.ts (wasm_vm.h: memory, allocator, calls,
// guards), abi-env.ts and abi-wasi.ts (exports.cc: the host functions), state.ts (context.h and
// shared data/queues), http-stream.ts (Envoy's context.cc decode path, one method per phase), and
// this file (wasm.cc: the base VM, canary, worker clones, reload, logging and stats).
import {
  checkModule,
  LOG_LEVEL_NAMES,
  MAX_WASM_MEMORY_BYTES,
  START_ALLOWED,
  type ModuleCheck,
} from './envoy-abi.js';
import { parseWasmModule } from './wasm-module.js';
import { envFunctions, type EnvHost } from './abi-env.js';
import { wasiFunctions, type WasiHost } from './abi-wasi.js';
import { failStreamReply, HttpStream, type StreamHost } from './http-stream.js';
import { SharedState, toBytes, type ContextState } from './state.js';
import { HostLoadError, type FailurePolicy, type HostRequest, type HostResult, type LogEntry, type MetricValue, type ProxyWasmHostOptions } from './types.js';
import { Vm, type VmHost } from './vm.js';

export class ProxyWasmHost implements VmHost, EnvHost, WasiHost, StreamHost {
  readonly check: ModuleCheck;
  readonly moduleInfo: ReturnType<typeof parseWasmModule>;
  readonly shared = new SharedState();
  readonly logs: LogEntry[] = [];
  readonly logLevel: number;
  readonly env: Readonly<Record<string, string>>;
  readonly vmId: string;
  readonly maxMemoryBytes: number;
  readonly allocator: string;
  readonly memoryLimits: VmHost['memoryLimits'];
  readonly pluginName: string;
  readonly rootId: string;
  readonly vmConfig: Uint8Array;
  readonly failurePolicy: FailurePolicy;
  readonly bufferLimitBytes: number;
  readonly allowOnHeadersStopIteration: boolean;
  /** Time spent compiling the module and starting + configuring every VM (ms). */
  loadTimeMs = 0;
  private readonly pluginConfig: Uint8Array;
  private readonly opts: ProxyWasmHostOptions;
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
    this.bufferLimitBytes = opts.bufferLimitBytes ?? 1024 * 1024;
    this.allowOnHeadersStopIteration = opts.allowOnHeadersStopIteration ?? false;
    this.pluginName = opts.pluginName ?? '';
    this.rootId = opts.rootId ?? '';
    this.memoryLimits = this.moduleInfo.memory;
    if (this.check.errors.length > 0) throw new HostLoadError(this.check.errors);
    this.allocator = this.check.allocator!;
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
      vm.instantiate(this.module, (v) => ({ env: envFunctions(v, this), wasi: wasiFunctions(v, this) }));
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
    const stream = new HttpStream(this, worker, req, logs);
    // A failed VM (a trap earlier on this worker). Wasm FilterConfig::createFilter: fail-open skips
    // the filter; fail-closed creates a context without a VM, which fails every stream with 503.
    if (vm.failed) {
      if (this.failurePolicy === 'FAIL_RELOAD') {
        // SIMPLIFIED: Envoy reloads the VM with a backoff; here the next request gets a fresh clone.
        vm = this.reloadWorkerSync(worker);
      } else if (this.failurePolicy === 'FAIL_OPEN') {
        return stream.untouched('continue', undefined, true);
      } else {
        return stream.untouched('localReply', failStreamReply());
      }
    }
    return stream.run(vm, this.nextConnectionId++);
  }

  private reloadWorkerSync(worker: number): Vm {
    const vm = this.initializeVm(worker);
    this.startAndConfigure(vm, 'thread-local');
    this.workerVms[worker] = vm;
    return vm;
  }
}
