// Responses the gateway writes itself (413, 503 of a failure mode, the filter's and the EPP's
// local replies), and the debug headers it adds to every response.
import type { ServerResponse } from 'node:http';
import type { ErrorDefinition } from '../epp/src/framework/error-catalogue.js';
import { DESTINATION_ENDPOINT_SERVED_KEY, ERROR_CODE_HEADER, httpStatusNumber, type ImmediateResponse } from '../epp/src/protocol/index.js';
import { applyHeaderMutation, removeHeader, setHeader, toNodeHeaders, type HeaderPair } from './headers.js';
import type { RequestRecord } from './record.js';

/** Who chose the endpoint: epp | fail-open | round-robin. */
const PICK_HEADER = 'x-tokenroute-gateway-pick';
const TEXT_PLAIN: HeaderPair[] = [['content-type', 'text/plain']];

/** x-gateway-destination-endpoint-served and x-tokenroute-gateway-pick, when enabled. */
export function withDebugHeaders(pairs: HeaderPair[], rec: RequestRecord, enabled: boolean): HeaderPair[] {
  if (!enabled) return pairs;
  let out = pairs;
  if (rec.served) out = setHeader(out, DESTINATION_ENDPOINT_SERVED_KEY, rec.served);
  if (rec.pickedBy) out = setHeader(out, PICK_HEADER, rec.pickedBy);
  return out;
}

export interface LocalReply {
  readonly status: number;
  readonly body: string | Buffer;
  /** Default: content-type text/plain. */
  readonly headers?: HeaderPair[];
}

/**
 * A reply the gateway writes itself, with its catalogue code (docs/errors.md): the status the
 * catalogue gives, a text body starting with the code, and the x-tokenroute-error-code header the
 * EPP's rejections carry too, so a client tells the two apart and alerts match either.
 */
export function codedReply(error: ErrorDefinition, detail: string): LocalReply {
  return {
    status: error.status ?? 500,
    body: `${error.code}: ${detail}\n`,
    headers: [...TEXT_PLAIN, [ERROR_CODE_HEADER, error.code]],
  };
}

/** Writes a whole response at once; after the headers went out it can only reset the stream. */
export function sendLocalReply(res: ServerResponse, rec: RequestRecord, reply: LocalReply, debugHeaders: boolean): void {
  const buf = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  let pairs = removeHeader(removeHeader(reply.headers ?? TEXT_PLAIN, 'content-length'), 'transfer-encoding');
  pairs = withDebugHeaders(pairs, rec, debugHeaders);
  pairs.push(['content-length', String(buf.length)]);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(reply.status, toNodeHeaders(pairs));
  res.end(buf);
}

/** The EPP's immediate_response: its status (500 when not a valid HTTP status), headers and body. */
export function sendImmediateResponse(res: ServerResponse, rec: RequestRecord, ir: ImmediateResponse, debugHeaders: boolean): void {
  let status = 200;
  try {
    status = ir.status?.code !== undefined ? httpStatusNumber(ir.status.code) : 200;
  } catch {
    status = 500;
  }
  if (!(status >= 200 && status <= 599)) status = 500;
  const headers = applyHeaderMutation([], ir.headers).pairs;
  const body = ir.body ? Buffer.from(ir.body as Uint8Array) : Buffer.alloc(0);
  sendLocalReply(res, rec, { status, body, headers: headers.length > 0 ? headers : TEXT_PLAIN }, debugHeaders);
}
