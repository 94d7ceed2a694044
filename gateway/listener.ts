// startGateway: the HTTP/1.1 listener in front of the request pipeline, and its shutdown. One
// ext_proc channel and one upstream connection pool per gateway, closed with it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ProxyWasmHost } from '../filter/host/index.js';
import { ERRORS, TokenrouteError } from '../epp/src/framework/error-catalogue.js';
import { formatEndpointAddress } from '../epp/src/protocol/index.js';
import { loadFilter } from './edge-filter.js';
import { EppChannel } from './extproc/channel.js';
import { resolveOptions, type GatewayOptions } from './options.js';
import { RequestPipeline } from './pipeline.js';
import { newGatewayStats, type GatewayStats } from './record.js';
import { Upstream } from './upstream.js';

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

/**
 * Starts the development gateway; throws a coded TokenrouteError when it cannot: a bad option
 * (TR_ERR_CLI_INVALID_ARGUMENT, TR_ERR_STARTUP_GATEWAY_NO_ROUTE), a filter Envoy would reject
 * (TR_ERR_STARTUP_FILTER_LOAD) or a port it cannot bind (TR_ERR_STARTUP_LISTEN).
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const cfg = resolveOptions(options);
  const filter = options.filter ? loadFilter(options.filter, cfg.bufferLimitBytes, cfg.logger) : undefined;
  const client = options.epp ? new EppChannel(options.epp, options.eppTls === true) : undefined;
  const stats = newGatewayStats();
  const upstream = new Upstream({ connectMs: cfg.connectTimeoutMs, responseMs: cfg.responseTimeoutMs, idleMs: cfg.upstreamIdleTimeoutMs }, stats);
  const pipeline = new RequestPipeline(cfg, filter, client, upstream, stats);
  // Nagle off: every streamed chunk leaves at once.
  // Slow clients (slowloris): the headers must arrive within clientHeadersTimeoutMs and the whole
  // request within clientRequestTimeoutMs, checked often enough to close them promptly.
  const server: Server = createServer(
    {
      noDelay: true,
      keepAlive: true,
      headersTimeout: cfg.clientHeadersTimeoutMs,
      requestTimeout: Math.max(cfg.clientRequestTimeoutMs, cfg.clientHeadersTimeoutMs),
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(cfg.clientHeadersTimeoutMs / 4))),
    },
    (req, res) => pipeline.handle(req, res),
  );
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
    server.once('error', (err) => reject(new TokenrouteError(ERRORS.STARTUP_LISTEN, `cannot listen on ${formatEndpointAddress(cfg.host, cfg.port)}: ${err.message}`, { cause: err })));
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  pipeline.listenAuthority = formatEndpointAddress(addr.address, addr.port);
  cfg.logger.info(
    { listen: pipeline.listenAuthority, epp: options.epp ?? null, filter: filter ? 'on' : 'off', failureMode: cfg.failureMode, fallback: cfg.fallback.map((e) => e.key) },
    'tokenroute development gateway (a local stand-in for Envoy, not a production proxy) listening',
  );
  let closing: Promise<void> | undefined;
  return {
    host: addr.address,
    port: addr.port,
    url: `http://${pipeline.listenAuthority}`,
    filter,
    stats,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await closed;
        client?.close();
        upstream.close();
      })();
      return closing;
    },
  };
}
