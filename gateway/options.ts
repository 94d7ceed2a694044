// What the gateway is started with, and the defaults and checks that turn it into a configuration.
// The defaults are Envoy's or GIE's where they have one (failure mode FailClose: GIE's
// InferencePool API default; 1 MiB buffer limit: Envoy's per_connection_buffer_limit_bytes
// default, `api/envoy/config/listener/v3/listener.proto` at v1.35).
import type { Logger } from 'pino';
import { ERRORS, TokenrouteError } from '../epp/src/framework/error-catalogue.js';
import { parseEndpointAddressList, type EndpointAddress } from '../epp/src/protocol/index.js';
import type { RequestRecord } from './record.js';
import { silentLogger } from './log.js';

/** The InferencePool's endpointPickerRef.failureMode. */
export type FailureMode = 'FailOpen' | 'FailClose';

export interface FilterOptions {
  /** The module as bytes or a file path; default filter/build/filter.wasm. */
  readonly wasm?: Uint8Array | string;
  /** The plugin configuration JSON (Envoy's PluginConfig.configuration). */
  readonly config: string;
  /** Wasm failure_policy FAIL_OPEN (default, as docs/filter.md recommends) or FAIL_CLOSED. */
  readonly failOpen?: boolean;
}

export interface GatewayOptions {
  /** Listen address (default 127.0.0.1) and port (default 0: ephemeral). */
  readonly host?: string;
  readonly port?: number;
  /** The EPP's ext_proc address `host:port`; absent = no EPP (round-robin over the fallback pool). */
  readonly epp?: string;
  /** Speak TLS to the EPP without verifying its certificate (GIE's self-signed default). */
  readonly eppTls?: boolean;
  /** The edge filter; absent = no filter. */
  readonly filter?: FilterOptions;
  /** Envoy route name: the filter's xds.route_name and the ext_proc `xds.route_name` attribute. */
  readonly routeName?: string;
  /** The pool's endpointPickerRef.failureMode. Default FailClose (GIE's API default). */
  readonly failureMode?: FailureMode;
  /** The pool (`host:port` list) the gateway chooses from itself when failing open or without an EPP. */
  readonly fallbackEndpoints?: readonly string[];
  /** Longest wait for each ext_proc reply the gateway is blocked on (default 30 s). */
  readonly messageTimeoutMs?: number;
  /** Longest wait for the EPP channel to connect before the failure mode applies (default 1 s). */
  readonly eppConnectTimeoutMs?: number;
  /** Largest request body buffered (default 1 MiB, Envoy's default); larger → 413. */
  readonly bufferLimitBytes?: number;
  /** Upstream TCP connect timeout (default 2 s). */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait for an upstream's response headers after the request was sent (default 300 s,
   * the request timeout GIE's HTTPRoutes set; Envoy's own route timeout default is 15 s). On
   * expiry the next endpoint of the list is tried; after the last, 504.
   */
  readonly responseTimeoutMs?: number;
  /** Longest silence of an upstream response body (default 60 s); past it the stream is reset. */
  readonly upstreamIdleTimeoutMs?: number;
  /** Longest wait for a client's complete request headers (default 10 s; slowloris). */
  readonly clientHeadersTimeoutMs?: number;
  /** Longest wait for a client's complete request, headers and body (default 60 s). */
  readonly clientRequestTimeoutMs?: number;
  /** Add x-gateway-destination-endpoint-served and x-tokenroute-gateway-pick to responses (default true). */
  readonly debugHeaders?: boolean;
  /** Where the gateway logs (default: nowhere). */
  readonly logger?: Logger;
  /** Called once per request when it is over. */
  readonly onRequest?: (record: RequestRecord) => void;
}

/** GatewayOptions with every default applied and every value checked. */
export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly failureMode: FailureMode;
  readonly fallback: readonly EndpointAddress[];
  readonly messageTimeoutMs: number;
  readonly eppConnectTimeoutMs: number;
  readonly bufferLimitBytes: number;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly clientHeadersTimeoutMs: number;
  readonly clientRequestTimeoutMs: number;
  readonly debugHeaders: boolean;
  readonly routeName: string | undefined;
  readonly logger: Logger;
  readonly onRequest: ((r: RequestRecord) => void) | undefined;
}

/** Throws with what is wrong when the options cannot run a gateway. */
export function resolveOptions(o: GatewayOptions): GatewayConfig {
  const { addresses: fallback, invalid } = parseEndpointAddressList((o.fallbackEndpoints ?? []).join(','), 'ip-or-name');
  if (invalid.length > 0) throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, `fallback endpoints: not host:port: ${invalid.join(', ')}`);
  const failureMode = o.failureMode ?? 'FailClose';
  if (failureMode !== 'FailOpen' && failureMode !== 'FailClose') throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, `failure mode must be FailOpen or FailClose, not ${String(failureMode)}`);
  if (!o.epp && fallback.length === 0) throw new TokenrouteError(ERRORS.STARTUP_GATEWAY_NO_ROUTE, 'without an EPP the gateway needs fallback endpoints to route to');
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    failureMode,
    fallback,
    messageTimeoutMs: positive(o.messageTimeoutMs, 30_000, 'message timeout'),
    eppConnectTimeoutMs: positive(o.eppConnectTimeoutMs, 1_000, 'EPP connect timeout'),
    bufferLimitBytes: positive(o.bufferLimitBytes, 1 << 20, 'buffer limit'),
    connectTimeoutMs: positive(o.connectTimeoutMs, 2_000, 'connect timeout'),
    responseTimeoutMs: positive(o.responseTimeoutMs, 300_000, 'response timeout'),
    upstreamIdleTimeoutMs: positive(o.upstreamIdleTimeoutMs, 60_000, 'upstream idle timeout'),
    clientHeadersTimeoutMs: positive(o.clientHeadersTimeoutMs, 10_000, 'client headers timeout'),
    clientRequestTimeoutMs: positive(o.clientRequestTimeoutMs, 60_000, 'client request timeout'),
    debugHeaders: o.debugHeaders ?? true,
    routeName: o.routeName,
    logger: o.logger ?? silentLogger(),
    onRequest: o.onRequest,
  };
}

function positive(v: number | undefined, fallback: number, what: string): number {
  const n = v ?? fallback;
  if (!(n > 0) || !Number.isFinite(n)) throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, `${what} must be a positive number`);
  return n;
}
