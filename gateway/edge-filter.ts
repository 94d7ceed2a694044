// Step 1 of a request: the edge filter (.wasm) in tokenroute's proxy-wasm host, loaded and driven
// as an Envoy listener with `allow_on_headers_stop_iteration` would (the host follows Envoy
// `source/extensions/common/wasm/context.cc` at v1.35 rule by rule). Its header changes apply; its
// local replies answer the client; a VM failure follows the plugin's failure_policy.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ERRORS, TokenrouteError } from '../epp/src/framework/error-catalogue.js';
import { HostLoadError, ProxyWasmHost, defaultFilterWasmPath } from '../filter/host/index.js';
import type { FilterOptions } from './options.js';
import { bytesToUtf8, utf8ToBytes, type HeaderPair } from './headers.js';

/** Host log entries kept at most; the gateway never reads them, so they are dropped past this. */
const MAX_KEPT_LOGS = 1000;

/**
 * Loads the filter the way Envoy would. Throws TR_ERR_STARTUP_FILTER_LOAD when it cannot: the module
 * is missing or unreadable, or Envoy would reject it (the host's HostLoadError reasons, and the
 * filter's own error log lines, e.g. which configuration field is wrong); the cause is kept.
 */
export function loadFilter(f: FilterOptions, bufferLimitBytes: number, logger: Logger): ProxyWasmHost {
  try {
    return createFilterHost(f, bufferLimitBytes, logger);
  } catch (err) {
    const detail = err instanceof HostLoadError ? `the filter would be rejected by Envoy: ${err.explain()}` : err instanceof Error ? err.message : String(err);
    throw new TokenrouteError(ERRORS.STARTUP_FILTER_LOAD, detail, { cause: err });
  }
}

function createFilterHost(f: FilterOptions, bufferLimitBytes: number, logger: Logger): ProxyWasmHost {
  const wasm = f.wasm === undefined ? readFileSync(defaultFilterWasmPath()) : typeof f.wasm === 'string' ? readFileSync(f.wasm) : f.wasm;
  const log = logger.child({ component: 'filter' });
  return new ProxyWasmHost({
    wasm,
    pluginConfig: f.config,
    rootId: 'tokenroute',
    vmId: 'tokenroute',
    pluginName: 'tokenroute',
    allowOnHeadersStopIteration: true,
    bufferLimitBytes,
    failurePolicy: f.failOpen === false ? 'FAIL_CLOSED' : 'FAIL_OPEN',
    workers: 1,
    onLog: (e) => {
      const level = e.level === 'critical' ? 'error' : e.level === 'warn' || e.level === 'error' || e.level === 'info' || e.level === 'debug' || e.level === 'trace' ? e.level : 'info';
      log[level]({ worker: e.worker }, e.message);
    },
  });
}

export interface FilterInput {
  readonly method: string;
  readonly path: string;
  /** The :authority, as a byte string. */
  readonly authority: string;
  /** The request's headers, pseudo-headers included, as byte strings. */
  readonly pairs: HeaderPair[];
  /** The body as the client sent it, chunk by chunk, and as one buffer. */
  readonly chunks: Buffer[];
  readonly body: Buffer;
  readonly routeName: string | undefined;
}

export type FilterOutcome =
  /** Forward: the headers after the filter, its body, and the chunks the EPP is to see. */
  | { kind: 'continue'; pairs: HeaderPair[]; body: Buffer; eppChunks: Buffer[] }
  | { kind: 'local-reply'; status: number; body: Buffer; headers: HeaderPair[] }
  | { kind: 'reset' }
  /** Paused and never resumed: Envoy would hold the request until a timeout. */
  | { kind: 'stalled' };

export function runFilter(filter: ProxyWasmHost, input: FilterInput): FilterOutcome {
  // The host takes UTF-8 text; the gateway holds byte strings (headers.ts).
  const r = filter.runRequestSync({
    method: input.method,
    path: input.path,
    authority: bytesToUtf8(input.authority),
    scheme: 'http',
    headers: input.pairs.filter(([k]) => !k.startsWith(':')).map(([k, v]) => [k, bytesToUtf8(v)] as [string, string]),
    body: input.chunks,
    routeName: input.routeName,
  });
  if (filter.logs.length > MAX_KEPT_LOGS) filter.logs.splice(0);
  if (r.action === 'localReply' && r.localReply) {
    const lr = r.localReply;
    return { kind: 'local-reply', status: lr.status, body: Buffer.from(lr.body, 'utf8'), headers: lr.headers.map(([k, v]) => [k.toLowerCase(), utf8ToBytes(v)] as HeaderPair) };
  }
  if (r.action === 'reset') return { kind: 'reset' };
  if (r.action === 'stalled') return { kind: 'stalled' };
  const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  // Unchanged, the EPP sees the client's chunks; changed, the filter's buffered body as one chunk.
  const eppChunks = body.equals(input.body) ? input.chunks : body.length > 0 ? [body] : [];
  return { kind: 'continue', pairs: r.headersAfter.map(([k, v]) => [k, utf8ToBytes(v)] as HeaderPair), body, eppChunks };
}
