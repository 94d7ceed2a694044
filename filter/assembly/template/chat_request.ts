/**
 * The standalone module's renderChat entry: a chat request as JSON → the rendered text as JSON.
 * It reads with the filter's JSON reader (../json/reader.ts) but, like Python's json.loads, lets a
 * lone surrogate escape through as a code unit (JavaScript strings may hold one; JSON.stringify
 * writes it as \udXXX).
 */
import { JsonDoc, LoneSurrogates, parseJson } from "../json/reader";
import { dumpValue, jsonString } from "../json/writer";
import { ChatMessage, ChatOptions, renderChat } from "./index";

/** Deepest JSON nesting accepted, as the filter accepts in request bodies. */
const MAX_DEPTH: i32 = 64;

function err(msg: string): string {
  return '{"error":' + jsonString(msg) + "}";
}

/** A string value, or null when `v` is absent or not a string. */
function stringOrNull(doc: JsonDoc, v: i32): string | null {
  return doc.isString(v) ? doc.str(v) : null;
}

/**
 * Content as vLLM's "string" content format sees it: a string, or text parts joined with "\n" (bare strings count as
 * text parts); `exact[0]` is cleared when a part is not representable here.
 */
function joinedContent(doc: JsonDoc, c: i32, exact: StaticArray<bool>): string {
  if (doc.isString(c)) return doc.str(c);
  let s = "";
  let first = true;
  let part = doc.first(c);
  for (let k = 0; k < doc.length(c); k++, part = doc.next(part)) {
    if (doc.isString(part)) {
      s += (first ? "" : "\n") + doc.str(part);
      first = false;
      continue;
    }
    const t = doc.get(part, "text");
    const ty = doc.get(part, "type");
    if (doc.isString(t) && (ty < 0 || doc.stringEquals(ty, "text") || doc.stringEquals(ty, "input_text"))) {
      s += (first ? "" : "\n") + doc.str(t);
      first = false;
    } else exact[0] = false;
  }
  return s;
}

/**
 * request: {"messages":[...], "add_generation_prompt"?: bool (default true), "continue_final_message"?: bool,
 * "chat_template_kwargs"?: {"enable_thinking"?: bool, "date_string"?: string}, "tools"?: [...]}
 * → {"text": string, "exact": bool} | {"error": string}
 */
export function renderChatJson(family: string, request: string): string {
  const doc = parseJson(Uint8Array.wrap(String.UTF8.encode(request)), MAX_DEPTH, LoneSurrogates.Accept);
  if (!doc.ok) return err("invalid JSON: " + doc.errorMessage());
  const root = doc.root;
  if (!doc.isObject(root)) return err("request must be an object");
  const msgsV = doc.get(root, "messages");
  if (!doc.isArray(msgsV)) return err("messages must be an array");
  const exact = new StaticArray<bool>(1);
  exact[0] = true;
  const msgs = new Array<ChatMessage>();
  let mv = doc.first(msgsV);
  for (let i = 0; i < doc.length(msgsV); i++, mv = doc.next(mv)) {
    if (!doc.isObject(mv)) return err("messages[" + i.toString() + "] must be an object");
    const role = stringOrNull(doc, doc.get(mv, "role"));
    if (role === null) return err("messages[" + i.toString() + "].role must be a string");
    const c = doc.get(mv, "content");
    const m = new ChatMessage(role, "");
    if (c < 0 || doc.isNull(c)) m.contentIsNull = true;
    else if (doc.isString(c) || doc.isArray(c)) m.content = joinedContent(doc, c, exact);
    else return err("messages[" + i.toString() + "].content must be a string, an array or null");
    const rc = stringOrNull(doc, doc.get(mv, "reasoning_content"));
    if (rc !== null) {
      m.hasReasoning = true;
      m.reasoningContent = rc;
    }
    const tc = doc.get(mv, "tool_calls");
    if (doc.isArray(tc) && doc.length(tc) > 0) m.hasToolCalls = true;
    msgs.push(m);
  }
  const o = new ChatOptions();
  const agp = doc.get(root, "add_generation_prompt");
  o.addGenerationPrompt = doc.boolOr(agp, true);
  const cfm = doc.get(root, "continue_final_message");
  o.continueFinalMessage = doc.boolOr(cfm, false);
  if (o.continueFinalMessage && o.addGenerationPrompt && agp >= 0) {
    return err("continue_final_message and add_generation_prompt cannot both be true");
  }
  if (o.continueFinalMessage) o.addGenerationPrompt = false;
  const kw = doc.get(root, "chat_template_kwargs");
  if (doc.isObject(kw)) {
    const et = doc.get(kw, "enable_thinking");
    if (doc.isBool(et)) o.enableThinking = doc.boolOr(et, false) ? 1 : 0;
    const ds = stringOrNull(doc, doc.get(kw, "date_string"));
    if (ds !== null) o.dateString = ds;
  }
  const tools = doc.get(root, "tools");
  if (doc.isArray(tools) && doc.length(tools) > 0) {
    o.hasTools = true;
    let t = doc.first(tools);
    for (let i = 0; i < doc.length(tools); i++, t = doc.next(t)) o.tools.push(dumpValue(doc, t));
  }
  const r = renderChat(family, msgs, o);
  return '{"text":' + jsonString(r.text) + ',"exact":' + (r.exact && exact[0] ? "true" : "false") + "}";
}
