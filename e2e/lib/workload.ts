// OpenAI requests through a gateway and a small shared-prefix workload: F prompt families, each
// a long system prompt shared by its requests and a unique user question, sent streaming with
// usage (so every answer reports prompt and cached tokens). Used by the demo and the e2e tests.
import { seededRandom as rng } from '../../epp/src/util/seeded-random.js';
import { SIM_MODEL } from './sims.js';

/** The gateway's response headers naming what happened (see docs/gateway.md). */
export const SERVED_HEADER = 'x-gateway-destination-endpoint-served';
export const PICK_HEADER = 'x-tokenroute-gateway-pick';

export interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  /** The model server that answered (gateway debug header). */
  readonly served: string | undefined;
  /** Who chose it: epp, fail-open or round-robin. */
  readonly pick: string | undefined;
  /** Whole body (non-streaming) or the concatenated generated text (streaming). */
  readonly text: string;
  /** Parsed JSON body (non-streaming, when JSON). */
  readonly json?: Record<string, unknown>;
  /** Streaming: data events received (without [DONE]) and whether [DONE] came. */
  readonly events: number;
  readonly done: boolean;
  /** Time to the first generated text (streaming) or to the whole body (non-streaming). */
  readonly ttftMs: number | undefined;
  /** Milliseconds from the request to each body chunk the client received. */
  readonly chunkTimesMs: number[];
  readonly totalMs: number;
  readonly promptTokens: number | undefined;
  readonly cachedTokens: number | undefined;
  /** A transport error (connection reset, stream cut short). */
  readonly error?: string;
}

interface Usage {
  prompt_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

/** POSTs an OpenAI request and reads the answer; SSE responses are parsed event by event. */
export async function call(baseUrl: string, path: string, body: Record<string, unknown> | string, headers: Record<string, string> = {}, timeoutMs = 60_000): Promise<CallResult> {
  const t0 = performance.now();
  const chunkTimesMs: number[] = [];
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return failed(0, new Headers(), (err as Error).message, t0);
  }
  const served = res.headers.get(SERVED_HEADER) ?? undefined;
  const pick = res.headers.get(PICK_HEADER) ?? undefined;
  const sse = (res.headers.get('content-type') ?? '').includes('text/event-stream');
  const decoder = new TextDecoder();
  let raw = '';
  let text = '';
  let events = 0;
  let done = false;
  let ttftMs: number | undefined;
  let usage: Usage | undefined;
  let error: string | undefined;
  let pending = '';
  try {
    for await (const chunk of res.body ?? []) {
      chunkTimesMs.push(performance.now() - t0);
      const s = decoder.decode(chunk as Uint8Array, { stream: true });
      if (!sse) {
        raw += s;
        continue;
      }
      pending += s;
      let cut: number;
      while ((cut = pending.indexOf('\n\n')) >= 0) {
        const ev = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        for (const line of ev.split('\n')) {
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') {
            done = true;
            continue;
          }
          events++;
          try {
            const j = JSON.parse(data) as { choices?: { delta?: { content?: string }; text?: string }[]; usage?: Usage | null };
            const piece = j.choices?.[0]?.delta?.content ?? j.choices?.[0]?.text ?? '';
            if (piece && ttftMs === undefined) ttftMs = performance.now() - t0;
            text += piece;
            if (j.usage) usage = j.usage;
          } catch {
            error ??= `unparseable SSE event: ${data.slice(0, 80)}`;
          }
        }
      }
    }
  } catch (err) {
    error = `response cut short: ${(err as Error).message}`;
  }
  const totalMs = performance.now() - t0;
  let json: Record<string, unknown> | undefined;
  if (!sse) {
    text = raw;
    try {
      json = JSON.parse(raw) as Record<string, unknown>;
      usage = json.usage as Usage | undefined;
    } catch {
      /* not JSON */
    }
    ttftMs = error ? undefined : totalMs;
  } else if (!done && !error && res.ok) {
    error = 'stream ended without [DONE]';
  }
  return {
    status: res.status,
    headers: res.headers,
    served,
    pick,
    text,
    ...(json ? { json } : {}),
    events,
    done,
    ttftMs,
    chunkTimesMs,
    totalMs,
    promptTokens: usage?.prompt_tokens,
    cachedTokens: usage ? (usage.prompt_tokens_details?.cached_tokens ?? 0) : undefined,
    ...(error ? { error } : {}),
  };
}

function failed(status: number, headers: Headers, error: string, t0: number): CallResult {
  return { status, headers, served: undefined, pick: undefined, text: '', events: 0, done: false, ttftMs: undefined, chunkTimesMs: [], totalMs: performance.now() - t0, promptTokens: undefined, cachedTokens: undefined, error };
}

const WORDS = (
  'account billing cluster device error firmware gateway invoice latency network password printer quota refund ' +
  'region router schedule server session storage subscription support ticket token update upgrade user warranty ' +
  'always carefully check confirm describe explain first never politely quickly then verify when with without'
).split(' ');


/** Family `f`'s shared system prompt (~`words` words, deterministic). */
export function familyPrompt(f: number, words = 300): string {
  const r = rng(1000 + f);
  const out = [`You are the support assistant of company number ${f}. Follow these house rules:`];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)] + (i % 12 === 11 ? '.' : ''));
  return out.join(' ');
}

export function chatBody(system: string, question: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: SIM_MODEL,
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: question },
    ],
    ...extra,
  };
}

export interface WorkloadOptions {
  readonly url: string;
  readonly requests: number;
  readonly concurrency: number;
  readonly families: number;
  readonly prefixWords?: number;
  /** Family numbers start here (a second run on new, uncached prefixes). */
  readonly familyOffset?: number;
  readonly maxTokens?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Outcome extends CallResult {
  readonly i: number;
  readonly family: number;
}

/** Request i belongs to family i mod F; streaming chat with usage. */
export async function runWorkload(o: WorkloadOptions): Promise<Outcome[]> {
  const prompts = Array.from({ length: o.families }, (_, f) => familyPrompt((o.familyOffset ?? 0) + f, o.prefixWords ?? 300));
  const out: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < o.requests) {
      const i = next++;
      const family = i % o.families;
      const body = chatBody(prompts[family], `Question ${i}: my device ${i % 7} shows error ${100 + i}. What should I do?`, {
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: o.maxTokens ?? 24,
      });
      const r = await call(o.url, '/v1/chat/completions', body, { 'x-request-id': `demo-${i}` });
      out.push({ ...r, i, family });
      o.onProgress?.(out.length, o.requests);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  return out.sort((a, b) => a.i - b.i);
}

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export interface Summary {
  readonly requests: number;
  readonly ok: number;
  /** Σ cached prompt tokens ÷ Σ prompt tokens over successful requests. */
  readonly cacheHitRate: number;
  readonly ttftP50: number;
  readonly ttftP90: number;
  readonly perEndpoint: { endpoint: string; requests: number; share: number; cacheHitRate: number; ttftP50: number; families: number }[];
}

export function summarize(outcomes: readonly Outcome[], endpoints: readonly string[] = []): Summary {
  const ok = outcomes.filter((o) => o.status === 200 && !o.error);
  const hit = (xs: readonly Outcome[]) => {
    const p = xs.reduce((s, o) => s + (o.promptTokens ?? 0), 0);
    return p > 0 ? xs.reduce((s, o) => s + (o.cachedTokens ?? 0), 0) / p : 0;
  };
  const ttfts = (xs: readonly Outcome[]) => xs.map((o) => o.ttftMs).filter((v): v is number => v !== undefined);
  const keys = [...new Set([...endpoints, ...ok.map((o) => o.served ?? '?')])].sort();
  return {
    requests: outcomes.length,
    ok: ok.length,
    cacheHitRate: hit(ok),
    ttftP50: percentile(ttfts(ok), 0.5),
    ttftP90: percentile(ttfts(ok), 0.9),
    perEndpoint: keys.map((endpoint) => {
      const mine = ok.filter((o) => (o.served ?? '?') === endpoint);
      return {
        endpoint,
        requests: mine.length,
        share: ok.length ? mine.length / ok.length : 0,
        cacheHitRate: hit(mine),
        ttftP50: percentile(ttfts(mine), 0.5),
        families: new Set(mine.map((o) => o.family)).size,
      };
    }),
  };
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('   ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : '-');
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** One row per run: requests, ok, cache-hit rate, TTFT p50/p90. */
export function formatRuns(runs: readonly { label: string; summary: Summary }[]): string {
  return table(
    ['routing', 'requests', 'ok', 'cache-hit rate', 'TTFT p50', 'TTFT p90'],
    runs.map(({ label, summary: s }) => [label, String(s.requests), String(s.ok), pct(s.cacheHitRate), ms(s.ttftP50), ms(s.ttftP90)]),
  );
}

/** Where requests went: per endpoint share, cache-hit rate, TTFT p50 and prompt families seen. */
export function formatEndpoints(s: Summary, families: number): string {
  return table(
    ['endpoint', 'requests', 'share', 'cache-hit rate', 'TTFT p50', `families (of ${families})`],
    s.perEndpoint.map((e) => [e.endpoint, String(e.requests), `${Math.round(e.share * 100)}%`, pct(e.cacheHitRate), ms(e.ttftP50), String(e.families)]),
  );
}
