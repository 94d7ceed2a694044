// Step 4 through the EPP: response_headers go to it with envoy.lb
// `x-gateway-destination-endpoint-served` in metadata_context; its header mutation applies; then
// each upstream chunk goes out as a response_body message the moment it arrives, and every
// streamed chunk the EPP returns is written to the client at once (SSE is never buffered; Nagle is
// off). The EPP may rewrite the body, so content-length is dropped (Envoy
// `source/extensions/filters/http/ext_proc/ext_proc.cc` at v1.35, FULL_DUPLEX_STREAMED).
import type { ServerResponse } from 'node:http';
import type { ProcessingResponse } from '../../epp/src/protocol/index.js';
import type { LocalReply } from '../local-reply.js';
import { applyHeaderMutation, getHeader, removeHeader, toHeaderMap, toNodeHeaders } from '../headers.js';
import { sendImmediateResponse, sendLocalReply, withDebugHeaders } from '../local-reply.js';
import type { GatewayStats, RequestRecord } from '../record.js';
import { streamDirect } from '../response-direct.js';
import { pauseUntilDrain, whenCutShort, type ResponseSource } from '../response-source.js';
import { ExtProcFailure, type ExtProcCall } from './call.js';
import { replyKind, servedMetadata } from './messages.js';

/**
 * What the response phase asks of the gateway's failure mode (failure-mode.ts implements it): the
 * phase only reports, the policy decides. An interface here so this folder never imports back up.
 */
export interface ResponseFailurePolicy {
  /** The EPP failed mid-response: record it on the request. */
  record(rec: RequestRecord, kind: string, message: string): void;
  /** The EPP failed on the response headers: pass the response through, or answer with a local reply. */
  responseHeadersFailed(rec: RequestRecord, failure: ExtProcFailure): { kind: 'pass-through' } | { kind: 'fail-close'; reply: LocalReply };
}

export interface ResponsePhaseContext {
  readonly messageTimeoutMs: number;
  readonly debugHeaders: boolean;
  readonly stats: GatewayStats;
  readonly failureMode: ResponseFailurePolicy;
}

const EMPTY = Buffer.alloc(0);

export async function runResponsePhase(ctx: ResponsePhaseContext, res: ServerResponse, rec: RequestRecord, src: ResponseSource, x: ExtProcCall, signal: AbortSignal): Promise<void> {
  let reply: ProcessingResponse;
  try {
    reply = await exchangeHeaders(x, src, ctx.messageTimeoutMs);
  } catch (err) {
    x.cancel();
    if (!(err instanceof ExtProcFailure)) throw err;
    const fallback = ctx.failureMode.responseHeadersFailed(rec, err);
    if (fallback.kind === 'pass-through') return streamDirect(res, rec, src, signal, ctx.stats, ctx.debugHeaders);
    src.body.destroy();
    rec.answeredBy = 'gateway';
    sendLocalReply(res, rec, fallback.reply, ctx.debugHeaders);
    return;
  }
  if (reply.immediate_response) {
    src.body.destroy();
    x.finish();
    rec.answeredBy = 'epp';
    sendImmediateResponse(res, rec, reply.immediate_response, ctx.debugHeaders);
    return;
  }
  const mutated = applyHeaderMutation([[':status', String(src.status)], ...src.headers], reply.response_headers!.response?.header_mutation);
  const status = Number(getHeader(mutated.pairs, ':status')) || src.status;
  // The EPP may rewrite the body (e.g. the model name), so the length is no longer known.
  const headers = withDebugHeaders(removeHeader(mutated.pairs, 'content-length'), rec, ctx.debugHeaders);
  res.writeHead(status, toNodeHeaders(headers));
  res.flushHeaders();
  if (src.noBody) {
    src.body.resume();
    x.finish();
    res.end();
    return;
  }
  await streamBody(ctx, res, rec, src, x, signal);
}

/** Sends response_headers (with the served endpoint) and waits for the EPP's headers reply. */
async function exchangeHeaders(x: ExtProcCall, src: ResponseSource, timeoutMs: number): Promise<ProcessingResponse> {
  const sent = x.send({
    response_headers: { headers: toHeaderMap([[':status', String(src.status)], ...src.headers]), end_of_stream: src.noBody },
    ...(src.served ? { metadata_context: servedMetadata(src.served) } : {}),
  });
  if (!sent) throw new ExtProcFailure('stream', 'the ext_proc stream ended before the response');
  const reply = await x.next(timeoutMs);
  if (!reply.immediate_response && !reply.response_headers) throw new ExtProcFailure('protocol', `expected the response_headers reply, got ${replyKind(reply)}`);
  return reply;
}

/**
 * The body in both directions at once: a writer hands upstream chunks to the EPP, a reader writes
 * the EPP's streamed chunks to the client. Any failure now resets the client stream.
 */
function streamBody(ctx: ResponsePhaseContext, res: ServerResponse, rec: RequestRecord, src: ResponseSource, x: ExtProcCall, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
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
          ctx.failureMode.record(rec, (err as ExtProcFailure).kind ?? 'stream', (err as Error).message);
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
      finalTimer = setTimeout(() => end(`no final ext_proc reply within the message timeout (${ctx.messageTimeoutMs} ms)`), ctx.messageTimeoutMs);
    });
    whenCutShort(src.body, () => upstreamDone, () => {
      ctx.stats.upstreamResets++;
      end(`upstream ${src.served ?? ''} reset mid-response`);
    });
  });
}
