// The benchmark's client side: one streamed /v1/completions request to the development gateway
// (gateway/, started in-process per policy by routing.ts, or any HTTP gateway given by
// BENCH_GATEWAY_URL). TTFT is measured from the scheduled send time to the first non-empty body
// chunk; output/prompt/cached tokens come from the SSE stream (the final usage chunk). The serving
// endpoint is read from the dev gateway's debug header `x-gateway-destination-endpoint-served`
// (else `x-inference-pod:x-inference-port`).

export interface Outcome {
  ok: boolean;
  error?: string;
  endpoint: string;
  /** ms from the scheduled send time to the first streamed token. */
  ttftMs: number;
  e2eMs: number;
  /** ms from the request's arrival at the gateway to the EPP's decision (ext_proc request phase over); NaN when unknown. */
  decisionMs: number;
  promptTokens: number;
  cachedTokens: number;
  outputTokens: number;
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

/** POSTs to a gateway URL and reads the SSE stream back. */
export class GatewayClient {
  constructor(private readonly baseUrl: string) {}

  async send(path: string, body: string, requestId: string, t0: number): Promise<Outcome> {
    const out: Outcome = { ok: false, endpoint: '', ttftMs: NaN, e2eMs: NaN, decisionMs: NaN, promptTokens: 0, cachedTokens: 0, outputTokens: 0 };
    try {
      const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body });
      out.endpoint = res.headers.get('x-gateway-destination-endpoint-served') ?? `${res.headers.get('x-inference-pod') ?? '?'}:${res.headers.get('x-inference-port') ?? '?'}`;
      const sse = new SseCounter();
      const dec = new TextDecoder();
      const reader = res.body!.getReader();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (value && value.length && Number.isNaN(out.ttftMs)) out.ttftMs = performance.now() - t0;
        if (value) {
          const s = dec.decode(value, { stream: true });
          if (res.ok) sse.push(s);
          else text += s;
        }
        if (done) break;
      }
      out.e2eMs = performance.now() - t0;
      Object.assign(out, sse.stats);
      out.ok = res.ok && out.outputTokens > 0;
      if (!res.ok) out.error = `HTTP ${res.status}: ${text.trim().slice(0, 200)}`;
    } catch (e) {
      out.error = (e as Error).message;
    }
    return out;
  }
}
