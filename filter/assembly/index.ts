// tokenroute's proxy-wasm filter: the ABI v0.2.1 exports Envoy calls, wired to the contexts
// (./abi/contexts.ts) and through them to tokenroute's root context (./request/root_context.ts,
// one per plugin configuration) and HTTP context (./request/http_context.ts, one per stream).
// Nothing else lives here.
import { RootContext } from './abi/context';
import { Contexts } from './abi/contexts';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from './abi/types';
import { TokenrouteRootContext } from './request/root_context';

export { proxy_on_memory_allocate } from './abi/memory';
import './abi/runtime'; // abort/trace/seed replacements (asconfig.json "use")

/** Marks the module as built for ABI v0.2.1 (cpp-host reads the export name; never called). */
export function proxy_abi_version_0_2_1(): void {}

const contexts = new Contexts((contextId: u32): RootContext => new TokenrouteRootContext(contextId));

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  contexts.onContextCreate(contextId, parentId);
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigSize: u32): bool {
  return contexts.onVmStart(rootContextId, vmConfigSize);
}

export function proxy_on_configure(rootContextId: u32, configSize: u32): bool {
  return contexts.onConfigure(rootContextId, configSize);
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
  return contexts.onRequestHeaders(contextId, numHeaders, endOfStream);
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): FilterDataStatus {
  return contexts.onRequestBody(contextId, bodySize, endOfStream);
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
  return contexts.onRequestTrailers(contextId, numTrailers);
}

/** Nothing to finish asynchronously: the host may delete the context right away. */
export function proxy_on_done(contextId: u32): bool {
  return true;
}

export function proxy_on_delete(contextId: u32): void {
  contexts.onDelete(contextId);
}
