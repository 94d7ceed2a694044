// Step 2 of a request: its headers and body through the EPP, in FULL_DUPLEX_STREAMED order. The
// request headers go out with end_of_stream=false when a body follows, then the body chunks as the
// client sent them; the EPP's deferred request_headers reply (header mutation, remove_headers,
// envoy.lb dynamic metadata) and its streamed body (possibly rewritten) come back; an
// immediate_response answers the client (Envoy `source/extensions/filters/http/ext_proc/
// ext_proc.cc` and `processor_state.cc` at v1.35).
import * as grpc from '@grpc/grpc-js';
import { DESTINATION_ENDPOINT_KEY, type ImmediateResponse, type ProcessingRequest } from '../../epp/src/protocol/index.js';
import { applyHeaderMutation, getHeader, toHeaderMap, type HeaderPair } from '../headers.js';
import type { RateLimitedWarn } from '../log.js';
import { ExtProcCall, ExtProcFailure } from './call.js';
import { channelReady } from './channel.js';
import type { ExtProcClient } from './client.js';
import { PROTOCOL_CONFIG, metadataDestination, replyKind, routeNameAttributes } from './messages.js';

export interface ExtProcSettings {
  /** Longest wait for each reply the gateway is blocked on. */
  readonly messageTimeoutMs: number;
  /** Longest wait for the channel to connect. */
  readonly connectTimeoutMs: number;
  readonly routeName: string | undefined;
}

export interface RequestPhaseInput {
  readonly requestId: string;
  readonly pairs: HeaderPair[];
  /** The chunks the EPP is to see, and the body they make up. */
  readonly chunks: Buffer[];
  readonly body: Buffer;
  readonly signal: AbortSignal;
}

export type RequestPhase =
  /** The EPP's answer: the stream (kept for the response), the mutated headers and body, its destination value. */
  | { kind: 'routed'; x: ExtProcCall; pairs: HeaderPair[]; body: Buffer; destination: string | undefined }
  | { kind: 'immediate'; reply: ImmediateResponse }
  | { kind: 'failed'; failure: ExtProcFailure };

export async function runRequestPhase(client: ExtProcClient, settings: ExtProcSettings, input: RequestPhaseInput, warn: RateLimitedWarn): Promise<RequestPhase> {
  if (!(await channelReady(client, settings.connectTimeoutMs))) {
    return { kind: 'failed', failure: new ExtProcFailure('unavailable', 'the ext_proc channel is not connected') };
  }
  const { pairs, chunks, body, signal } = input;
  const x = new ExtProcCall(client, new grpc.Metadata());
  const onAbort = () => x.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const hasBody = chunks.length > 0 && body.length > 0;
    const first: ProcessingRequest = {
      request_headers: { headers: toHeaderMap(pairs), end_of_stream: !hasBody },
      protocol_config: PROTOCOL_CONFIG,
    };
    if (settings.routeName !== undefined) first.attributes = routeNameAttributes(settings.routeName);
    x.send(first);
    if (hasBody) chunks.forEach((c, i) => x.send({ request_body: { body: c, end_of_stream: i === chunks.length - 1 } }));

    // The EPP defers its headers reply until it has read the body, so this wait covers both.
    const h = await x.next(settings.messageTimeoutMs);
    if (h.immediate_response) {
      x.finish();
      return { kind: 'immediate', reply: h.immediate_response };
    }
    if (!h.request_headers) throw new ExtProcFailure('protocol', `expected the request_headers reply first, got ${replyKind(h)}`);
    const mutated = applyHeaderMutation(pairs, h.request_headers.response?.header_mutation);
    if (mutated.ignored.length > 0) warn.warn({ requestId: input.requestId, ignored: mutated.ignored }, 'gateway: header mutation entries ignored');
    // The header the EPP set routes; one the client sent never does.
    let destination = mutated.set.has(DESTINATION_ENDPOINT_KEY) ? getHeader(mutated.pairs, DESTINATION_ENDPOINT_KEY) : undefined;
    destination ??= metadataDestination(h.dynamic_metadata);
    let out = body;
    if (hasBody) {
      const parts: Buffer[] = [];
      for (;;) {
        const r = await x.next(settings.messageTimeoutMs);
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
