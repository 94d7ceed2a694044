// Shared pieces of the data-layer tests: a real model-server stand-in (an HTTP(S) server on a
// loopback address whose /metrics page, status and liveness a test controls), endpoints for it,
// a polling wait, and a logger whose lines a test can read.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../epp/src/observability/logger.js';
import type { Endpoint } from '../../../epp/src/framework/endpoint.js';
import { formatEndpointAddress } from '../../../epp/src/protocol/endpoint-address.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from './fixtures/tls.js';

export type ServerMode =
  | { kind: 'ok' }
  | { kind: 'status'; status: number }
  /** Accept the request, never answer. */
  | { kind: 'hang' };

export interface FakeModelServer {
  readonly host: string;
  readonly port: number;
  /** The page served with 200 in mode ok. */
  body: string;
  contentType: string;
  mode: ServerMode;
  /** Requests received on the metrics path. */
  readonly requests: number;
  /** Most requests ever open at once (one scrape in flight per endpoint means 1). */
  readonly maxConcurrent: number;
  /** Connections accepted (keep-alive means few). */
  readonly connections: number;
  endpoint(engine?: string, labels?: Record<string, string>, podName?: string): Endpoint;
  close(): Promise<void>;
}

export async function startFakeModelServer(
  host: string,
  body: string,
  opts: { tls?: boolean; path?: string; port?: number } = {},
): Promise<FakeModelServer> {
  let requests = 0;
  let open = 0;
  let maxConcurrent = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const hung = new Set<http.ServerResponse>();
  const path = opts.path ?? '/metrics';
  const state = { body, contentType: 'text/plain; version=0.0.4; charset=utf-8', mode: { kind: 'ok' } as ServerMode };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.url !== path) {
      res.writeHead(404).end('not found');
      return;
    }
    requests++;
    open++;
    maxConcurrent = Math.max(maxConcurrent, open);
    res.on('close', () => open--);
    const mode = state.mode;
    if (mode.kind === 'hang') {
      hung.add(res);
      return;
    }
    if (mode.kind === 'status') {
      res.writeHead(mode.status, { 'content-type': 'text/plain' }).end('Internal Server Error');
      return;
    }
    res.writeHead(200, { 'content-type': state.contentType }).end(state.body);
  };
  const server = opts.tls ? https.createServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  server.on(opts.tls ? 'secureConnection' : 'connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    host,
    port,
    get body() {
      return state.body;
    },
    set body(v: string) {
      state.body = v;
    },
    get contentType() {
      return state.contentType;
    },
    set contentType(v: string) {
      state.contentType = v;
    },
    get mode() {
      return state.mode;
    },
    set mode(v: ServerMode) {
      state.mode = v;
    },
    get requests() {
      return requests;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    get connections() {
      return connections;
    },
    endpoint(engine = '', labels: Record<string, string> = {}, podName?: string): Endpoint {
      const key = formatEndpointAddress(host, port);
      return { key, address: host, port, podName: podName ?? key, namespace: 'default', labels, engine };
    },
    async close(): Promise<void> {
      for (const res of hung) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A pino logger at `level` whose JSON lines accumulate in `lines`. */
export function captureLogger(level: 'debug' | 'info' | 'warn' = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines };
}
