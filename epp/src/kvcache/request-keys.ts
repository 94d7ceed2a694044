// A request body → the token ids the model server will see → chained block keys, computed with
// the shared tokenroute core wasm (TokenrouteCore: tokenizer, chat templates, block keys) when the
// edge filter did not send verified keys. The prompt is read the way the filter reads it
// (filter/assembly/request/openai.ts, itself vLLM's rules): completions `prompt` as a string, a
// list of strings (first; approximate when several), token ids or lists of them, BOS when
// `add_special_tokens` (default true) and the tokenizer adds one; chat `messages` with text parts
// joined by "\n", add_generation_prompt / continue_final_message / chat_template_kwargs / tools;
// responses `instructions` + `input`. Anything the templates cannot see makes the result
// approximate (exact = false) but still keyed. Runs in the tokenizer worker (kvcache/tokenizer-pool.ts).
import type { ChatRequest, TokenrouteCore } from '../../../filter/tools/core.js';

/** How a served model name is tokenized and seeded (mirrors the filter's `models` entries). */
export interface ModelBinding {
  /** Embedded tokenizer (qwen3, qwen2_5, llama3_1, deepseek_v3). */
  readonly tokenizer: string;
  /** Chat-template family; default: the tokenizer's (llama3_1 → llama3). */
  readonly template?: string;
  /** Model name seeding the keys (default: the served name). */
  readonly seedModel?: string;
  /** LoRA adapter seeding the keys (default: none). */
  readonly lora?: string;
}

export type BodyKind = 'completions' | 'chat-completions' | 'responses' | 'embeddings' | 'conversations' | 'unknown';

export interface KeyJob {
  readonly kind: BodyKind;
  readonly json: Record<string, unknown>;
  /** The served model name (the body's `model`). */
  readonly model: string;
  readonly binding: ModelBinding;
  readonly blockSize: number;
  readonly maxBlocks: number;
  /** Return the token ids too (the render endpoint); maxBlocks 0 skips the keys. */
  readonly wantIds?: boolean;
}

export type KeyResult =
  | { readonly ok: true; readonly tokens: number; readonly exact: boolean; readonly keys: BigUint64Array; readonly ids?: Uint32Array }
  | { readonly ok: false; readonly reason: string };

/** Template family of a tokenizer name when none is configured. */
export function defaultTemplate(tokenizer: string): string {
  if (tokenizer === 'llama3_1' || tokenizer === 'llama3') return 'llama3';
  return tokenizer;
}

interface Prompt {
  text?: string;
  ids?: number[];
  chat?: ChatRequest;
  addBos: boolean;
  approximate: boolean;
}

function isIdList(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
}

function bool(v: unknown, dflt: boolean): boolean | undefined {
  if (v === undefined || v === null) return dflt;
  return typeof v === 'boolean' ? v : undefined;
}

/** Content as vLLM's "string" content format sees it. */
function content(v: unknown, p: Prompt): string | null | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) return undefined;
  const parts: string[] = [];
  for (const part of v) {
    if (part === null || typeof part !== 'object') return undefined;
    const o = part as Record<string, unknown>;
    if (o.type === 'text' || o.type === 'input_text' || o.type === 'output_text') {
      if (typeof o.text !== 'string') return undefined;
      parts.push(o.text);
    } else {
      p.approximate = true;
    }
  }
  return parts.join('\n');
}

function message(m: unknown, p: Prompt): ChatRequest['messages'][number] | undefined {
  if (m === null || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  if (typeof o.role !== 'string') return undefined;
  const c = content(o.content, p);
  if (c === undefined) return undefined;
  const out: Record<string, unknown> = { role: o.role, content: c };
  if (typeof o.reasoning_content === 'string') out.reasoning_content = o.reasoning_content;
  if (Array.isArray(o.tool_calls) && o.tool_calls.length > 0) out.tool_calls = o.tool_calls;
  return out as ChatRequest['messages'][number];
}

function kwargs(json: Record<string, unknown>, p: Prompt): Record<string, unknown> | undefined {
  const kw = json.chat_template_kwargs;
  if (kw === undefined || kw === null) return undefined;
  if (typeof kw !== 'object' || Array.isArray(kw)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw as Record<string, unknown>)) {
    if (k === 'enable_thinking' && typeof v === 'boolean') out.enable_thinking = v;
    else if (k === 'enable_thinking' && v === null) continue;
    else if (k === 'date_string' && typeof v === 'string') out.date_string = v;
    else p.approximate = true;
  }
  return out;
}

function readPrompt(job: KeyJob): Prompt | string {
  const json = job.json;
  const p: Prompt = { addBos: false, approximate: false };
  if (job.kind === 'completions') {
    const ast = bool(json.add_special_tokens, true);
    if (ast === undefined) return '"add_special_tokens" is not a boolean';
    p.addBos = ast;
    const prompt = json.prompt;
    if (typeof prompt === 'string') p.text = prompt;
    else if (isIdList(prompt)) {
      p.ids = prompt;
      p.addBos = false;
    } else if (Array.isArray(prompt) && prompt.length > 0) {
      if (prompt.length > 1) p.approximate = true;
      if (prompt.every((x) => typeof x === 'string')) p.text = prompt[0] as string;
      else if (prompt.every(isIdList)) {
        p.ids = prompt[0] as number[];
        p.addBos = false;
      } else return '"prompt" is not a string, a list of strings or token ids';
    } else return 'missing "prompt"';
    return p;
  }
  const messages: ChatRequest['messages'] = [];
  const chat: ChatRequest = { messages };
  if (job.kind === 'chat-completions') {
    const agp = bool(json.add_generation_prompt, true);
    const cfm = bool(json.continue_final_message, false);
    const ast = bool(json.add_special_tokens, false);
    if (agp === undefined || cfm === undefined || ast === undefined) return 'a chat flag is not a boolean';
    if (ast) p.approximate = true;
    if (json.chat_template !== undefined && json.chat_template !== null) p.approximate = true;
    if (Array.isArray(json.documents) && json.documents.length > 0) p.approximate = true;
    chat.continue_final_message = cfm;
    chat.add_generation_prompt = cfm ? false : agp;
    if (!Array.isArray(json.messages) || json.messages.length === 0) return 'missing "messages"';
    for (const m of json.messages) {
      const msg = message(m, p);
      if (!msg) return 'a message is malformed';
      messages.push(msg);
    }
  } else if (job.kind === 'responses') {
    if (typeof json.instructions === 'string') messages.push({ role: 'system', content: json.instructions });
    if (json.previous_response_id !== undefined && json.previous_response_id !== null) p.approximate = true;
    chat.add_generation_prompt = true;
    const input = json.input;
    if (typeof input === 'string') messages.push({ role: 'user', content: input });
    else if (Array.isArray(input)) {
      for (const it of input) {
        if (it === null || typeof it !== 'object') return 'an input item is malformed';
        const type = (it as Record<string, unknown>).type;
        if (type !== undefined && type !== null && type !== 'message') {
          p.approximate = true;
          continue;
        }
        const msg = message(it, p);
        if (!msg) return 'an input message is malformed';
        messages.push(msg);
      }
      if (messages.length === 0) return '"input" holds no messages';
    } else return 'missing "input"';
  } else {
    return `no prompt to tokenize for ${job.kind} requests`;
  }
  const kw = kwargs(json, p);
  if (kw) chat.chat_template_kwargs = kw;
  if (Array.isArray(json.tools) && json.tools.length > 0) chat.tools = json.tools;
  p.chat = chat;
  return p;
}

/** Tokenizes and keys one request with the core. Never throws. */
export function computeRequestKeys(core: TokenrouteCore, job: KeyJob): KeyResult {
  try {
    const p = readPrompt(job);
    if (typeof p === 'string') return { ok: false, reason: p };
    const tok = job.binding.tokenizer;
    let ids: Uint32Array;
    let exact = !p.approximate;
    if (p.chat) {
      const r = core.renderChat(job.binding.template ?? defaultTemplate(tok), p.chat);
      exact &&= r.exact;
      ids = core.tokenize(tok, r.text);
    } else if (p.ids) {
      ids = Uint32Array.from(p.ids);
    } else {
      const t = core.tokenize(tok, p.text ?? '');
      const info = p.addBos ? core.modelInfo(tok) : null;
      if (info && info.addsBos && info.bosId >= 0) {
        ids = new Uint32Array(t.length + 1);
        ids[0] = info.bosId;
        ids.set(t, 1);
      } else ids = t;
    }
    const keys = job.maxBlocks === 0 ? new BigUint64Array(0) : core.blockKeys(ids, {
      model: job.binding.seedModel ?? job.model,
      lora: job.binding.lora ?? '',
      cacheSalt: typeof job.json.cache_salt === 'string' ? job.json.cache_salt : '',
      blockSize: job.blockSize,
      maxBlocks: job.maxBlocks,
    });
    return { ok: true, tokens: ids.length, exact, keys, ids: job.wantIds ? ids : undefined };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
