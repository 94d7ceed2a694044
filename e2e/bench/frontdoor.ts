// The benchmark's front door: how one request gets from the load generator to a model server.
// Pluggable so the same run can go through the development gateway (e2e/gateway/, an HTTP
// server running the proxy-wasm filter and ext_proc) once it is ready:
//   - `ExtProcFrontDoor` (default): an in-process minimal gateway. Per request it opens one
//     ext_proc stream to the EPP (request headers + full body, as Envoy sends them), takes the
//     endpoint from `x-gateway-destination-endpoint`, POSTs the (possibly mutated) body there,
//     streams the SSE response back, and passes the response headers and every body chunk to the
//     EPP (so it sees completions, usage and the served endpoint). Both tokenroute's EPP and
//     llm-d's Go EPP are driven through exactly this code.
//   - `HttpFrontDoor`: POST to a gateway URL (e.g. the dev gateway's listener); the endpoint is
//     read from the response header `x-gateway-destination-endpoint-served` / `x-inference-pod`.
import * as grpc from '@grpc/grpc-js';
import { newExtProcClient, StreamDriver, bodyMsg, headersMsg, respBodyMsg, respHeadersMsg, servedMetadata, setHeadersOf, type ExtProcClient } from '../lib/extproc-client.js';

export interface Outcome {
  ok: boolean;
  error?: string;
  endpoint: string;
  /** ms from the scheduled send time to the first streamed token. */
  ttftMs: number;
  e2eMs: number;
  /** ms from the send to the EPP's decision (ext_proc headers reply). */
  decisionMs: number;
  promptTokens: number;
  cachedTokens: number;
  outputTokens: number;
}

export interface FrontDoor {
  readonly name: string;
  send(path: string, body: string, requestId: string, t0: number): Promise<Outcome>;
  close(): void;
}

interface SseStats {
  outputTokens: number;
  promptTokens: number;
  cachedTokens: number;
}

/** Incremental SSE parser for OpenAI completions: counts token chunks, keeps the usage. */
class SseCounter {
  private buf = '';
  readonly stats: SseStats = { outputTokens: 0, promptTokens: 0, cachedTokens: 0 };
  private usageSeen = false;
  push(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const ev = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      for (const line of ev.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]' || !data) continue;
        try {
          const j = JSON.parse(data) as { choices?: { text?: string; delta?: { content?: string } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | null };
          if (j.usage) {
            this.usageSeen = true;
            this.stats.promptTokens = j.usage.prompt_tokens ?? 0;
            this.stats.cachedTokens = j.usage.prompt_tokens_details?.cached_tokens ?? 0;
            if (j.usage.completion_tokens !== undefined) this.stats.outputTokens = j.usage.completion_tokens;
          } else if (!this.usageSeen && j.choices?.length) {
            this.stats.outputTokens++;
          }
        } catch {
          /* partial or non-JSON line */
        }
      }
    }
  }
}

function isLoopback(hostPort: string): boolean {
  return /^127\.\d+\.\d+\.\d+:\d+$/.test(hostPort) || hostPort.startsWith('[::1]:') || hostPort.startsWith('localhost:');
}

export class ExtProcFrontDoor implements FrontDoor {
  readonly name = 'in-process ext_proc gateway (e2e/bench/frontdoor.ts)';
  private readonly client: ExtProcClient;
  constructor(eppAddress: string) {
    this.client = newExtProcClient(eppAddress, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 });
  }

  async send(path: string, body: string, requestId: string, t0: number): Promise<Outcome> {
    const out: Outcome = { ok: false, endpoint: '', ttftMs: NaN, e2eMs: NaN, decisionMs: NaN, promptTokens: 0, cachedTokens: 0, outputTokens: 0 };
    const d = new StreamDriver(this.client);
    try {
      d.send(headersMsg({ ':method': 'POST', ':path': path, ':authority': 'gateway', ':scheme': 'http', 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-request-id': requestId }));
      d.send(bodyMsg(body, true));
      const chunks: Buffer[] = [];
      let mutated = false;
      for (;;) {
        const r = await d.next(120_000);
        if (r.immediate_response) throw new Error(`immediate response ${JSON.stringify(r.immediate_response.status)}: ${Buffer.from(r.immediate_response.body ?? '').toString().slice(0, 200)}`);
        if (r.request_headers) {
          out.decisionMs = performance.now() - t0;
          const dest = setHeadersOf(r.request_headers.response?.header_mutation).get('x-gateway-destination-endpoint');
          if (dest) out.endpoint = dest.split(',')[0].trim();
          continue;
        }
        if (r.request_body) {
          const bm = r.request_body.response?.body_mutation;
          const sr = bm?.streamed_response;
          if (sr) {
            if (sr.body) chunks.push(Buffer.from(sr.body));
            mutated = true;
            if (!sr.end_of_stream) continue;
          } else if (bm?.body) {
            chunks.push(Buffer.from(bm.body));
            mutated = true;
          }
          break;
        }
      }
      if (!out.endpoint) throw new Error('EPP named no destination');
      if (!isLoopback(out.endpoint)) throw new Error(`refusing non-loopback destination ${out.endpoint}`);
      const upstream = mutated ? Buffer.concat(chunks) : Buffer.from(body);
      const res = await fetch(`http://${out.endpoint}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: upstream });
      d.send(respHeadersMsg({ ':status': String(res.status), 'content-type': res.headers.get('content-type') ?? '' }, false, servedMetadata(out.endpoint)));
      const sse = new SseCounter();
      const dec = new TextDecoder();
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (value && value.length && Number.isNaN(out.ttftMs)) out.ttftMs = performance.now() - t0;
        if (value) sse.push(dec.decode(value, { stream: true }));
        // Envoy passes each chunk on; the replies are not awaited one by one (the EPP answers
        // every chunk in order; the stream is drained when it ends).
        d.send(respBodyMsg(Buffer.from(value ?? new Uint8Array()), done));
        if (done) break;
      }
      out.e2eMs = performance.now() - t0;
      Object.assign(out, sse.stats);
      out.ok = res.ok && out.outputTokens > 0;
      if (!res.ok) out.error = `upstream HTTP ${res.status}`;
      d.end();
      await Promise.race([d.status, new Promise((r) => setTimeout(r, 5000))]);
    } catch (e) {
      out.error = (e as Error).message;
      d.cancel();
    }
    return out;
  }

  close(): void {
    this.client.close();
  }
}

export class HttpFrontDoor implements FrontDoor {
  readonly name: string;
  constructor(private readonly baseUrl: string) {
    this.name = `HTTP gateway at ${baseUrl}`;
  }
  async send(path: string, body: string, requestId: string, t0: number): Promise<Outcome> {
    const out: Outcome = { ok: false, endpoint: '', ttftMs: NaN, e2eMs: NaN, decisionMs: NaN, promptTokens: 0, cachedTokens: 0, outputTokens: 0 };
    try {
      const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body });
      out.endpoint = res.headers.get('x-gateway-destination-endpoint-served') ?? `${res.headers.get('x-inference-pod') ?? '?'}:${res.headers.get('x-inference-port') ?? '?'}`;
      const sse = new SseCounter();
      const dec = new TextDecoder();
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (value && value.length && Number.isNaN(out.ttftMs)) out.ttftMs = performance.now() - t0;
        if (value) sse.push(dec.decode(value, { stream: true }));
        if (done) break;
      }
      out.e2eMs = performance.now() - t0;
      Object.assign(out, sse.stats);
      out.ok = res.ok && out.outputTokens > 0;
      if (!res.ok) out.error = `HTTP ${res.status}`;
    } catch (e) {
      out.error = (e as Error).message;
    }
    return out;
  }
  close(): void {}
}
