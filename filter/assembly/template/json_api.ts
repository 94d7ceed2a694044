/** JSON entry for renderChat (used by the standalone module). */
import { JsonParser, JsonValue, J_STR, J_ARR, J_OBJ, J_BOOL, J_NULL, jsonQuote } from "./json";
import { ChatMessage, ChatOptions, renderChat } from "./index";

function err(msg: string): string {
  return '{"error":' + jsonQuote(msg) + "}";
}

/** Serialises a JSON value compactly (for the approximate tool blocks). */
function dump(v: JsonValue): string {
  if (v.kind == J_STR) return jsonQuote(v.s);
  if (v.kind == J_BOOL) return v.b ? "true" : "false";
  if (v.kind == J_NULL) return "null";
  if (v.kind == J_ARR) {
    let s = "[";
    for (let i = 0; i < v.items.length; i++) s += (i ? ", " : "") + dump(v.items[i]);
    return s + "]";
  }
  if (v.kind == J_OBJ) {
    let s = "{";
    for (let i = 0; i < v.items.length; i++) s += (i ? ", " : "") + jsonQuote(v.keys[i]) + ": " + dump(v.items[i]);
    return s + "}";
  }
  let n = v.n;
  if (n == Math.floor(n) && Math.abs(n) < 1e15) return (<i64>n).toString();
  return n.toString();
}

/**
 * request: {"messages":[...], "add_generation_prompt"?: bool (default true), "continue_final_message"?: bool,
 * "chat_template_kwargs"?: {"enable_thinking"?: bool, "date_string"?: string}, "tools"?: [...]}
 * → {"text": string, "exact": bool} | {"error": string}
 */
export function renderChatJson(family: string, request: string): string {
  let p = new JsonParser(request);
  let root = p.parse();
  if (root === null) return err("invalid JSON: " + p.error);
  if (root.kind != J_OBJ) return err("request must be an object");
  let msgsV = root.get("messages");
  if (msgsV === null || msgsV.kind != J_ARR) return err("messages must be an array");
  let exact = true;
  let msgs = new Array<ChatMessage>();
  for (let i = 0; i < msgsV.items.length; i++) {
    let mv = msgsV.items[i];
    if (mv.kind != J_OBJ) return err("messages[" + i.toString() + "] must be an object");
    let role = mv.get("role");
    if (role === null || role.kind != J_STR) return err("messages[" + i.toString() + "].role must be a string");
    let c = mv.get("content");
    let m = new ChatMessage(role.s, "");
    if (c === null || c.kind == J_NULL) {
      m.contentIsNull = true;
    } else if (c.kind == J_STR) {
      m.content = c.s;
    } else if (c.kind == J_ARR) {
      // vLLM "string" content format: text parts joined with "\n"; other parts are not representable here
      let s = "";
      let first = true;
      for (let k = 0; k < c.items.length; k++) {
        let part = c.items[k];
        if (part.kind == J_STR) {
          s += (first ? "" : "\n") + part.s;
          first = false;
          continue;
        }
        let t = part.get("text");
        let ty = part.get("type");
        if (t !== null && t.kind == J_STR && (ty === null || (ty.kind == J_STR && (ty.s == "text" || ty.s == "input_text")))) {
          s += (first ? "" : "\n") + t.s;
          first = false;
        } else exact = false;
      }
      m.content = s;
    } else return err("messages[" + i.toString() + "].content must be a string, an array or null");
    let rc = mv.get("reasoning_content");
    if (rc !== null && rc.kind == J_STR) {
      m.hasReasoning = true;
      m.reasoningContent = rc.s;
    }
    let tc = mv.get("tool_calls");
    if (tc !== null && tc.kind == J_ARR && tc.items.length > 0) m.hasToolCalls = true;
    msgs.push(m);
  }
  let o = new ChatOptions();
  let agp = root.get("add_generation_prompt");
  o.addGenerationPrompt = agp === null || agp.kind != J_BOOL ? true : agp.b;
  let cfm = root.get("continue_final_message");
  o.continueFinalMessage = cfm !== null && cfm.kind == J_BOOL && cfm.b;
  if (o.continueFinalMessage && o.addGenerationPrompt && agp !== null) {
    return err("continue_final_message and add_generation_prompt cannot both be true");
  }
  if (o.continueFinalMessage) o.addGenerationPrompt = false;
  let kw = root.get("chat_template_kwargs");
  if (kw !== null && kw.kind == J_OBJ) {
    let et = kw.get("enable_thinking");
    if (et !== null && et.kind == J_BOOL) o.enableThinking = et.b ? 1 : 0;
    let ds = kw.get("date_string");
    if (ds !== null && ds.kind == J_STR) o.dateString = ds.s;
  }
  let tools = root.get("tools");
  if (tools !== null && tools.kind == J_ARR && tools.items.length > 0) {
    o.hasTools = true;
    for (let i = 0; i < tools.items.length; i++) o.tools.push(dump(tools.items[i]));
  }
  let r = renderChat(family, msgs, o);
  return '{"text":' + jsonQuote(r.text) + ',"exact":' + (r.exact && exact ? "true" : "false") + "}";
}
