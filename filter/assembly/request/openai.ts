// OpenAI request bodies → the prompt parts the model server will tokenize, read the way vLLM reads
// them (vLLM v0.10.1: vllm/entrypoints/openai/protocol.py CompletionRequest / ChatCompletionRequest
// / ResponsesRequest for fields and defaults, vllm/entrypoints/chat_utils.py for content parts,
// vllm/entrypoints/openai/serving_responses.py _construct_input_messages for /v1/responses):
//  - /v1/completions: `prompt` is a string, a list of strings, a list of token ids or a list of
//    token-id lists; `add_special_tokens` defaults to true (BOS for Llama 3 / DeepSeek).
//  - /v1/chat/completions: `messages` with string content or text parts joined by "\n";
//    `add_generation_prompt` (default true), `continue_final_message` (default false),
//    `chat_template_kwargs.enable_thinking`; `add_special_tokens` defaults to false.
//  - /v1/responses: `instructions` becomes a leading system message; `input` is a string (one user
//    message) or a list of message items.
// Anything the chat template would render but the template descriptions cannot see — images and
// other non-text parts, custom templates, documents, unknown template kwargs, batched prompts —
// makes the result approximate: the keys are still computed, and the EPP is told they may not match
// the server's tokens exactly. (Tools and tool calls are passed on; the template decides.)
import { JsonDoc, JsonError, JsonKind, parseJson } from '../json/reader';
import { ErrorKind } from './errors';

export const enum Endpoint {
  None = 0,
  Completions = 1,
  ChatCompletions = 2,
  Responses = 3,
}

/** Deepest JSON nesting accepted (OpenAI bodies, tool schemas included, stay far below it). */
export const MAX_JSON_DEPTH: i32 = 64;

/** The endpoint a request path addresses (query string ignored; any path prefix allowed). */
export function endpointOf(path: string): Endpoint {
  let end = path.indexOf('?');
  if (end < 0) end = path.length;
  let p = path.substring(0, end);
  while (p.length > 1 && p.endsWith('/')) p = p.substring(0, p.length - 1);
  if (p.endsWith('/v1/chat/completions')) return Endpoint.ChatCompletions;
  if (p.endsWith('/v1/completions')) return Endpoint.Completions;
  if (p.endsWith('/v1/responses')) return Endpoint.Responses;
  return Endpoint.None;
}

export class Message {
  /** Assistant reasoning (`reasoning_content`), when hasReasoning. */
  reasoning: string = '';
  hasReasoning: bool = false;
  /** The message carries `tool_calls` (rendered approximately by the templates). */
  hasToolCalls: bool = false;
  /** `content` was null or absent. */
  contentIsNull: bool = false;
  constructor(public role: string, public content: string) {}
}

export class PromptRequest {
  endpoint: Endpoint = Endpoint.None;
  model: string = '';
  cacheSalt: string = '';
  // completions
  text: string | null = null;
  /** The prompt's bytes inside the body when it has no escapes (tokenized without a copy). */
  textBytes: Uint8Array | null = null;
  ids: StaticArray<u32> | null = null;
  batch: i32 = 1;
  addSpecialTokens: bool = true;
  // chat completions and responses
  messages: Array<Message> = new Array<Message>();
  addGenerationPrompt: bool = true;
  continueFinalMessage: bool = false;
  /** chat_template_kwargs.enable_thinking: -1 unset, 0 false, 1 true. */
  enableThinking: i32 = -1;
  /** chat_template_kwargs.date_string ("" = the template's default). */
  dateString: string = '';
  hasTools: bool = false;
  /** Each tool definition's JSON text as received. */
  tools: Array<string> = new Array<string>();
  /** Set when part of the request cannot be represented exactly (see the file comment). */
  approximate: bool = false;
}

export class ReadResult {
  request: PromptRequest | null = null;
  error: ErrorKind = ErrorKind.None;
  detail: string = '';

  static fail(kind: ErrorKind, detail: string): ReadResult {
    const r = new ReadResult();
    r.error = kind;
    r.detail = detail;
    return r;
  }
}

/** Parses `body` and extracts the prompt for `endpoint`. Never throws. */
export function readRequest(endpoint: Endpoint, body: Uint8Array): ReadResult {
  const doc = parseJson(body, MAX_JSON_DEPTH);
  if (!doc.ok) {
    if (doc.error == JsonError.Utf8) return ReadResult.fail(ErrorKind.InvalidUtf8, doc.errorMessage());
    if (doc.error == JsonError.Empty) return ReadResult.fail(ErrorKind.BadJson, 'empty body');
    return ReadResult.fail(ErrorKind.BadJson, doc.errorMessage());
  }
  const root = doc.root;
  if (!doc.isObject(root)) return ReadResult.fail(ErrorKind.BadRequest, 'body is not a JSON object');

  const req = new PromptRequest();
  req.endpoint = endpoint;
  const model = doc.get(root, 'model');
  if (model < 0 || doc.isNull(model)) return ReadResult.fail(ErrorKind.BadRequest, 'missing "model"');
  if (!doc.isString(model)) return ReadResult.fail(ErrorKind.BadRequest, '"model" is not a string');
  req.model = doc.str(model);

  const salt = doc.get(root, 'cache_salt');
  if (salt >= 0 && !doc.isNull(salt)) {
    if (!doc.isString(salt)) return ReadResult.fail(ErrorKind.BadRequest, '"cache_salt" is not a string');
    req.cacheSalt = doc.str(salt);
  }

  let err: string | null = null;
  if (endpoint == Endpoint.Completions) err = readCompletions(doc, root, req);
  else if (endpoint == Endpoint.ChatCompletions) err = readChat(doc, root, req);
  else if (endpoint == Endpoint.Responses) err = readResponses(doc, root, req);
  else err = 'not an inference endpoint';
  if (err !== null) return ReadResult.fail(ErrorKind.BadRequest, err);
  const r = new ReadResult();
  r.request = req;
  return r;
}

/** Reads an optional boolean field into `out[0]`; returns an error message or null. */
function optionalBool(doc: JsonDoc, obj: i32, key: string, dflt: bool, out: StaticArray<bool>): string | null {
  const v = doc.get(obj, key);
  if (v < 0 || doc.isNull(v)) {
    out[0] = dflt;
    return null;
  }
  if (!doc.isBool(v)) return `"${key}" is not a boolean`;
  out[0] = doc.boolOr(v, dflt);
  return null;
}

function readCompletions(doc: JsonDoc, root: i32, req: PromptRequest): string | null {
  const flag = new StaticArray<bool>(1);
  const e = optionalBool(doc, root, 'add_special_tokens', true, flag);
  if (e !== null) return e;
  req.addSpecialTokens = flag[0];

  const prompt = doc.get(root, 'prompt');
  if (prompt < 0 || doc.isNull(prompt)) {
    if (doc.get(root, 'prompt_embeds') >= 0) return 'prompt_embeds requests carry no text to tokenize';
    return 'missing "prompt"';
  }
  if (doc.isString(prompt)) {
    setText(doc, prompt, req);
    return null;
  }
  if (!doc.isArray(prompt)) return '"prompt" is not a string or a list';
  const n = doc.length(prompt);
  if (n == 0) return '"prompt" is an empty list';
  const first = doc.first(prompt);
  const k = doc.kind(first);
  if (k == JsonKind.String) {
    // list of strings: all must be strings
    for (let v = first, i = 0; i < n; i++, v = doc.next(v)) if (!doc.isString(v)) return '"prompt" mixes strings and other values';
    setBatch(req, n);
    setText(doc, first, req);
    return null;
  }
  if (k == JsonKind.Number) {
    const ids = readIds(doc, prompt);
    if (ids === null) return '"prompt" token ids must be integers in [0, 4294967295]';
    req.ids = ids;
    return null;
  }
  if (k == JsonKind.Array) {
    for (let v = first, i = 0; i < n; i++, v = doc.next(v)) if (!doc.isArray(v)) return '"prompt" mixes token-id lists and other values';
    setBatch(req, n);
    const ids = readIds(doc, first);
    if (ids === null || ids.length == 0) return '"prompt" token-id lists must hold integers in [0, 4294967295]';
    req.ids = ids;
    return null;
  }
  return '"prompt" is not a string, a list of strings or token ids';
}

/** Several prompts in one request: vLLM serves each separately; the keys describe the first. */
function setBatch(req: PromptRequest, n: i32): void {
  req.batch = n;
  if (n > 1) req.approximate = true;
}

function setText(doc: JsonDoc, v: i32, req: PromptRequest): void {
  const raw = doc.unescapedBytes(v);
  if (raw !== null) req.textBytes = raw;
  else req.text = doc.str(v);
}

function readIds(doc: JsonDoc, arr: i32): StaticArray<u32> | null {
  const n = doc.length(arr);
  const out = new StaticArray<u32>(n);
  let v = doc.first(arr);
  for (let i = 0; i < n; i++) {
    const x = doc.intInRange(v, 0, 0xffffffff, -1);
    if (x < 0) return null;
    unchecked((out[i] = <u32>x));
    v = doc.next(v);
  }
  return out;
}

/** Content as vLLM's "string" content format sees it: a string, or text parts joined by "\n". */
function readContent(doc: JsonDoc, content: i32, req: PromptRequest, where: string, out: Array<string>): string | null {
  if (content < 0 || doc.isNull(content)) {
    out.push('');
    return null;
  }
  if (doc.isString(content)) {
    out.push(doc.str(content));
    return null;
  }
  if (!doc.isArray(content)) return `${where}.content is not a string or a list of parts`;
  const n = doc.length(content);
  const parts = new Array<string>();
  let p = doc.first(content);
  for (let i = 0; i < n; i++, p = doc.next(p)) {
    if (!doc.isObject(p)) return `${where}.content[${i}] is not an object`;
    const type = doc.get(p, 'type');
    if (!doc.isString(type)) return `${where}.content[${i}].type is not a string`;
    if (doc.stringEquals(type, 'text') || doc.stringEquals(type, 'input_text') || doc.stringEquals(type, 'output_text')) {
      const text = doc.get(p, 'text');
      if (!doc.isString(text)) return `${where}.content[${i}].text is not a string`;
      parts.push(doc.str(text));
    } else {
      // images, audio, files, refusals...: tokens we cannot know
      req.approximate = true;
    }
  }
  out.push(parts.join('\n'));
  return null;
}

function readChatKwargs(doc: JsonDoc, root: i32, req: PromptRequest): string | null {
  const kw = doc.get(root, 'chat_template_kwargs');
  if (kw < 0 || doc.isNull(kw)) return null;
  if (!doc.isObject(kw)) return '"chat_template_kwargs" is not an object';
  const n = doc.length(kw);
  let k = doc.first(kw);
  for (let i = 0; i < n; i++) {
    const v = doc.next(k);
    if (doc.stringEquals(k, 'enable_thinking')) {
      if (doc.isBool(v)) req.enableThinking = doc.boolOr(v, true) ? 1 : 0;
      else if (!doc.isNull(v)) req.approximate = true;
    } else if (doc.stringEquals(k, 'date_string') && doc.isString(v)) {
      req.dateString = doc.str(v);
    } else {
      req.approximate = true; // a kwarg the template may use but we do not model
    }
    k = doc.next(v);
  }
  return null;
}

function hasEntries(doc: JsonDoc, v: i32): bool {
  return v >= 0 && (doc.isArray(v) || doc.isObject(v)) && doc.length(v) > 0;
}

function readChat(doc: JsonDoc, root: i32, req: PromptRequest): string | null {
  const flag = new StaticArray<bool>(1);
  let e = optionalBool(doc, root, 'add_generation_prompt', true, flag);
  if (e !== null) return e;
  req.addGenerationPrompt = flag[0];
  e = optionalBool(doc, root, 'continue_final_message', false, flag);
  if (e !== null) return e;
  req.continueFinalMessage = flag[0];
  e = optionalBool(doc, root, 'add_special_tokens', false, flag);
  if (e !== null) return e;
  req.addSpecialTokens = flag[0];
  if (req.addSpecialTokens) req.approximate = true; // a second BOS in front of the template's
  e = readChatKwargs(doc, root, req);
  if (e !== null) return e;
  const tools = doc.get(root, 'tools');
  if (hasEntries(doc, tools)) readTools(doc, tools, req);
  const custom = doc.get(root, 'chat_template');
  if (custom >= 0 && !doc.isNull(custom)) req.approximate = true;
  if (hasEntries(doc, doc.get(root, 'documents'))) req.approximate = true;

  const messages = doc.get(root, 'messages');
  if (messages < 0) return 'missing "messages"';
  if (!doc.isArray(messages)) return '"messages" is not a list';
  const n = doc.length(messages);
  if (n == 0) return '"messages" is empty';
  let m = doc.first(messages);
  for (let i = 0; i < n; i++, m = doc.next(m)) {
    const err = readMessage(doc, m, req, `messages[${i}]`);
    if (err !== null) return err;
  }
  return null;
}

/** Tool definitions go to the template as their JSON text; it decides how exact it can be. */
function readTools(doc: JsonDoc, tools: i32, req: PromptRequest): void {
  req.hasTools = true;
  if (!doc.isArray(tools)) {
    req.approximate = true;
    return;
  }
  const n = doc.length(tools);
  let t = doc.first(tools);
  for (let i = 0; i < n; i++, t = doc.next(t)) req.tools.push(doc.raw(t));
}

function readMessage(doc: JsonDoc, m: i32, req: PromptRequest, where: string): string | null {
  if (!doc.isObject(m)) return `${where} is not an object`;
  const role = doc.get(m, 'role');
  if (!doc.isString(role)) return `${where}.role is missing or not a string`;
  const content = new Array<string>();
  const c = doc.get(m, 'content');
  const err = readContent(doc, c, req, where, content);
  if (err !== null) return err;
  const msg = new Message(doc.str(role), content[0]);
  msg.contentIsNull = c < 0 || doc.isNull(c);
  msg.hasToolCalls = hasEntries(doc, doc.get(m, 'tool_calls'));
  const reasoning = doc.get(m, 'reasoning_content');
  if (reasoning >= 0 && !doc.isNull(reasoning)) {
    if (!doc.isString(reasoning)) return `${where}.reasoning_content is not a string`;
    msg.reasoning = doc.str(reasoning);
    msg.hasReasoning = true;
  }
  req.messages.push(msg);
  return null;
}

function readResponses(doc: JsonDoc, root: i32, req: PromptRequest): string | null {
  req.addSpecialTokens = false;
  const instructions = doc.get(root, 'instructions');
  if (instructions >= 0 && !doc.isNull(instructions)) {
    if (!doc.isString(instructions)) return '"instructions" is not a string';
    req.messages.push(new Message('system', doc.str(instructions)));
  }
  const prev = doc.get(root, 'previous_response_id');
  if (prev >= 0 && !doc.isNull(prev)) req.approximate = true; // the stored conversation precedes
  const tools = doc.get(root, 'tools');
  if (hasEntries(doc, tools)) readTools(doc, tools, req);
  const e = readChatKwargs(doc, root, req);
  if (e !== null) return e;

  const input = doc.get(root, 'input');
  if (input < 0 || doc.isNull(input)) return 'missing "input"';
  if (doc.isString(input)) {
    req.messages.push(new Message('user', doc.str(input)));
    return null;
  }
  if (!doc.isArray(input)) return '"input" is not a string or a list';
  const n = doc.length(input);
  let it = doc.first(input);
  for (let i = 0; i < n; i++, it = doc.next(it)) {
    const where = `input[${i}]`;
    if (!doc.isObject(it)) return `${where} is not an object`;
    const type = doc.get(it, 'type');
    if (type >= 0 && !doc.isNull(type)) {
      if (!doc.isString(type)) return `${where}.type is not a string`;
      if (!doc.stringEquals(type, 'message')) {
        req.approximate = true; // function calls, their outputs, reasoning items...
        continue;
      }
    }
    const err = readMessage(doc, it, req, where);
    if (err !== null) return err;
  }
  if (req.messages.length == 0) return '"input" holds no messages';
  return null;
}
