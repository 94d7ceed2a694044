// The client's side of a request: its headers as Envoy's HTTP connection manager hands them to the
// filter chain, and its body read up to the buffer limit.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { fromRawHeaders, getHeader, removeHeader, type HeaderPair } from './headers.js';

export interface DownstreamHeaders {
  /** Pseudo-headers first (`:method`, `:scheme`, `:authority`, `:path`), then the rest. */
  readonly pairs: HeaderPair[];
  readonly authority: string;
  readonly requestId: string;
}

/**
 * Hop-by-hop headers gone, `host` turned into `:authority`, an x-request-id generated when the
 * client sent none (Envoy `source/common/http/conn_manager_utility.cc`, mutateRequestHeaders, at
 * v1.35).
 */
export function downstreamHeaders(req: IncomingMessage, listenAuthority: string): DownstreamHeaders {
  let pairs: HeaderPair[] = fromRawHeaders(req.rawHeaders);
  const authority = getHeader(pairs, 'host') ?? listenAuthority;
  pairs = removeHeader(pairs, 'host');
  if (getHeader(pairs, 'x-request-id') === undefined) pairs.push(['x-request-id', randomUUID()]);
  pairs.unshift([':method', req.method ?? 'GET'], [':scheme', 'http'], [':authority', authority], [':path', req.url ?? '/']);
  return { pairs, authority, requestId: getHeader(pairs, 'x-request-id') ?? '' };
}

export type BodyRead = { kind: 'ok'; chunks: Buffer[] } | { kind: 'too-large' } | { kind: 'error'; message: string };

/**
 * Reads a request body, keeping the client's chunks, up to `limit` bytes; beyond it the rest is
 * discarded so a 413 can be written (Envoy answers 413 when a filter's buffer overflows:
 * `source/common/http/filter_manager.cc` at v1.35).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: BodyRead) => {
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
