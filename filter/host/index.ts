// The Node proxy-wasm host: load a filter module and drive requests through it as Envoy would.
export { ProxyWasmHost } from './host.js';
export {
  HostLoadError,
  type FailurePolicy,
  type HostAction,
  type HostRequest,
  type HostResult,
  type LocalReply,
  type LogEntry,
  type MetricValue,
  type ProxyWasmHostOptions,
} from './types.js';
export { HeaderMap, parsePairs, serializePairs } from './header-map.js';
export { checkModule, envoyHostFunction, type ModuleCheck } from './envoy-abi.js';
export { parseWasmModule, type WasmModuleInfo } from './wasm-module.js';
export { defaultFilterWasmPath } from './paths.js';
