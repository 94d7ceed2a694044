// The proxy-wasm context model in the proxy-wasm SDKs' vocabulary (AssemblyScript SDK
// @solo-io/proxy-runtime assembly/runtime.ts: RootContext, Context; Rust SDK proxy-wasm
// src/traits.rs: RootContext, HttpContext). Envoy's cpp-host (as built into Envoy ≥ 1.35) creates
// one root context per plugin configuration — WasmBase::start in src/wasm.cc keys them by
// PluginBase::key(), so two plugin configurations sharing a VM get two root contexts with their
// own ids — and calls proxy_on_context_create(id, 0), proxy_on_vm_start and proxy_on_configure on
// it (src/context.cc ContextBase::onStart / onConfigure); every HTTP stream then gets a context
// whose parent is its plugin's root context (ContextBase::onCreate).
//
// A filter subclasses both; ./contexts.ts keeps them by context id and forwards the ABI callbacks.
// Unlike the SDK, nothing here traps: a callback for an unknown context is answered with Continue.
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from './types';

/** Per plugin configuration: its configuration, and the factory of its HTTP contexts. */
export class RootContext {
  constructor(readonly contextId: u32) {}

  /** proxy_on_vm_start, right after this root context was created; false fails the plugin. */
  onStart(vmConfigurationSize: u32): bool {
    return true;
  }

  /** proxy_on_configure: the plugin configuration (re)arrives; false rejects it. */
  onConfigure(configurationSize: u32): bool {
    return true;
  }

  /** The HTTP context of a new stream, or null to let the stream pass untouched. */
  createContext(contextId: u32): HttpContext | null {
    return null;
  }
}

/** Per HTTP stream: the request-path callbacks (the response path is not exported). */
export class HttpContext {
  constructor(readonly contextId: u32) {}

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }

  onRequestBody(bodyBufferLength: u32, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }

  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }
}
