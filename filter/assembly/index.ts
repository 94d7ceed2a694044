// tokenroute's proxy-wasm filter: the ABI v0.2.1 exports Envoy calls, wired to the request logic
// in ./request/stream.ts. Nothing else lives here.
//
// Context model (cpp-host): each plugin (root) context is created with parent 0 and configured
// with proxy_on_configure; every HTTP stream gets a context whose parent is its plugin's root.
import { BUFFER_PLUGIN_CONFIGURATION, LOG_ERROR, LOG_INFO, getBufferBytes, log } from './abi/host';
import { parseConfig } from './config';
import { defineMetricsOnce } from './request/metrics';
import { PluginState, RequestState } from './request/stream';

export { proxy_on_memory_allocate } from './abi/memory';
import './abi/runtime'; // abort/trace/seed replacements (asconfig.json "use")

/** Marks the module as built for ABI v0.2.1 (cpp-host reads the export name; never called). */
export function proxy_abi_version_0_2_1(): void {}

const plugins = new Map<u32, PluginState | null>();
const requests = new Map<u32, RequestState>();

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    plugins.set(contextId, null); // configured by proxy_on_configure
    return;
  }
  if (!plugins.has(parentId)) return;
  const plugin = plugins.get(parentId);
  if (plugin !== null) requests.set(contextId, new RequestState(plugin));
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigSize: u32): bool {
  defineMetricsOnce();
  return true;
}

export function proxy_on_configure(rootContextId: u32, configSize: u32): bool {
  const bytes = getBufferBytes(BUFFER_PLUGIN_CONFIGURATION, 0, configSize);
  const result = parseConfig(bytes !== null ? bytes : new Uint8Array(0));
  const cfg = result.config;
  if (cfg === null) {
    log(LOG_ERROR, `tokenroute: invalid plugin configuration: ${result.error}`);
    return false;
  }
  defineMetricsOnce();
  plugins.set(rootContextId, new PluginState(cfg));
  log(LOG_INFO, `tokenroute: configured ${cfg.models.size} model(s), blockSize ${cfg.blockSize}, maxBlocks ${cfg.maxBlocks}`);
  return true;
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: bool): u32 {
  if (!requests.has(contextId)) return 0;
  return requests.get(contextId).onHeaders(endOfStream);
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): u32 {
  if (!requests.has(contextId)) return 0;
  return requests.get(contextId).onBody(bodySize, endOfStream);
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): u32 {
  if (!requests.has(contextId)) return 0;
  return requests.get(contextId).onTrailers();
}

export function proxy_on_done(contextId: u32): bool {
  return true;
}

export function proxy_on_delete(contextId: u32): void {
  requests.delete(contextId);
  plugins.delete(contextId);
}
