// The development gateway: a LOCAL / DEV STAND-IN FOR ENVOY, not a production proxy. It exists so
// the filter, the EPP and model servers can be run end to end on one machine (`npm run demo`, the
// e2e tests, the routing benchmark) without installing Envoy. Per HTTP/1.1 request it does what
// an Envoy listener configured as GIE's reference envoy.yaml + tokenroute's filter does:
//
//   1. filter   the edge filter (.wasm) runs in tokenroute's proxy-wasm host exactly as Envoy runs
//               it (allow_on_headers_stop_iteration, buffer limit → 413, local replies, failure
//               policy). Its header changes apply; its local replies answer the client.
//   2. ext_proc one Process() stream per request on ONE gRPC channel (HTTP/2) per gateway, with
//               GIE's processing mode: request/response headers SEND, request/response bodies
//               FULL_DUPLEX_STREAMED (announced in protocol_config, as Envoy ≥ 1.35 does). The
//               request headers go out with end_of_stream=false, then the body chunks as the client
//               sent them; the EPP's deferred headers reply (header mutation, remove_headers,
//               envoy.lb dynamic metadata) and its streamed body (possibly rewritten) come back;
//               an immediate_response answers the client.
//   3. upstream original-destination style: the EPP's `x-gateway-destination-endpoint` (set by its
//               header mutation, else its envoy.lb metadata) is an `ip:port` or a comma-separated
//               fallback list; the gateway walks it on connect failure, reset before headers or 5xx
//               (while nothing has reached the client). A header the CLIENT sent never routes.
//   4. response response_headers go to the EPP with envoy.lb `x-gateway-destination-endpoint-served`
//               in metadata_context; each upstream chunk goes out as a response_body message, and
//               every streamed chunk the EPP returns is written to the client at once (SSE is never
//               buffered; Nagle is off).
//   Failure mode (the InferencePool's endpointPickerRef.failureMode): when the EPP is unreachable,
//   the stream fails or a reply misses the message timeout during the request phase, FailOpen
//   forwards to an endpoint of the gateway's own choosing (round-robin over --fallback-endpoints)
//   and FailClose answers 503 at once (an unreachable channel is detected without waiting for a
//   timeout). After response body bytes were handed to the EPP a failure resets the client stream
//   in both modes — Envoy's FULL_DUPLEX_STREAMED fail-open also only reaches the first chunk.
//
// Differences from Envoy worth knowing: HTTP/1.1 only (downstream and upstream); the request body
// is buffered up to --buffer-limit (413 beyond) so it can be replayed on a fallback endpoint; no
// route table, TLS termination, trailers, retry budgets or outlier detection; the EPP's request
// phase fails open even after body chunks were sent (the gateway keeps a copy).
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { ProxyWasmHost, defaultFilterWasmPath } from '../../filter/host/index.js';
import { newExtProcClient, type ExtProcClient } from '../lib/extproc-client.js';
import { httpStatusNumber } from '../../epp/src/protocol/proto.js';
import { jsonToStruct, structToJson } from '../../epp/src/protocol/struct.js';
import { DESTINATION_ENDPOINT_KEY, DESTINATION_ENDPOINT_NAMESPACE, DESTINATION_ENDPOINT_SERVED_KEY } from '../../epp/src/protocol/keys.js';
import { silentLogger, type Logger } from '../../epp/src/observability/logger.js';
import type { ImmediateResponse, ProcessingRequest, ProcessingResponse, ProtoStruct } from '../../epp/src/protocol/types.js';
import { ExtProcCall, ExtProcFailure } from './extproc-call.js';
import { parseEndpointList, type Endpoint } from './endpoints.js';
import {
  applyHeaderMutation,
  bytesToUtf8,
  fromRawHeaders,
  getHeader,
  removeHeader,
  setHeader,
  toHeaderMap,
  toNodeHeaders,
  utf8ToBytes,
  type HeaderPair,
} from './headers.js';

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
  /** Add x-gateway-destination-endpoint-served and x-tokenroute-gateway-pick to responses (default true). */
  readonly debugHeaders?: boolean;
  readonly logger?: Logger;
  /** Called once per request when it is over. */
  readonly onRequest?: (record: RequestRecord) => void;
}

/** How the upstream endpoint list was obtained. */
export type PickSource = 'epp' | 'fail-open' | 'round-robin';

export interface AttemptRecord {
  readonly endpoint: string;
  /** response: used; retry-5xx: a 5xx answered and the next endpoint was tried; connect-error / reset: no response. */
  readonly outcome: 'response' | 'retry-5xx' | 'connect-error' | 'reset';
  readonly status?: number;
  readonly error?: string;
}

export interface RequestRecord {
  id: string;
  readonly method: string;
  readonly path: string;
  /** Status sent to the client (0: none, the connection was reset). */
  status: number;
  /** Who produced the response the client got. */
  answeredBy: 'upstream' | 'filter' | 'epp' | 'gateway' | 'none';
  pickedBy?: PickSource;
  /** The endpoint list the upstream attempts walked, in order. */
  endpoints: string[];
  attempts: AttemptRecord[];
  /** The endpoint that produced the response (reported to the EPP as ...-served). */
  served?: string;
  /** Why the EPP could not be used, when the failure mode applied. */
  eppFailure?: string;
  /** Why the response was cut short or failed. */
  error?: string;
  /** The client received the whole response. */
  complete: boolean;
  /** Time from the request's arrival to the end of the EPP's request phase (its routing decision). */
  eppDecisionMs?: number;
  /** Time to the first response body byte written to the client. */
  ttfbMs?: number;
  durationMs: number;
}

export interface RunningGateway {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  /** The loaded filter (undefined without one). */
  readonly filter: ProxyWasmHost | undefined;
  /** Counters since start. */
  readonly stats: GatewayStats;
  close(): Promise<void>;
}

export interface GatewayStats {
  requests: number;
  eppFailures: number;
  failOpen: number;
  failClose: number;
  retries: number;
  upstreamResets: number;
}

const SERVED_HEADER = DESTINATION_ENDPOINT_SERVED_KEY;
const PICK_HEADER = 'x-tokenroute-gateway-pick';
/** What Envoy ≥ 1.35 announces in the first message of each stream for GIE's processing mode. */
const PROTOCOL_CONFIG = { request_body_mode: 'FULL_DUPLEX_STREAMED', response_body_mode: 'FULL_DUPLEX_STREAMED' } as const;
const EMPTY = Buffer.alloc(0);

interface Resolved {
  readonly host: string;
  readonly port: number;
  readonly failureMode: FailureMode;
  readonly fallback: Endpoint[];
  readonly messageTimeoutMs: number;
  readonly eppConnectTimeoutMs: number;
  readonly bufferLimitBytes: number;
  readonly connectTimeoutMs: number;
  readonly debugHeaders: boolean;
  readonly routeName: string | undefined;
  readonly logger: Logger;
  readonly onRequest: ((r: RequestRecord) => void) | undefined;
}

function resolveOptions(o: GatewayOptions): Resolved {
  const fallbackText = (o.fallbackEndpoints ?? []).join(',');
  const { endpoints: fallback, invalid } = parseEndpointList(fallbackText, true);
  if (invalid.length > 0) throw new Error(`fallback endpoints: not host:port: ${invalid.join(', ')}`);
  const failureMode = o.failureMode ?? 'FailClose';
  if (failureMode !== 'FailOpen' && failureMode !== 'FailClose') throw new Error(`failure mode must be FailOpen or FailClose, not ${String(failureMode)}`);
  if (!o.epp && fallback.length === 0) throw new Error('without an EPP the gateway needs fallback endpoints to route to');
  const positive = (v: number | undefined, d: number, what: string) => {
    const n = v ?? d;
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${what} must be a positive number`);
    return n;
  };
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    failureMode,
    fallback,
    messageTimeoutMs: positive(o.messageTimeoutMs, 30_000, 'message timeout'),
    eppConnectTimeoutMs: positive(o.eppConnectTimeoutMs, 1_000, 'EPP connect timeout'),
    bufferLimitBytes: positive(o.bufferLimitBytes, 1 << 20, 'buffer limit'),
    connectTimeoutMs: positive(o.connectTimeoutMs, 2_000, 'connect timeout'),
    debugHeaders: o.debugHeaders ?? true,
    routeName: o.routeName,
    logger: o.logger ?? silentLogger(),
    onRequest: o.onRequest,
  };
}

/** Loads the filter the way Envoy would (throws HostLoadError with Envoy's reasons when it would reject it). */
export function loadFilter(f: FilterOptions, bufferLimitBytes: number, logger: Logger): ProxyWasmHost {
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

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const cfg = resolveOptions(options);
  const filter = options.filter ? loadFilter(options.filter, cfg.bufferLimitBytes, cfg.logger) : undefined;
  let client: ExtProcClient | undefined;
  if (options.epp) {
    const creds = options.eppTls
      ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined })
      : grpc.credentials.createInsecure();
    client = newExtProcClient(options.epp, creds, {
      // Notice a restarted EPP quickly (grpc-js defaults: 1 s initial, 120 s max backoff).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.max_receive_message_length': 64 << 20,
      // TLS: no SNI of an IP address (RFC 6066); the certificate is not verified anyway.
      ...(options.eppTls && isIP(options.epp.replace(/^\[|\]?:\d+$/g, '')) ? { 'grpc.ssl_target_name_override': 'tokenroute-epp' } : {}),
    });
  }
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 5_000, scheduling: 'lifo' });
  const gw = new Gateway(cfg, filter, client, agent);
  const server: Server = createServer({ noDelay: true, requestTimeout: 0, keepAlive: true }, (req, res) => gw.handle(req, res));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  gw.listenAuthority = `${urlHost}:${addr.port}`;
  cfg.logger.info(
    { listen: gw.listenAuthority, epp: options.epp ?? null, filter: filter ? 'on' : 'off', failureMode: cfg.failureMode, fallback: cfg.fallback.map((e) => e.key) },
    'tokenroute development gateway (a local stand-in for Envoy, not a production proxy) listening',
  );
  let closing: Promise<void> | undefined;
  return {
    host: addr.address,
    port: addr.port,
    url: `http://${gw.listenAuthority}`,
    filter,
    stats: gw.stats,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await closed;
        client?.close();
        agent.destroy();
      })();
      return closing;
    },
  };
}

type RequestPhase =
  | { kind: 'routed'; x: ExtProcCall; pairs: HeaderPair[]; body: Buffer; destination: string | undefined }
  | { kind: 'immediate'; reply: ImmediateResponse }
  | { kind: 'failed'; failure: ExtProcFailure };

type Attempt = { res: IncomingMessage; endpoint: Endpoint } | { failure: string };

/** A response on its way to the client: from an upstream, or produced by the gateway itself. */
interface ResponseSource {
  status: number;
  headers: HeaderPair[];
  body: Readable;
  /** The upstream endpoint that produced it. */
  served?: string;
  /** Known to have no body (HEAD, 204, 304, content-length: 0). */
  noBody: boolean;
}

class Gateway {
  readonly stats: GatewayStats = { requests: 0, eppFailures: 0, failOpen: 0, failClose: 0, retries: 0, upstreamResets: 0 };
  listenAuthority = '';
  private rr = 0;
  private lastWarn = 0;
  private suppressed = 0;

  constructor(
    private readonly cfg: Resolved,
    private readonly filter: ProxyWasmHost | undefined,
    private readonly client: ExtProcClient | undefined,
    private readonly agent: Agent,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    this.stats.requests++;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const rec: RequestRecord = {
      id: '',
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      answeredBy: 'none',
      endpoints: [],
      attempts: [],
      complete: false,
      durationMs: 0,
    };
    const origWrite = res.write.bind(res) as (chunk: Buffer) => boolean;
    let firstByte = false;
    res.write = ((chunk: Buffer, ...rest: unknown[]) => {
      if (!firstByte && chunk && chunk.length > 0) {
        firstByte = true;
        rec.ttfbMs = performance.now() - t0;
      }
      return (origWrite as (c: Buffer, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof res.write;
    this.process(req, res, rec, abort.signal, t0)
      .catch((err: Error) => {
        this.cfg.logger.error({ err, requestId: rec.id }, 'gateway: request failed unexpectedly');
        rec.error ??= `internal: ${err.message}`;
        if (!res.headersSent) this.sendLocal(res, rec, 500, 'development gateway internal error\n');
        else res.destroy();
      })
      .finally(() => {
        rec.complete = res.writableFinished && rec.error === undefined;
        rec.status = res.headersSent ? res.statusCode : 0;
        rec.durationMs = performance.now() - t0;
        if (rec.ttfbMs === undefined && rec.complete) rec.ttfbMs = rec.durationMs;
        try {
          this.cfg.onRequest?.(rec);
        } catch (err) {
          this.cfg.logger.error({ err }, 'gateway: onRequest callback failed');
        }
      });
  }

  // ---- the request's path ---------------------------------------------------------------------

  private async process(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, signal: AbortSignal, t0: number): Promise<void> {
    // Headers as Envoy's HCM hands them to the filter chain: pseudo-headers first, hop-by-hop
    // headers gone, an x-request-id generated when the client sent none.
    const method = req.method ?? 'GET';
    let pairs: HeaderPair[] = fromRawHeaders(req.rawHeaders);
    const authority = getHeader(pairs, 'host') ?? this.listenAuthority;
    pairs = removeHeader(pairs, 'host');
    if (getHeader(pairs, 'x-request-id') === undefined) pairs.push(['x-request-id', randomUUID()]);
    pairs.unshift([':method', method], [':scheme', 'http'], [':authority', authority], [':path', req.url ?? '/']);
    rec.id = getHeader(pairs, 'x-request-id') ?? '';

    // The body, as the chunks the client sent, up to the buffer limit.
    const read = await readBody(req, this.cfg.bufferLimitBytes);
    if (read.kind === 'too-large') {
      rec.answeredBy = 'gateway';
      res.setHeader('connection', 'close');
      this.sendLocal(res, rec, 413, 'Payload Too Large');
      return;
    }
    if (read.kind === 'error') {
      rec.error = `client: ${read.message}`;
      return;
    }
    const chunks = read.chunks;
    let body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    let eppChunks = chunks;

    // 1. The edge filter, in the proxy-wasm host.
    if (this.filter) {
      const r = this.filter.runRequestSync({
        method,
        path: req.url ?? '/',
        authority: bytesToUtf8(authority),
        scheme: 'http',
        headers: pairs.filter(([k]) => !k.startsWith(':')).map(([k, v]) => [k, bytesToUtf8(v)] as [string, string]),
        body: chunks,
        routeName: this.cfg.routeName,
      });
      if (this.filter.logs.length > 1000) this.filter.logs.splice(0);
      if (r.action === 'localReply' && r.localReply) {
        rec.answeredBy = 'filter';
        const lr = r.localReply;
        this.sendLocal(res, rec, lr.status, Buffer.from(lr.body, 'utf8'), lr.headers.map(([k, v]) => [k.toLowerCase(), utf8ToBytes(v)] as HeaderPair));
        return;
      }
      if (r.action === 'reset') {
        rec.error = 'the filter reset the stream';
        res.destroy();
        return;
      }
      if (r.action === 'stalled') {
        // Envoy would hold the request until a timeout; answer at once and say why.
        rec.answeredBy = 'gateway';
        rec.error = 'filter stalled';
        this.sendLocal(res, rec, 500, 'the filter paused the request and never resumed it\n');
        return;
      }
      pairs = r.headersAfter.map(([k, v]) => [k, utf8ToBytes(v)] as HeaderPair);
      const out = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
      if (!out.equals(body)) eppChunks = out.length > 0 ? [out] : [];
      body = out;
    }

    // 2. The EPP over ext_proc.
    let endpoints: Endpoint[] = [];
    let x: ExtProcCall | undefined;
    if (this.client) {
      const phase = await this.requestPhase(this.client, pairs, eppChunks, body, rec, signal);
      rec.eppDecisionMs = performance.now() - t0;
      if (signal.aborted) {
        if (phase.kind === 'routed') phase.x.cancel();
        rec.error = 'client went away';
        return;
      }
      if (phase.kind === 'immediate') {
        rec.answeredBy = 'epp';
        this.sendImmediate(res, rec, phase.reply);
        return;
      }
      if (phase.kind === 'failed') {
        this.stats.eppFailures++;
        rec.eppFailure = `${phase.failure.kind}: ${phase.failure.message}`;
        this.warn({ requestId: rec.id, failure: rec.eppFailure, failureMode: this.cfg.failureMode }, 'gateway: endpoint picker failed');
        if (this.cfg.failureMode === 'FailClose') {
          this.stats.failClose++;
          rec.answeredBy = 'gateway';
          this.sendLocal(res, rec, 503, `endpoint picker unavailable (FailClose): ${phase.failure.message}\n`);
          return;
        }
        this.stats.failOpen++;
        endpoints = this.failOpenPick();
        rec.pickedBy = 'fail-open';
        pairs = stripRoutingHeaders(pairs);
      } else {
        x = phase.x;
        pairs = phase.pairs;
        body = phase.body;
        rec.pickedBy = 'epp';
        const list = parseEndpointList(phase.destination ?? '');
        endpoints = list.endpoints;
        if (list.invalid.length > 0) this.warn({ requestId: rec.id, invalid: list.invalid }, 'gateway: invalid entries in the EPP destination list skipped');
        if (endpoints.length === 0) {
          rec.error = phase.destination === undefined ? 'the EPP named no destination' : `no valid destination in ${JSON.stringify(phase.destination)}`;
          rec.answeredBy = 'gateway';
          await this.deliver(res, rec, localSource(503, 'no healthy upstream\n'), x, signal);
          return;
        }
      }
    } else {
      endpoints = this.failOpenPick();
      rec.pickedBy = 'round-robin';
      pairs = stripRoutingHeaders(pairs);
    }
    rec.endpoints = endpoints.map((e) => e.key);
    if (endpoints.length === 0) {
      x?.cancel();
      rec.answeredBy = 'gateway';
      this.sendLocal(res, rec, 503, 'no endpoint to fail open to (no --fallback-endpoints)\n');
      return;
    }

    // 3. Upstream, walking the list.
    const attempt = await this.forward(endpoints, pairs, body, rec, signal);
    if (signal.aborted) {
      x?.cancel();
      if ('res' in attempt) attempt.res.destroy();
      rec.error ??= 'client went away';
      return;
    }
    let source: ResponseSource;
    if ('res' in attempt) {
      const up = attempt.res;
      up.on('error', () => undefined); // a reset mid-body is seen as 'close' without 'end'
      const headers = fromRawHeaders(up.rawHeaders);
      const status = up.statusCode ?? 502;
      source = {
        status,
        headers,
        body: up,
        served: attempt.endpoint.key,
        noBody: method === 'HEAD' || status === 204 || status === 304 || getHeader(headers, 'content-length') === '0',
      };
      rec.served = attempt.endpoint.key;
      rec.answeredBy = 'upstream';
    } else {
      rec.answeredBy = 'gateway';
      source = localSource(503, `upstream connect error or disconnect/reset before headers: ${attempt.failure}\n`);
    }

    // 4. The response, through the EPP when there is one.
    await this.deliver(res, rec, source, x, signal);
  }

  /** Request headers + body through ext_proc; resolves with the EPP's routing answer. */
  private async requestPhase(client: ExtProcClient, pairs: HeaderPair[], chunks: Buffer[], body: Buffer, rec: RequestRecord, signal: AbortSignal): Promise<RequestPhase> {
    if (!(await this.eppReady(client))) {
      return { kind: 'failed', failure: new ExtProcFailure('unavailable', 'the ext_proc channel is not connected') };
    }
    const x = new ExtProcCall(client, new grpc.Metadata());
    const onAbort = () => x.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const hasBody = chunks.length > 0 && body.length > 0;
      const first: ProcessingRequest = {
        request_headers: { headers: toHeaderMap(pairs), end_of_stream: !hasBody },
        protocol_config: PROTOCOL_CONFIG,
      };
      if (this.cfg.routeName !== undefined) first.attributes = { 'envoy.filters.http.ext_proc': jsonToStruct({ 'xds.route_name': this.cfg.routeName }) };
      x.send(first);
      if (hasBody) chunks.forEach((c, i) => x.send({ request_body: { body: c, end_of_stream: i === chunks.length - 1 } }));

      // The EPP defers its headers reply until it has read the body, so this wait covers both.
      const h = await x.next(this.cfg.messageTimeoutMs);
      if (h.immediate_response) {
        x.finish();
        return { kind: 'immediate', reply: h.immediate_response };
      }
      if (!h.request_headers) throw new ExtProcFailure('protocol', `expected the request_headers reply first, got ${replyKind(h)}`);
      const mutated = applyHeaderMutation(pairs, h.request_headers.response?.header_mutation);
      if (mutated.ignored.length > 0) this.warn({ requestId: rec.id, ignored: mutated.ignored }, 'gateway: header mutation entries ignored');
      let destination = mutated.set.has(DESTINATION_ENDPOINT_KEY) ? getHeader(mutated.pairs, DESTINATION_ENDPOINT_KEY) : undefined;
      destination ??= metadataDestination(h.dynamic_metadata);
      let out = body;
      if (hasBody) {
        const parts: Buffer[] = [];
        for (;;) {
          const r = await x.next(this.cfg.messageTimeoutMs);
          if (r.immediate_response) {
            x.finish();
            return { kind: 'immediate', reply: r.immediate_response };
          }
          if (!r.request_body) throw new ExtProcFailure('protocol', `expected a request_body reply, got ${replyKind(r)}`);
          const sr = r.request_body.response?.body_mutation?.streamed_response;
          if (!sr) throw new ExtProcFailure('protocol', 'a request_body reply without streamed_response (FULL_DUPLEX_STREAMED requires one)');
          if (sr.body && sr.body.length > 0) parts.push(Buffer.from(sr.body));
          destination ??= metadataDestination(r.dynamic_metadata);
          if (sr.end_of_stream) break;
        }
        out = Buffer.concat(parts);
      }
      return { kind: 'routed', x, pairs: mutated.pairs, body: out, destination };
    } catch (err) {
      x.cancel();
      if (err instanceof ExtProcFailure) return { kind: 'failed', failure: err };
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Whether the ext_proc channel can take a stream now: READY → yes; TRANSIENT_FAILURE → no, at
   * once (a down EPP must not cost every request a timeout); IDLE/CONNECTING → wait for the
   * outcome up to the EPP connect timeout. Asking for the state also kicks a reconnect.
   */
  private async eppReady(client: ExtProcClient): Promise<boolean> {
    const ch = client.getChannel();
    const deadline = Date.now() + this.cfg.eppConnectTimeoutMs;
    let st = ch.getConnectivityState(true);
    while (st !== grpc.connectivityState.READY) {
      if (st === grpc.connectivityState.TRANSIENT_FAILURE || st === grpc.connectivityState.SHUTDOWN) return false;
      if (Date.now() >= deadline) return false;
      const changed = await new Promise<boolean>((resolve) => ch.watchConnectivityState(st, deadline, (err?: Error) => resolve(!err)));
      if (!changed) return false;
      st = ch.getConnectivityState(true);
    }
    return true;
  }

  private failOpenPick(): Endpoint[] {
    const pool = this.cfg.fallback;
    if (pool.length === 0) return [];
    const i = this.rr++ % pool.length;
    return [...pool.slice(i), ...pool.slice(0, i)];
  }

  /** Tries the endpoints in order; a connect failure, a reset before headers or a 5xx (not on the last) moves on. */
  private async forward(endpoints: Endpoint[], pairs: HeaderPair[], body: Buffer, rec: RequestRecord, signal: AbortSignal): Promise<Attempt> {
    const method = getHeader(pairs, ':method') ?? 'GET';
    const path = getHeader(pairs, ':path') ?? '/';
    // The body may have been rewritten by the EPP: its length is what the upstream gets.
    const sized = body.length > 0 || getHeader(pairs, 'content-length') !== undefined ? setHeader(pairs, 'content-length', String(body.length)) : pairs;
    const headers = toNodeHeaders(sized);
    headers.host = getHeader(pairs, ':authority') ?? this.listenAuthority;
    let failure = 'no endpoint';
    for (let i = 0; i < endpoints.length; i++) {
      if (signal.aborted) return { failure: 'client went away' };
      if (i > 0) this.stats.retries++;
      const ep = endpoints[i];
      const last = i === endpoints.length - 1;
      const r = await this.attempt(ep, method, path, headers, body, signal);
      if (r.kind === 'response') {
        const status = r.res.statusCode ?? 0;
        if (status >= 500 && !last) {
          rec.attempts.push({ endpoint: ep.key, outcome: 'retry-5xx', status });
          r.res.resume();
          failure = `${ep.key} answered ${status}`;
          continue;
        }
        rec.attempts.push({ endpoint: ep.key, outcome: 'response', status });
        return { res: r.res, endpoint: ep };
      }
      rec.attempts.push({ endpoint: ep.key, outcome: r.kind, error: r.message });
      failure = `${ep.key}: ${r.kind} (${r.message})`;
    }
    return { failure };
  }

  private attempt(
    ep: Endpoint,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body: Buffer,
    signal: AbortSignal,
  ): Promise<{ kind: 'response'; res: IncomingMessage } | { kind: 'connect-error' | 'reset'; message: string }> {
    return new Promise((resolve) => {
      let settled = false;
      let connected = false;
      const settle = (v: { kind: 'response'; res: IncomingMessage } | { kind: 'connect-error' | 'reset'; message: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const req = httpRequest({ host: ep.host, port: ep.port, method, path, headers, agent: this.agent, setHost: false });
      const timer = setTimeout(() => req.destroy(new Error(`connect timeout (${this.cfg.connectTimeoutMs} ms)`)), this.cfg.connectTimeoutMs);
      const onAbort = () => req.destroy(new Error('client went away'));
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (s: Socket) => {
        const up = () => {
          connected = true;
          clearTimeout(timer);
        };
        if (s.connecting) s.once('connect', up);
        else up();
      });
      req.on('response', (res) => settle({ kind: 'response', res }));
      req.on('error', (err: Error) => settle({ kind: connected ? 'reset' : 'connect-error', message: err.message }));
      req.end(body.length > 0 ? body : undefined);
    });
  }

  // ---- the response's path --------------------------------------------------------------------

  private async deliver(res: ServerResponse, rec: RequestRecord, src: ResponseSource, x: ExtProcCall | undefined, signal: AbortSignal): Promise<void> {
    if (!x) return this.deliverDirect(res, rec, src, signal);
    let reply: ProcessingResponse;
    try {
      const sent = x.send({
        response_headers: { headers: toHeaderMap([[':status', String(src.status)], ...src.headers]), end_of_stream: src.noBody },
        ...(src.served ? { metadata_context: servedMetadata(src.served) } : {}),
      });
      if (!sent) throw new ExtProcFailure('stream', 'the ext_proc stream ended before the response');
      reply = await x.next(this.cfg.messageTimeoutMs);
      if (!reply.immediate_response && !reply.response_headers) throw new ExtProcFailure('protocol', `expected the response_headers reply, got ${replyKind(reply)}`);
    } catch (err) {
      x.cancel();
      if (!(err instanceof ExtProcFailure)) throw err;
      this.stats.eppFailures++;
      rec.eppFailure = `${err.kind}: ${err.message}`;
      this.warn({ requestId: rec.id, failure: rec.eppFailure }, 'gateway: endpoint picker failed on the response headers');
      if (this.cfg.failureMode === 'FailOpen') return this.deliverDirect(res, rec, src, signal);
      src.body.destroy();
      rec.answeredBy = 'gateway';
      this.sendLocal(res, rec, 503, `endpoint picker unavailable (FailClose): ${err.message}\n`);
      return;
    }
    if (reply.immediate_response) {
      src.body.destroy();
      x.finish();
      rec.answeredBy = 'epp';
      this.sendImmediate(res, rec, reply.immediate_response);
      return;
    }
    const mutated = applyHeaderMutation([[':status', String(src.status)], ...src.headers], reply.response_headers!.response?.header_mutation);
    const status = Number(getHeader(mutated.pairs, ':status')) || src.status;
    // The EPP may rewrite the body (e.g. the model name), so the length is no longer known.
    const headers = this.withDebug(removeHeader(mutated.pairs, 'content-length'), rec);
    res.writeHead(status, toNodeHeaders(headers));
    res.flushHeaders();
    if (src.noBody) {
      src.body.resume();
      x.finish();
      res.end();
      return;
    }
    await new Promise<void>((resolve) => {
      let upstreamDone = false;
      let over = false;
      let finalTimer: NodeJS.Timeout | undefined;
      const end = (error?: string) => {
        if (over) return;
        over = true;
        if (finalTimer) clearTimeout(finalTimer);
        if (error) {
          rec.error ??= error;
          x.cancel();
          src.body.destroy();
          res.destroy();
        }
        resolve();
      };
      signal.addEventListener('abort', () => end('client went away'), { once: true });
      // Reader: every chunk the EPP streams back goes to the client at once.
      void (async () => {
        for (;;) {
          let r: ProcessingResponse;
          try {
            r = await x.next();
          } catch (err) {
            if (over) return;
            this.stats.eppFailures++;
            rec.eppFailure = `${(err as ExtProcFailure).kind ?? 'stream'}: ${(err as Error).message}`;
            return end(`endpoint picker failed mid-response: ${(err as Error).message}`);
          }
          if (over) return;
          const sr = r.response_body?.response?.body_mutation?.streamed_response;
          if (r.immediate_response) return end('the EPP answered immediate_response after the response headers were sent');
          if (!sr) {
            if (r.response_trailers) continue;
            return end(`protocol: expected a streamed response_body reply, got ${replyKind(r)}`);
          }
          if (sr.body && sr.body.length > 0 && !res.write(Buffer.from(sr.body)) && !upstreamDone) pauseUntilDrain(src.body, res);
          if (sr.end_of_stream) {
            x.finish();
            res.end(() => end());
            return;
          }
        }
      })();
      // Writer: every upstream chunk goes to the EPP as it arrives.
      src.body.on('data', (c: Buffer) => {
        x.send({ response_body: { body: c, end_of_stream: false } });
      });
      src.body.once('end', () => {
        upstreamDone = true;
        if (over) return;
        x.send({ response_body: { body: EMPTY, end_of_stream: true } });
        finalTimer = setTimeout(() => end(`no final ext_proc reply within the message timeout (${this.cfg.messageTimeoutMs} ms)`), this.cfg.messageTimeoutMs);
      });
      const reset = () => {
        if (!upstreamDone) {
          this.stats.upstreamResets++;
          end(`upstream ${src.served ?? ''} reset mid-response`);
        }
      };
      src.body.once('close', reset);
      if (src.body.destroyed) reset();
    });
  }

  /** Upstream straight to the client (no EPP, or the EPP failed open before the body). */
  private async deliverDirect(res: ServerResponse, rec: RequestRecord, src: ResponseSource, signal: AbortSignal): Promise<void> {
    res.writeHead(src.status, toNodeHeaders(this.withDebug([...src.headers], rec)));
    res.flushHeaders();
    await new Promise<void>((resolve) => {
      let over = false;
      let ended = false;
      const end = (error?: string) => {
        if (over) return;
        over = true;
        if (error) {
          rec.error ??= error;
          src.body.destroy();
          res.destroy();
        }
        resolve();
      };
      signal.addEventListener('abort', () => end('client went away'), { once: true });
      src.body.on('data', (c: Buffer) => {
        if (!res.write(c)) pauseUntilDrain(src.body, res);
      });
      src.body.once('end', () => {
        ended = true;
        res.end(() => end());
      });
      const reset = () => {
        if (!ended) {
          this.stats.upstreamResets++;
          end(`upstream ${src.served ?? ''} reset mid-response`);
        }
      };
      src.body.once('close', reset);
      if (src.body.destroyed) reset();
    });
  }

  private withDebug(pairs: HeaderPair[], rec: RequestRecord): HeaderPair[] {
    if (!this.cfg.debugHeaders) return pairs;
    let out = pairs;
    if (rec.served) out = setHeader(out, SERVED_HEADER, rec.served);
    if (rec.pickedBy) out = setHeader(out, PICK_HEADER, rec.pickedBy);
    return out;
  }

  private sendImmediate(res: ServerResponse, rec: RequestRecord, ir: ImmediateResponse): void {
    let status = 200;
    try {
      status = ir.status?.code !== undefined ? httpStatusNumber(ir.status.code) : 200;
    } catch {
      status = 500;
    }
    if (!(status >= 200 && status <= 599)) status = 500;
    const headers = applyHeaderMutation([], ir.headers).pairs;
    const body = ir.body ? Buffer.from(ir.body as Uint8Array) : EMPTY;
    this.sendLocal(res, rec, status, body, headers.length > 0 ? headers : [['content-type', 'text/plain']]);
  }

  private sendLocal(res: ServerResponse, rec: RequestRecord, status: number, body: string | Buffer, headers: HeaderPair[] = [['content-type', 'text/plain']]): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    let pairs = removeHeader(removeHeader(headers, 'content-length'), 'transfer-encoding');
    pairs = this.withDebug(pairs, rec);
    pairs.push(['content-length', String(buf.length)]);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, toNodeHeaders(pairs));
    res.end(buf);
  }

  /** Warnings at most once a second (with the number suppressed), so a down EPP cannot flood the log. */
  private warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.lastWarn < 1000) {
      this.suppressed++;
      return;
    }
    this.lastWarn = now;
    this.cfg.logger.warn({ ...fields, suppressed: this.suppressed }, msg);
    this.suppressed = 0;
  }
}

/** Reads a request body up to `limit` bytes; beyond it the rest is discarded. */
function readBody(req: IncomingMessage, limit: number): Promise<{ kind: 'ok'; chunks: Buffer[] } | { kind: 'too-large' } | { kind: 'error'; message: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: { kind: 'ok'; chunks: Buffer[] } | { kind: 'too-large' } | { kind: 'error'; message: string }) => {
      if (done) return;
      done = true;
      resolve(v);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // keep reading, discarding, so the 413 can be written
        finish({ kind: 'too-large' });
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish({ kind: 'ok', chunks }));
    req.once('error', (err) => finish({ kind: 'error', message: err.message }));
    req.once('close', () => finish({ kind: 'error', message: 'the client closed the connection before the body ended' }));
  });
}

/** Stops reading `from` until `to` has drained (once per stall). */
function pauseUntilDrain(from: Readable, to: ServerResponse): void {
  if (from.isPaused()) return;
  from.pause();
  to.once('drain', () => from.resume());
}

function localSource(status: number, text: string): ResponseSource {
  const body = Buffer.from(text, 'utf8');
  return { status, headers: [['content-type', 'text/plain'], ['content-length', String(body.length)]], body: Readable.from([body]), noBody: false };
}

/** Routing headers a client may have sent: never forwarded when the gateway routes on its own. */
function stripRoutingHeaders(pairs: HeaderPair[]): HeaderPair[] {
  return pairs.filter(([k]) => !k.startsWith(DESTINATION_ENDPOINT_KEY) && !k.startsWith('x-tokenroute-'));
}

function servedMetadata(endpoint: string): { filter_metadata: Record<string, ProtoStruct> } {
  return { filter_metadata: { [DESTINATION_ENDPOINT_NAMESPACE]: jsonToStruct({ [SERVED_HEADER]: endpoint }) } };
}

/** envoy.lb / x-gateway-destination-endpoint from a reply's dynamic metadata. */
function metadataDestination(dm: ProtoStruct | undefined): string | undefined {
  if (!dm) return undefined;
  const ns = structToJson(dm)[DESTINATION_ENDPOINT_NAMESPACE];
  const v = ns && typeof ns === 'object' ? (ns as Record<string, unknown>)[DESTINATION_ENDPOINT_KEY] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function replyKind(r: ProcessingResponse): string {
  return r.response ?? Object.keys(r).find((k) => k !== 'dynamic_metadata' && k !== 'mode_override' && (r as Record<string, unknown>)[k] !== undefined) ?? 'an empty message';
}
