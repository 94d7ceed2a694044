// One request through the development gateway, in the order of an Envoy listener configured for
// GIE (tokenroute's Wasm filter, then the ext_proc filter in GIE's processing mode, then an
// ORIGINAL_DST-style cluster): (1) the edge filter (edge-filter.ts), (2) the EPP over ext_proc
// (extproc/request-phase.ts; failure-mode.ts when it fails), (3) the upstream named by the EPP,
// walking its fallbacks (upstream.ts), (4) the response back through the EPP
// (extproc/response-phase.ts, or response-direct.ts without one). This module sequences the
// steps, applies their outcomes and keeps the request's record.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyWasmHost } from '../filter/host/index.js';
import { parseEndpointAddressList, type EndpointAddress } from '../epp/src/protocol/index.js';
import { downstreamHeaders, readBody } from './downstream.js';
import { runFilter } from './edge-filter.js';
import type { ExtProcCall } from './extproc/call.js';
import type { ExtProcClient } from './extproc/client.js';
import type { EppChannel } from './extproc/channel.js';
import { runRequestPhase } from './extproc/request-phase.js';
import { runResponsePhase } from './extproc/response-phase.js';
import { FailureModePolicy, stripRoutingHeaders } from './failure-mode.js';
import type { HeaderPair } from './headers.js';
import { ERRORS } from '../epp/src/framework/error-catalogue.js';
import { codedReply, sendImmediateResponse, sendLocalReply, type LocalReply } from './local-reply.js';
import { RateLimitedWarn } from './log.js';
import type { GatewayConfig } from './options.js';
import { newRequestRecord, type GatewayStats, type RequestRecord } from './record.js';
import { streamDirect } from './response-direct.js';
import { localSource, upstreamSource, type ResponseSource } from './response-source.js';
import { Upstream } from './upstream.js';

/** Where the request goes after step 2, and the stream that carries its response phase. */
interface Routing {
  readonly endpoints: EndpointAddress[];
  readonly pairs: HeaderPair[];
  readonly body: Buffer;
  readonly x?: ExtProcCall;
}

export class RequestPipeline {
  /** The authority clients reach the gateway at; set once it listens. */
  listenAuthority = '';
  private readonly warn: RateLimitedWarn;
  private readonly failureMode: FailureModePolicy;

  constructor(
    private readonly cfg: GatewayConfig,
    private readonly filter: ProxyWasmHost | undefined,
    private readonly client: EppChannel | undefined,
    private readonly upstream: Upstream,
    readonly stats: GatewayStats,
  ) {
    this.warn = new RateLimitedWarn(cfg.logger);
    this.failureMode = new FailureModePolicy(cfg.failureMode, cfg.fallback, stats, this.warn);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    this.stats.requests++;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const rec = newRequestRecord(req.method ?? 'GET', req.url ?? '/');
    timeFirstByte(res, rec, t0);
    this.process(req, res, rec, abort.signal, t0)
      .catch((err: Error) => {
        this.cfg.logger.error({ err, requestId: rec.id }, 'gateway: request failed unexpectedly');
        rec.error ??= `internal: ${err.message}`;
        if (!res.headersSent) this.local(res, rec, codedReply(ERRORS.GATEWAY_INTERNAL, 'development gateway internal error'));
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

  private async process(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, signal: AbortSignal, t0: number): Promise<void> {
    const method = req.method ?? 'GET';
    const down = downstreamHeaders(req, this.listenAuthority);
    rec.id = down.requestId;
    let pairs = down.pairs;

    // The body, as the chunks the client sent, up to the buffer limit.
    const read = await readBody(req, this.cfg.bufferLimitBytes);
    if (read.kind === 'too-large') {
      rec.answeredBy = 'gateway';
      res.setHeader('connection', 'close');
      this.local(res, rec, codedReply(ERRORS.GATEWAY_BODY_TOO_LARGE, `Payload Too Large (over ${this.cfg.bufferLimitBytes} bytes)`));
      return;
    }
    if (read.kind === 'error') {
      rec.error = `client: ${read.message}`;
      return;
    }
    let body = read.chunks.length === 1 ? read.chunks[0] : Buffer.concat(read.chunks);
    let eppChunks = read.chunks;

    // 1. The edge filter, in the proxy-wasm host.
    if (this.filter) {
      // The filter runs synchronously on this thread: the process's CPU time across the call is
      // the filter's (bench:routing reports it per request).
      const cpu0 = process.cpuUsage();
      const f = runFilter(this.filter, { method, path: req.url ?? '/', authority: down.authority, pairs, chunks: read.chunks, body, routeName: this.cfg.routeName });
      const cpu = process.cpuUsage(cpu0);
      rec.filterCpuMs = (cpu.user + cpu.system) / 1000;
      switch (f.kind) {
        case 'local-reply':
          rec.answeredBy = 'filter';
          this.local(res, rec, f);
          return;
        case 'reset':
          rec.error = 'the filter reset the stream';
          res.destroy();
          return;
        case 'stalled':
          // Envoy would hold the request until a timeout; answer at once and say why.
          rec.answeredBy = 'gateway';
          rec.error = 'filter stalled';
          this.local(res, rec, codedReply(ERRORS.GATEWAY_FILTER_STALLED, 'the filter paused the request and never resumed it'));
          return;
        case 'continue':
          ({ pairs, body, eppChunks } = f);
      }
    }

    // 2. The EPP over ext_proc (or the gateway's own pick without one).
    const routing = this.client ? await this.askEpp(this.client.current(), res, rec, { pairs, body, eppChunks }, signal, t0) : this.ownRouting(rec, pairs, body, 'round-robin');
    if (!routing) return;
    const { endpoints, x } = routing;
    rec.endpoints = endpoints.map((e) => e.key);
    if (endpoints.length === 0) {
      x?.cancel();
      rec.answeredBy = 'gateway';
      this.local(res, rec, codedReply(ERRORS.GATEWAY_NO_FALLBACK, 'no endpoint to fail open to (no --fallback-endpoints)'));
      return;
    }

    // 3. Upstream, walking the list.
    const attempt = await this.upstream.forward(endpoints, { pairs: routing.pairs, body: routing.body, defaultAuthority: this.listenAuthority, signal }, rec);
    if (signal.aborted) {
      x?.cancel();
      if ('res' in attempt) attempt.res.destroy();
      rec.error ??= 'client went away';
      return;
    }
    let source: ResponseSource;
    if ('res' in attempt) {
      source = upstreamSource(attempt.res, attempt.endpoint.key, method);
      rec.served = attempt.endpoint.key;
      rec.answeredBy = 'upstream';
    } else {
      rec.answeredBy = 'gateway';
      // Envoy's local replies: 504 "upstream request timeout" after the route timeout, else 503.
      // Envoy's texts, so a client sees what it would behind Envoy; the code rides in a header.
      source = attempt.timedOut
        ? localSource(504, `upstream request timeout: ${attempt.failure}\n`, ERRORS.GATEWAY_UPSTREAM_TIMEOUT.code)
        : localSource(503, `upstream connect error or disconnect/reset before headers: ${attempt.failure}\n`, ERRORS.GATEWAY_UPSTREAM_UNREACHABLE.code);
    }

    // 4. The response, through the EPP when there is one.
    await this.respond(res, rec, source, x, signal);
  }

  /** Step 2 with an EPP; undefined when the request was answered here (or the client left). */
  private async askEpp(client: ExtProcClient, res: ServerResponse, rec: RequestRecord, req: { pairs: HeaderPair[]; body: Buffer; eppChunks: Buffer[] }, signal: AbortSignal, t0: number): Promise<Routing | undefined> {
    const settings = { messageTimeoutMs: this.cfg.messageTimeoutMs, connectTimeoutMs: this.cfg.eppConnectTimeoutMs, routeName: this.cfg.routeName };
    const phase = await runRequestPhase(client, settings, { requestId: rec.id, pairs: req.pairs, chunks: req.eppChunks, body: req.body, signal }, this.warn);
    rec.eppDecisionMs = performance.now() - t0;
    if (signal.aborted) {
      if (phase.kind === 'routed') phase.x.cancel();
      rec.error = 'client went away';
      return undefined;
    }
    if (phase.kind === 'immediate') {
      rec.answeredBy = 'epp';
      sendImmediateResponse(res, rec, phase.reply, this.cfg.debugHeaders);
      return undefined;
    }
    if (phase.kind === 'failed') {
      const fallback = this.failureMode.requestPhaseFailed(rec, phase.failure);
      if (fallback.kind === 'fail-close') {
        rec.answeredBy = 'gateway';
        this.local(res, rec, fallback.reply);
        return undefined;
      }
      return this.ownRouting(rec, req.pairs, req.body, 'fail-open', fallback.endpoints);
    }
    rec.pickedBy = 'epp';
    const list = parseEndpointAddressList(phase.destination ?? '');
    if (list.invalid.length > 0) this.warn.warn({ requestId: rec.id, invalid: list.invalid }, 'gateway: invalid entries in the EPP destination list skipped');
    if (list.addresses.length === 0) {
      rec.error = phase.destination === undefined ? 'the EPP named no destination' : `no valid destination in ${JSON.stringify(phase.destination)}`;
      rec.answeredBy = 'gateway';
      await this.respond(res, rec, localSource(503, 'no healthy upstream\n', ERRORS.GATEWAY_NO_HEALTHY_UPSTREAM.code), phase.x, signal);
      return undefined;
    }
    return { endpoints: list.addresses, pairs: phase.pairs, body: phase.body, x: phase.x };
  }

  /** The gateway routes on its own: the pool, and no routing header a client sent. */
  private ownRouting(rec: RequestRecord, pairs: HeaderPair[], body: Buffer, pickedBy: 'fail-open' | 'round-robin', endpoints = this.failureMode.ownPick()): Routing {
    rec.pickedBy = pickedBy;
    return { endpoints, pairs: stripRoutingHeaders(pairs), body };
  }

  private respond(res: ServerResponse, rec: RequestRecord, src: ResponseSource, x: ExtProcCall | undefined, signal: AbortSignal): Promise<void> {
    if (!x) return streamDirect(res, rec, src, signal, this.stats, this.cfg.debugHeaders);
    const ctx = { messageTimeoutMs: this.cfg.messageTimeoutMs, debugHeaders: this.cfg.debugHeaders, stats: this.stats, failureMode: this.failureMode };
    return runResponsePhase(ctx, res, rec, src, x, signal);
  }

  private local(res: ServerResponse, rec: RequestRecord, reply: LocalReply): void {
    sendLocalReply(res, rec, reply, this.cfg.debugHeaders);
  }
}

/** Notes in `rec` when the first response body byte is written to the client. */
function timeFirstByte(res: ServerResponse, rec: RequestRecord, t0: number): void {
  const origWrite = res.write.bind(res) as (chunk: Buffer, ...rest: unknown[]) => boolean;
  let firstByte = false;
  res.write = ((chunk: Buffer, ...rest: unknown[]) => {
    if (!firstByte && chunk && chunk.length > 0) {
      firstByte = true;
      rec.ttfbMs = performance.now() - t0;
    }
    return origWrite(chunk, ...rest);
  }) as typeof res.write;
}
