// The ext_proc side of Envoy for benchmarks: one request on its own Process() stream, in
// FULL_DUPLEX_STREAMED order — headers, then the body in messages of `chunkBytes` (honouring gRPC
// backpressure), the EPP's replies read to the end of the streamed body — with the times that
// matter: when the routing reply came, measured from the headers and from the body's last message.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { newExtProcClient, type ExtProcClient } from '../../gateway/index.js';
import type { ProcessingRequest, ProcessingResponse } from '../src/protocol/index.js';

export type { ExtProcClient };

/** A client with no message-size limits (bodies of tens of MB go through as many messages). */
export function benchExtProcClient(port: number): ExtProcClient {
  return newExtProcClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
}

export interface ExtProcTiming {
  /** Routed (not refused, not failed). */
  readonly ok: boolean;
  /** Routing reply received − request headers sent: what the proxy waits, body transfer included. */
  readonly sinceHeadersMs: number;
  /** Routing reply received − last body message sent (negative: decided before the body ended). */
  readonly sinceBodyEndMs: number;
  /** The destination the EPP set. */
  readonly destination?: string;
}

function headerMessage(headers: Readonly<Record<string, string>>, bodyLength: number): ProcessingRequest {
  const all: Record<string, string> = { ':method': 'POST', 'content-type': 'application/json', 'content-length': String(bodyLength), ...headers };
  return { request_headers: { headers: { headers: Object.entries(all).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) }, end_of_stream: bodyLength === 0 } };
}

/**
 * One request. `bodyModeNone` plays a route whose ext_proc request body mode is NONE: the proxy
 * announces it (protocol_config) and sends the headers only — the body never reaches the EPP.
 */
export async function extProcRequest(client: ExtProcClient, headers: Readonly<Record<string, string>>, body: Buffer, chunkBytes = 64 * 1024, bodyModeNone = false): Promise<ExtProcTiming> {
  const call = client.Process(new grpc.Metadata()) as grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
  let headersAt = 0;
  let bodyEndAt = 0;
  let routedAt = -1;
  let destination: string | undefined;
  const done = new Promise<boolean>((resolve) => {
    call.on('data', (r: ProcessingResponse) => {
      if (r.immediate_response) {
        resolve(false);
        call.cancel();
        return;
      }
      if (r.request_headers && routedAt < 0) {
        routedAt = performance.now();
        const set = r.request_headers.response?.header_mutation?.set_headers ?? [];
        const d = set.find((h) => h.header?.key === 'x-gateway-destination-endpoint')?.header;
        destination = d ? (d.raw_value ? Buffer.from(d.raw_value).toString() : d.value) : undefined;
        if (body.length === 0 || bodyModeNone) {
          call.end();
          resolve(true);
        }
      }
      if (r.request_body?.response?.body_mutation?.streamed_response?.end_of_stream) {
        call.end();
        resolve(true);
      }
    });
    call.on('error', () => resolve(false));
    call.on('end', () => resolve(routedAt >= 0));
  });
  headersAt = performance.now();
  const first = headerMessage(headers, body.length);
  if (bodyModeNone) {
    first.request_headers!.end_of_stream = false;
    first.protocol_config = { request_body_mode: 'NONE', response_body_mode: 'FULL_DUPLEX_STREAMED' };
  }
  call.write(first);
  bodyEndAt = headersAt;
  for (let off = 0; off < (bodyModeNone ? 0 : body.length); off += chunkBytes) {
    const last = off + chunkBytes >= body.length;
    const more = call.write({ request_body: { body: body.subarray(off, off + chunkBytes), end_of_stream: last } });
    if (last) bodyEndAt = performance.now();
    else if (!more) await once(call, 'drain');
  }
  const ok = await done;
  return { ok, sinceHeadersMs: routedAt - headersAt, sinceBodyEndMs: routedAt - bodyEndAt, destination };
}

/** Count, median, 99th percentile and maximum of `samples` (ms). */
export function summarize(samples: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : NaN };
}

/** CPU seconds (user + system) a process has used so far, from /proc (10 ms clock ticks). */
export function processCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
