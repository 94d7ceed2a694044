// The live contexts of one VM by context id, and the ABI callbacks forwarded to them (what the
// SDKs' dispatchers do; AssemblyScript SDK assembly/exports.ts + runtime.ts ensureRootContext /
// ensureContext, Rust SDK src/dispatcher.rs). Each root context id has its own RootContext, so
// plugin configurations sharing a VM stay apart. Never traps: a callback for a context it does
// not know (never created, or whose root context was not configured) gets Continue.
import { HttpContext, RootContext } from './context';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from './types';

export class Contexts {
  private roots: Map<u32, RootContext> = new Map<u32, RootContext>();
  private streams: Map<u32, HttpContext> = new Map<u32, HttpContext>();

  /** `newRoot` builds the filter's root context for a root context id. */
  constructor(private newRoot: (contextId: u32) => RootContext) {}

  /** The root context of `contextId`, created when the host skipped proxy_on_context_create. */
  private root(contextId: u32): RootContext {
    if (this.roots.has(contextId)) return this.roots.get(contextId);
    const root = this.newRoot(contextId);
    this.roots.set(contextId, root);
    return root;
  }

  onContextCreate(contextId: u32, parentId: u32): void {
    if (parentId == 0) {
      this.roots.set(contextId, this.newRoot(contextId));
      return;
    }
    if (!this.roots.has(parentId)) return;
    const stream = this.roots.get(parentId).createContext(contextId);
    if (stream !== null) this.streams.set(contextId, stream);
  }

  onVmStart(rootContextId: u32, vmConfigurationSize: u32): bool {
    return this.root(rootContextId).onStart(vmConfigurationSize);
  }

  onConfigure(rootContextId: u32, configurationSize: u32): bool {
    return this.root(rootContextId).onConfigure(configurationSize);
  }

  onRequestHeaders(contextId: u32, numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (!this.streams.has(contextId)) return FilterHeadersStatus.Continue;
    return this.streams.get(contextId).onRequestHeaders(numHeaders, endOfStream);
  }

  onRequestBody(contextId: u32, bodyBufferLength: u32, endOfStream: bool): FilterDataStatus {
    if (!this.streams.has(contextId)) return FilterDataStatus.Continue;
    return this.streams.get(contextId).onRequestBody(bodyBufferLength, endOfStream);
  }

  onRequestTrailers(contextId: u32, numTrailers: u32): FilterTrailersStatus {
    if (!this.streams.has(contextId)) return FilterTrailersStatus.Continue;
    return this.streams.get(contextId).onRequestTrailers(numTrailers);
  }

  /** proxy_on_delete: the host will not call into this context again. */
  onDelete(contextId: u32): void {
    this.streams.delete(contextId);
    this.roots.delete(contextId);
  }
}
