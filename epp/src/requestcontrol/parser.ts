// OpenAI request-body parsing for the EPP: from the raw body and the request path, find which
// API the request is (completions, chat completions, responses, embeddings, conversations),
// the `model`, `stream` and `cache_salt` fields, and the prefix text the prefix-cache index
// hashes. Follows GIE v1.5.0's openai-parser (framework/plugins/requesthandling/parsers/openai/
// openai.go) and prefix input (requestcontrol/dataproducer/approximateprefix/hashing.go).
// Every failure is a 400 value, never a throw: malformed or non-object JSON, a missing or
// non-string model, bodies over a caller's size limit or nested deeper than the depth limit, and a
// model or cache_salt longer than its limit — both are copied into metric labels, logs, key
// seeds and responses, so a client must not be able to make them arbitrarily large.
import type { ApiKind, ContentStats, ParsedBody } from '../framework/request.js';
import type { Plugin } from '../framework/plugins.js';

/**
 * No size limit of the parser's own: the EPP's one body limit is --max-request-body-bytes,
 * enforced while the body streams in (extproc/body.ts), before parsing. A second, smaller limit
 * here used to turn a valid 40 MB body into a 400 although the flag allowed 64 MiB.
 */
export const DEFAULT_MAX_BODY_BYTES = Number.POSITIVE_INFINITY;
/** Far above any real OpenAI body, far below what would overflow JSON.stringify's recursion. */
export const DEFAULT_MAX_JSON_DEPTH = 256;
/** Far above any served model name (Hugging Face ids are ≤ 96 characters plus the owner). */
export const DEFAULT_MAX_MODEL_NAME_BYTES = 1024;
export const DEFAULT_MAX_CACHE_SALT_BYTES = 1024;

export interface ParseOptions {
  /** Bodies larger than this are rejected (default: no limit here; the EPP limits bodies before parsing). */
  readonly maxBodyBytes?: number;
  /** JSON nested deeper than this is rejected (default 256 levels). */
  readonly maxDepth?: number;
  /** A longer `model` (UTF-8 bytes) is rejected (default 1024). */
  readonly maxModelNameBytes?: number;
  /** A longer `cache_salt` (UTF-8 bytes) is rejected (default 1024). */
  readonly maxCacheSaltBytes?: number;
}

export interface ParseFailure {
  readonly ok: false;
  /** 400: the body is invalid or a field is over its limit; 503: the parser could not run (off-thread parsing overloaded). */
  readonly status: 400 | 503;
  readonly message: string;
  /** The limit that was exceeded (model_name_bytes, cache_salt_bytes, body_parse_queue), when that was the cause. */
  readonly limit?: string;
}

export type ParseResult = { readonly ok: true; readonly body: ParsedBody } | ParseFailure;

/** A configured parser plugin (`parser.pluginRef` in EndpointPickerConfig). */
export interface RequestParser extends Plugin {
  /**
   * False for parsers that leave the body opaque (passthrough-parser): the body has no model
   * or prefix text and must be forwarded unchanged (no model rewrite).
   */
  readonly parsesBody: boolean;
  /** A promise when the parse runs off the event loop (large bodies); never rejects. */
  parse(body: Buffer, headers: ReadonlyMap<string, string>): ParseResult | Promise<ParseResult>;
  /**
   * The request read from its headers alone, when they carry what a decision needs (the edge
   * filter's verified x-tokenroute-* headers: openai-parser's `filterHeaders`); undefined when
   * the body must be read.
   */
  parseHeaders?(headers: ReadonlyMap<string, string>): ParseResult | undefined;
}

export function isRequestParser(p: Plugin): p is RequestParser {
  return typeof (p as RequestParser).parse === 'function' && typeof (p as RequestParser).parsesBody === 'boolean';
}

/**
 * The request path from the headers, in GIE's order: `:path`, then `x-original-path`, then
 * `x-forwarded-path`. Undefined when none is set.
 */
export function requestPath(headers: ReadonlyMap<string, string>): string | undefined {
  return headers.get(':path') || headers.get('x-original-path') || headers.get('x-forwarded-path') || undefined;
}

/**
 * The API a path names, by suffix as GIE matches it (so `/v1/projects/x/chat/completions`
 * works too), after dropping a query string and trailing slashes. Undefined when unknown.
 */
export function apiKindFromPath(path: string | undefined): ApiKind | undefined {
  if (!path) return undefined;
  let p = path;
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p.endsWith('/conversations')) return 'conversations';
  if (p.endsWith('/responses')) return 'responses';
  if (p.endsWith('/chat/completions')) return 'chat-completions';
  if (p.endsWith('/completions')) return 'completions';
  if (p.endsWith('/embeddings')) return 'embeddings';
  return undefined;
}

const RESPONSES_ONLY_KEYS = [
  'instructions',
  'tools',
  'tool_choice',
  'previous_response_id',
  'reasoning',
  'max_output_tokens',
  'text',
  'conversation',
  'store',
  'background',
  'include',
];
const EMBEDDINGS_ONLY_KEYS = ['encoding_format', 'dimensions'];

/** Guesses the API from the body when the path does not say (tokenroute; GIE assumes completions). */
export function apiKindFromShape(json: Record<string, unknown>): ApiKind {
  if (Array.isArray(json.messages)) return 'chat-completions';
  if (json.prompt !== undefined) return 'completions';
  if (Array.isArray(json.items)) return 'conversations';
  if (json.input !== undefined && json.input !== null) {
    if (RESPONSES_ONLY_KEYS.some((k) => json[k] !== undefined)) return 'responses';
    if (EMBEDDINGS_ONLY_KEYS.some((k) => json[k] !== undefined)) return 'embeddings';
    const input = json.input;
    if (Array.isArray(input)) {
      // Responses input items are objects; embeddings input is strings or token ids.
      return input.some((x) => x !== null && typeof x === 'object' && !Array.isArray(x)) ? 'responses' : 'embeddings';
    }
    return 'responses';
  }
  return 'unknown';
}

/**
 * Parses an OpenAI-style request body. `path` (see requestPath) selects the API; when it is
 * missing or names no known API, the body's shape does (and a body of no known shape is
 * accepted as kind `unknown`, with no prefix text).
 */
export function parseRequestBody(body: Buffer, path: string | undefined, options: ParseOptions = {}): ParseResult {
  const v = validateRequestBody(body, path, options);
  if (!v.ok) return v;
  return { ok: true, body: new OpenAiBody(v.kind, v.model, v.stream, v.json, v.cacheSalt, body) };
}

/** A body that passed validation: its fields, and the parsed object. */
export interface ValidBody {
  readonly ok: true;
  readonly kind: ApiKind;
  readonly model: string;
  readonly stream: boolean;
  readonly cacheSalt: string | undefined;
  readonly json: Record<string, unknown>;
}

/** The checks of parseRequestBody, shared by the off-thread parser (parsing/off-thread-body.ts). */
export function validateRequestBody(body: Uint8Array, path: string | undefined, options: ParseOptions = {}): ValidBody | ParseFailure {
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  if (body.length === 0) return bad('empty request body');
  if (body.length > maxBytes) return bad(`request body is ${body.length} bytes, over the ${maxBytes}-byte limit`);

  let json: unknown;
  try {
    // Buffer's decoding replaces invalid UTF-8 and keeps a BOM (which JSON.parse then refuses), as pinned in lenient-bodies tests.
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    return bad(`error unmarshaling request body: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return bad('request body must be a JSON object');
  }
  if (nestedDeeperThan(json, maxDepth)) return bad(`request body is nested deeper than ${maxDepth} levels`);
  const obj = json as Record<string, unknown>;

  const model = obj.model;
  if (typeof model !== 'string') return bad('model not found in request body');
  const maxModel = options.maxModelNameBytes ?? DEFAULT_MAX_MODEL_NAME_BYTES;
  if (model.length > maxModel || Buffer.byteLength(model) > maxModel) {
    return { ok: false, status: 400, message: `model is ${Buffer.byteLength(model)} bytes, over the ${maxModel}-byte limit (maxModelNameBytes)`, limit: 'model_name_bytes' };
  }
  const salt = obj.cache_salt;
  if (salt !== undefined && salt !== null && typeof salt !== 'string') return bad('cache_salt must be a string');
  const maxSalt = options.maxCacheSaltBytes ?? DEFAULT_MAX_CACHE_SALT_BYTES;
  if (typeof salt === 'string' && (salt.length > maxSalt || Buffer.byteLength(salt) > maxSalt)) {
    return { ok: false, status: 400, message: `cache_salt is ${Buffer.byteLength(salt)} bytes, over the ${maxSalt}-byte limit (maxCacheSaltBytes)`, limit: 'cache_salt_bytes' };
  }
  const cacheSalt = typeof salt === 'string' && salt !== '' ? salt : undefined;
  const stream = obj.stream === true;

  const fromPath = apiKindFromPath(path);
  let kind: ApiKind = fromPath ?? apiKindFromShape(obj);
  const invalid = apiFieldError(kind, obj);
  if (invalid !== undefined) {
    // A known path makes a malformed body a client error (as in GIE); a guessed shape that
    // does not hold up just means we do not know the API.
    if (fromPath) return bad(invalid);
    kind = 'unknown';
  }
  return { ok: true, kind, model, stream, cacheSalt, json: obj };
}

/**
 * The parsed body. `prefixText` is computed on first use: serializing `messages` costs more
 * than the whole scheduling decision, and only prefix-aware plugins read it.
 */
class OpenAiBody implements ParsedBody {
  private prefix: string | undefined;
  private stats: ContentStats | undefined;
  constructor(
    readonly kind: ApiKind,
    readonly model: string,
    readonly stream: boolean,
    readonly json: Record<string, unknown>,
    readonly cacheSalt: string | undefined,
    readonly raw: Uint8Array,
  ) {}

  get prefixText(): string {
    this.prefix ??= prefixText(this.kind, this.json);
    return this.prefix;
  }

  get prefixLength(): number {
    return this.prefixText.length;
  }

  prefixHead(maxChars: number): string {
    const text = this.prefixText;
    return text.length > maxChars ? text.slice(0, maxChars) : text;
  }

  get content(): ContentStats {
    this.stats ??= contentStats(this.json);
    return this.stats;
  }

  withModel(model: string): Buffer {
    return Buffer.from(JSON.stringify({ ...this.json, model }));
  }
}

const MEDIA_BLOCKS = new Set(['image_url', 'video_url', 'input_audio']);

/** ContentStats of a parsed body (see framework/request.ts). */
export function contentStats(obj: Record<string, unknown>): ContentStats {
  let textChars = 0;
  let mediaBlocks = 0;
  const messages = obj.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      const content = (m as { content?: unknown } | null)?.content;
      if (typeof content === 'string') textChars += content.length;
      else if (Array.isArray(content)) {
        for (const block of content) if (MEDIA_BLOCKS.has((block as { type?: unknown } | null)?.type as string)) mediaBlocks++;
      }
    }
  }
  if (typeof obj.prompt === 'string') textChars += obj.prompt.length;
  return { textChars, mediaBlocks };
}

/**
 * Why the body lacks the field its API requires (GIE openai.go extractRequestBody), or
 * undefined when it has it.
 */
function apiFieldError(kind: ApiKind, obj: Record<string, unknown>): string | undefined {
  switch (kind) {
    case 'completions':
      return promptText(obj.prompt) === undefined
        ? 'invalid completions request: prompt must be a non-empty string, array of strings or array of token ids'
        : undefined;
    case 'chat-completions':
      return !Array.isArray(obj.messages) || obj.messages.length === 0 ? 'invalid chat completions request: must have valid messages field' : undefined;
    case 'responses':
      return obj.input === undefined || obj.input === null ? 'invalid responses request: must have input field' : undefined;
    case 'embeddings':
      return obj.input === undefined || obj.input === null ? 'invalid embeddings request: must have input field' : undefined;
    case 'conversations':
      return !Array.isArray(obj.items) || obj.items.length === 0 ? 'invalid conversations request: must have items field' : undefined;
    default:
      return undefined;
  }
}

/** The text the prefix index hashes, per API (GIE hashing.go getUserInputBytes); the fields are validated. */
export function prefixText(kind: ApiKind, obj: Record<string, unknown>): string {
  switch (kind) {
    case 'completions':
      return promptText(obj.prompt) ?? '';
    case 'chat-completions':
      return JSON.stringify(obj.messages);
    case 'responses': {
      const combined: Record<string, unknown>[] = [];
      if (obj.instructions !== undefined && obj.instructions !== null) combined.push({ instructions: obj.instructions });
      if (obj.tools !== undefined && obj.tools !== null) combined.push({ tools: obj.tools });
      combined.push({ input: obj.input });
      return JSON.stringify(combined);
    }
    case 'embeddings':
      return JSON.stringify(obj.input);
    case 'conversations':
      return JSON.stringify(obj.items);
    default:
      return '';
  }
}

/**
 * Completions `prompt`: a string, or an array of strings joined with a space (GIE
 * Prompt.PlainText). Token-id prompts (numbers, or arrays of number arrays), which vLLM accepts
 * and GIE rejects, are joined the same way. Undefined when empty or of another type.
 */
function promptText(prompt: unknown): string | undefined {
  if (typeof prompt === 'string') return prompt === '' ? undefined : prompt;
  if (!Array.isArray(prompt) || prompt.length === 0) return undefined;
  const parts = new Array<string>(prompt.length);
  for (let i = 0; i < prompt.length; i++) {
    const p = prompt[i];
    if (typeof p === 'string') parts[i] = p;
    else if (typeof p === 'number' && Number.isInteger(p)) parts[i] = String(p);
    else if (Array.isArray(p) && p.every((t) => typeof t === 'number' && Number.isInteger(t))) parts[i] = p.join(' ');
    else return undefined;
  }
  return parts.join(' ');
}

/** Iterative depth check of parsed JSON (visits containers only; no recursion to overflow). */
function nestedDeeperThan(root: object, max: number): boolean {
  const stack: object[] = [root];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const v = stack.pop()!;
    const d = depths.pop()!;
    if (d > max) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (x !== null && typeof x === 'object') {
          stack.push(x);
          depths.push(d + 1);
        }
      }
    } else {
      for (const k in v) {
        const x: unknown = (v as Record<string, unknown>)[k];
        if (x !== null && typeof x === 'object') {
          stack.push(x);
          depths.push(d + 1);
        }
      }
    }
  }
  return false;
}

function bad(message: string): ParseFailure {
  return { ok: false, status: 400, message };
}

/**
 * Prompt-size estimate in tokens from the body size, as GIE's SimpleTokenEstimator does for
 * input tokens (inflightload/token_estimator.go): max(1, ⌊bytes / 4⌋) — about 4 characters per
 * token, and no pass over the text.
 */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.max(1, Math.floor(bodyBytes / 4));
}

/**
 * The in-flight token load GIE charges an endpoint for one request (input estimate plus
 * round(1.5 × input) expected output tokens). This is what GIE's token-load-scorer and
 * concurrency-detector (tokens mode) sum per endpoint, so adding it to Candidate.inflight.tokens
 * reproduces their decisions.
 */
export function estimateInflightTokens(bodyBytes: number): number {
  const input = estimatePromptTokens(bodyBytes);
  return input + Math.round(input * 1.5);
}
