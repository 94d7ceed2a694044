// A response on its way to the client: from an upstream, or produced by the gateway itself (its
// local replies take the same path through the EPP as an upstream's).
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { ERROR_CODE_HEADER } from '../epp/src/protocol/index.js';
import { fromRawHeaders, getHeader, type HeaderPair } from './headers.js';

export interface ResponseSource {
  status: number;
  headers: HeaderPair[];
  body: Readable;
  /** The upstream endpoint that produced it. */
  served?: string;
  /** Known to have no body (HEAD, 204, 304, content-length: 0). */
  noBody: boolean;
}

export function upstreamSource(res: IncomingMessage, endpoint: string, method: string): ResponseSource {
  res.on('error', () => undefined); // a reset mid-body is seen as 'close' without 'end'
  const headers = fromRawHeaders(res.rawHeaders);
  const status = res.statusCode ?? 502;
  return {
    status,
    headers,
    body: res,
    served: endpoint,
    noBody: method === 'HEAD' || status === 204 || status === 304 || getHeader(headers, 'content-length') === '0',
  };
}

export function localSource(status: number, text: string, code?: string): ResponseSource {
  const body = Buffer.from(text, 'utf8');
  const headers: HeaderPair[] = [['content-type', 'text/plain'], ['content-length', String(body.length)]];
  if (code) headers.push([ERROR_CODE_HEADER, code]);
  return { status, headers, body: Readable.from([body]), noBody: false };
}

/** Stops reading `from` until `to` has drained (once per stall). */
export function pauseUntilDrain(from: Readable, to: NodeJS.WritableStream): void {
  if (from.isPaused()) return;
  from.pause();
  to.once('drain', () => from.resume());
}

/** Calls `onCutShort` when the body closes before `ended()` says it ended (also when already destroyed). */
export function whenCutShort(body: Readable, ended: () => boolean, onCutShort: () => void): void {
  const check = () => {
    if (!ended()) onCutShort();
  };
  body.once('close', check);
  if (body.destroyed) check();
}
