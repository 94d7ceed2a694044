// Starts the EPP's two gRPC servers as GIE's runner does: the ext_proc service on --grpc-port
// (9002, TLS by default) and the health service on --grpc-health-port (9003, always plaintext,
// because kubelet gRPC probes cannot do TLS). With `healthOnGrpcPort` (GIE --health-checking) the
// same health service is also served on the ext_proc port, for proxies whose cluster health check
// targets the ext_proc endpoint itself.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../observability/logger.js';
import type { EppMetrics } from '../observability/metrics.js';
import type { RequestController } from '../framework/request-controller.js';
import { addExtProcService } from '../extproc/service.js';
import { DEFAULT_MAX_REQUEST_BODY_BYTES, type ExtProcOptions } from '../extproc/stream.js';
import { EppHealth } from './health.js';
import { createServerTls, type ServerTls } from './tls.js';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';

export const DEFAULT_GRPC_PORT = 9002;
export const DEFAULT_GRPC_HEALTH_PORT = 9003;

export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 20_000;

export interface EppGrpcServerOptions {
  readonly controller: RequestController;
  /** ext_proc port; 0 = ephemeral. Default 9002. */
  readonly grpcPort?: number;
  /** Health port; 0 = ephemeral. Default 9003. */
  readonly healthPort?: number;
  /** Bind address; default all interfaces (IPv6 dual-stack when available, else 0.0.0.0). */
  readonly host?: string;
  /** TLS on the ext_proc port (GIE --secure-serving, default true). */
  readonly secureServing?: boolean;
  /** Directory with tls.crt/tls.key (GIE --cert-path); unset = self-signed. */
  readonly certPath?: string;
  /** Reload certPath files on change (default true when certPath is set). */
  readonly certReload?: boolean;
  readonly certRefreshIntervalMs?: number;
  /** Readiness predicate: datastore synced (and leader, with leader election). */
  readonly isReady: () => boolean;
  readonly readinessIntervalMs?: number;
  /** Also serve the health service on the ext_proc port (GIE --health-checking). Default false. */
  readonly healthOnGrpcPort?: boolean;
  readonly logger: Logger;
  readonly metrics?: EppMetrics;
  /**
   * Keepalive pings to each proxy connection (default 30 s; 0 off). A peer that does not answer
   * within KEEPALIVE_TIMEOUT_MS is dropped and its streams are cancelled, so a vanished gateway
   * does not hold in-flight requests until the stream idle timeout.
   */
  readonly keepaliveTimeMs?: number;
  /** Stream-level knobs (body limit, assumed body modes, chunk size). */
  readonly extproc?: Partial<Omit<ExtProcOptions, 'controller' | 'logger' | 'metrics'>>;
}

export interface EppGrpcServers {
  /** Bound ext_proc port (the real one when 0 was asked). */
  readonly grpcPort: number;
  readonly healthPort: number;
  readonly tlsMode: ServerTls['mode'];
  /** Re-evaluate readiness now (e.g. right after the datastore syncs). */
  readonly health: EppHealth;
  /**
   * Graceful stop: readiness goes NOT_SERVING, no new calls are accepted, in-flight ext_proc
   * streams get up to `graceMs` (default 10 s) to finish, then remaining ones are cut.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

export async function startEppGrpcServers(opts: EppGrpcServerOptions): Promise<EppGrpcServers> {
  const logger = opts.logger.child({ component: 'grpc-server' });
  const maxBody = opts.extproc?.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  const tls = await createServerTls({
    secureServing: opts.secureServing ?? true,
    certPath: opts.certPath,
    certReload: opts.certReload,
    certRefreshIntervalMs: opts.certRefreshIntervalMs,
    logger,
  });
  const health = new EppHealth({ isReady: opts.isReady, intervalMs: opts.readinessIntervalMs, logger });

  const keepaliveMs = opts.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS;
  const extProcServer = new grpc.Server({
    // In BUFFERED mode the whole body arrives as one message; allow our body limit plus framing.
    'grpc.max_receive_message_length': Math.min(maxBody + 1024 * 1024, 2 ** 31 - 1),
    ...(keepaliveMs > 0 ? { 'grpc.keepalive_time_ms': keepaliveMs, 'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS } : {}),
  });
  addExtProcService(extProcServer, { ...opts.extproc, controller: opts.controller, logger: opts.logger, metrics: opts.metrics });
  if (opts.healthOnGrpcPort) health.implementation.addToServer(extProcServer);

  const healthServer = new grpc.Server();
  health.implementation.addToServer(healthServer);

  let grpcPort: number;
  let healthPort: number;
  try {
    grpcPort = await bind(extProcServer, opts.host, opts.grpcPort ?? DEFAULT_GRPC_PORT, tls.credentials);
    healthPort = await bind(healthServer, opts.host, opts.healthPort ?? DEFAULT_GRPC_HEALTH_PORT, grpc.ServerCredentials.createInsecure());
  } catch (err) {
    extProcServer.forceShutdown();
    healthServer.forceShutdown();
    tls.close();
    throw err;
  }
  health.start();
  logger.info({ grpcPort, healthPort, tls: tls.mode }, 'EPP gRPC servers listening');

  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    healthPort,
    tlsMode: tls.mode,
    health,
    close(closeOpts) {
      closing ??= (async () => {
        health.setShuttingDown();
        const graceMs = closeOpts?.graceMs ?? 10_000;
        await Promise.all([shutdown(extProcServer, graceMs), shutdown(healthServer, graceMs)]);
        health.stop();
        tls.close();
        logger.info('EPP gRPC servers stopped');
      })();
      return closing;
    },
  };
}

async function bind(server: grpc.Server, host: string | undefined, port: number, creds: grpc.ServerCredentials): Promise<number> {
  if (host !== undefined) return bindOnce(server, `${bracket(host)}:${port}`, creds);
  try {
    return await bindOnce(server, `[::]:${port}`, creds);
  } catch {
    // No IPv6 on this host: fall back to IPv4 only.
    return bindOnce(server, `0.0.0.0:${port}`, creds);
  }
}

function bindOnce(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(new TokenrouteError(ERRORS.STARTUP_LISTEN, `cannot bind ${address}: ${err.message}`)) : resolve(port)));
  });
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function shutdown(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
