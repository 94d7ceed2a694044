/**
 * Chat-template rendering as vLLM renders it (transformers `apply_chat_template(tokenize=False)` with the model's
 * real Jinja template), written as template *descriptions* per family instead of a Jinja engine.
 * Families: 'qwen3' | 'qwen2_5' | 'llama3' (Llama 3.1 / 3.3 Instruct) | 'deepseek_v3'.
 * The result is `exact=false` when the request uses something a description does not reproduce byte-for-byte
 * (tools, assistant tool_calls, non-text content parts, unknown family): the text is still deterministic, so block
 * keys stay stable, but may differ from vLLM's.
 *
 * Template facts mirrored here (docs/tokenizer.md "Chat templates"):
 * - Qwen3: no default system; `<think>` handling of assistant turns after the last real user query
 *   (reasoning_content, or the text before `</think>` in content); `enable_thinking=false` appends
 *   `<think>\n\n</think>\n\n` to the generation prompt; tool messages grouped into one user turn.
 * - Qwen2.5: default system "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.".
 * - Llama 3.1/3.3: `<|begin_of_text|>`, an always-present system block with "Cutting Knowledge Date: December 2023\n
 *   Today Date: 26 Jul 2024\n\n" (date_string overridable), contents `|trim`-ed, tool results as `ipython` (tojson).
 * - DeepSeek-V3: BOS + system prompts joined by "\n\n" + `<｜User｜>`/`<｜Assistant｜>` markers.
 * - continue_final_message: render without generation prompt and cut after the final message's content
 *   (transformers' rule, incl. its handling of trimmed trailing whitespace).
 */
import { jsonString } from "../json/writer";

export class ChatMessage {
  /** 'system' | 'user' | 'assistant' | 'tool' (Llama also 'ipython'); other roles follow each template's behaviour. */
  role: string;
  /** Message text. List-of-parts content must be joined with "\n" by the caller (vLLM's "string" content format). */
  content: string;
  /** Assistant reasoning (Qwen3 `reasoning_content`); used when hasReasoning. */
  reasoningContent: string = "";
  /** The message carries `reasoning_content` (not null). */
  hasReasoning: bool = false;
  /** The message carries `tool_calls` (assistant): rendered approximately. */
  hasToolCalls: bool = false;
  /** content was null (DeepSeek distinguishes null from ""). */
  contentIsNull: bool = false;
  constructor(role: string, content: string) {
    this.role = role;
    this.content = content;
  }
}

export class ChatOptions {
  /** vLLM request `add_generation_prompt` (the request default is true; set it explicitly). */
  addGenerationPrompt: bool = false;
  /** vLLM request `continue_final_message`: the last message is left open, no end-of-turn marker. */
  continueFinalMessage: bool = false;
  /** chat_template_kwargs.enable_thinking: -1 unset, 0 false, 1 true (Qwen3 only). */
  enableThinking: i32 = -1;
  /** The request has `tools`; templates that embed tool schemas then render approximately. */
  hasTools: bool = false;
  /** JSON of each tool (as received), used for the approximate tool blocks. */
  tools: string[] = [];
  /** chat_template_kwargs.date_string for Llama 3.1/3.3 ("" = the template default "26 Jul 2024"). */
  dateString: string = "";
}

export class Rendered {
  text: string;
  exact: bool;
  constructor(text: string, exact: bool) {
    this.text = text;
    this.exact = exact;
  }
}

/** Canonical template family for a name or alias ("" when unknown). */
export function templateFamily(name: string): string {
  let n = name.toLowerCase();
  if (n == "qwen3") return "qwen3";
  if (n == "qwen2_5" || n == "qwen2.5" || n == "qwen2-5") return "qwen2_5";
  if (n == "llama3" || n == "llama3_1" || n == "llama3.1" || n == "llama3_3" || n == "llama3.3" || n == "llama-3.1" || n == "llama-3.3") return "llama3";
  if (n == "deepseek_v3" || n == "deepseek-v3" || n == "deepseekv3") return "deepseek_v3";
  return "";
}

/** Renders `messages` with the family's template. Never throws; unknown families give an approximate ChatML rendering. */
export function renderChat(family: string, messages: ChatMessage[], opts: ChatOptions): Rendered {
  let fam = templateFamily(family);
  let cont = opts.continueFinalMessage && messages.length > 0;
  let agp = opts.addGenerationPrompt && !cont;
  let r: Rendered;
  if (fam == "qwen3") r = renderQwen3(messages, opts, agp);
  else if (fam == "qwen2_5") r = renderQwen25(messages, opts, agp);
  else if (fam == "llama3") r = renderLlama3(messages, opts, agp);
  else if (fam == "deepseek_v3") r = renderDeepSeek(messages, opts, agp);
  else {
    r = renderChatML(messages, agp);
    r.exact = false;
  }
  if (cont) {
    let last = messages[messages.length - 1];
    let cut = continueFinal(r.text, last.content);
    if (cut < 0) r.exact = false; // transformers raises here (vLLM: 400); keep the full text
    else r.text = r.text.substring(0, cut);
  }
  return r;
}

// ---- string helpers (Python semantics) ------------------------------------------------------------------------------

/** Python str.isspace() for one UTF-16 code unit (all such chars are BMP). */
export function pyIsSpace(c: i32): bool {
  if (c >= 0x09 && c <= 0x0d) return true;
  if (c >= 0x1c && c <= 0x20) return true;
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/** Jinja `|trim` (Python str.strip()). */
export function pyStrip(s: string): string {
  let a = 0, b = s.length;
  while (a < b && pyIsSpace(s.charCodeAt(a))) a++;
  while (b > a && pyIsSpace(s.charCodeAt(b - 1))) b--;
  return a == 0 && b == s.length ? s : s.substring(a, b);
}
function pyLstrip(s: string): string {
  let a = 0;
  while (a < s.length && pyIsSpace(s.charCodeAt(a))) a++;
  return s.substring(a);
}
function lstripNl(s: string): string {
  let a = 0;
  while (a < s.length && s.charCodeAt(a) == 0x0a) a++;
  return s.substring(a);
}
function rstripNl(s: string): string {
  let b = s.length;
  while (b > 0 && s.charCodeAt(b - 1) == 0x0a) b--;
  return s.substring(0, b);
}
function stripNl(s: string): string {
  return rstripNl(lstripNl(s));
}

/**
 * transformers' continue_final_message cut: the end offset of the final message in `rendered`, or -1 when its
 * stripped content does not occur (transformers raises).
 */
function continueFinal(rendered: string, finalMessage: string): i32 {
  let stripped = pyStrip(finalMessage);
  let loc = rendered.lastIndexOf(stripped);
  if (loc < 0) return -1;
  let ls = pyLstrip(finalMessage);
  if (loc + ls.length <= rendered.length && rendered.substring(loc, loc + ls.length) == finalMessage) return loc + ls.length;
  return loc + stripped.length;
}

function toolsBlockApprox(tools: string[]): string {
  let s = "";
  for (let i = 0; i < tools.length; i++) s += "\n" + tools[i];
  return s;
}

// ---- Qwen3 ------------------------------------------------------------------------------------------------------

function renderQwen3(msgs: ChatMessage[], o: ChatOptions, agp: bool): Rendered {
  let exact = true;
  let out = "";
  let n = msgs.length;
  let firstIsSystem = n > 0 && msgs[0].role == "system";
  if (o.hasTools) {
    exact = false;
    out += "<|im_start|>system\n";
    if (firstIsSystem) out += msgs[0].content + "\n\n";
    out += "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
    out += toolsBlockApprox(o.tools);
    out += '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n';
  } else if (firstIsSystem) {
    out += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  }
  // last_query_index: the last user message that is not a wrapped tool response (default: the last index)
  let multiStep = true;
  let lastQuery = n - 1;
  for (let idx = n - 1; idx >= 0; idx--) {
    let m = msgs[idx];
    if (multiStep && m.role == "user" && !(m.content.startsWith("<tool_response>") && m.content.endsWith("</tool_response>"))) {
      multiStep = false;
      lastQuery = idx;
    }
  }
  for (let i = 0; i < n; i++) {
    let m = msgs[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      let content = m.content;
      let reasoning = "";
      if (m.hasReasoning) {
        reasoning = m.reasoningContent;
      } else if (content.includes("</think>")) {
        let parts = content.split("</think>");
        let before = parts[0];
        content = lstripNl(parts[parts.length - 1]);
        let r0 = rstripNl(before);
        let rp = r0.split("<think>");
        reasoning = lstripNl(rp[rp.length - 1]);
      }
      if (i > lastQuery) {
        if (i == n - 1 || reasoning.length > 0) {
          out += "<|im_start|>" + m.role + "\n<think>\n" + stripNl(reasoning) + "\n</think>\n\n" + lstripNl(content);
        } else {
          out += "<|im_start|>" + m.role + "\n" + content;
        }
      } else {
        out += "<|im_start|>" + m.role + "\n" + content;
      }
      if (m.hasToolCalls) exact = false; // tool_call blocks are not reproduced
      out += "<|im_end|>\n";
    } else if (m.role == "tool") {
      if (i == 0 || msgs[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i == n - 1 || msgs[i + 1].role != "tool") out += "<|im_end|>\n";
    }
    // other roles: the template renders nothing
  }
  if (agp) {
    out += "<|im_start|>assistant\n";
    if (o.enableThinking == 0) out += "<think>\n\n</think>\n\n";
  }
  return new Rendered(out, exact);
}

// ---- Qwen2.5 ----------------------------------------------------------------------------------------------------

const QWEN25_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

function renderQwen25(msgs: ChatMessage[], o: ChatOptions, agp: bool): Rendered {
  let exact = true;
  let out = "";
  let n = msgs.length;
  let firstIsSystem = n > 0 && msgs[0].role == "system";
  if (o.hasTools) {
    exact = false;
    out += "<|im_start|>system\n" + (firstIsSystem ? msgs[0].content : QWEN25_DEFAULT_SYSTEM);
    out += "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
    out += toolsBlockApprox(o.tools);
    out += '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n';
  } else {
    out += "<|im_start|>system\n" + (firstIsSystem ? msgs[0].content : QWEN25_DEFAULT_SYSTEM) + "<|im_end|>\n";
  }
  for (let i = 0; i < n; i++) {
    let m = msgs[i];
    if (m.role == "user" || (m.role == "system" && i != 0) || (m.role == "assistant" && !m.hasToolCalls)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      exact = false;
      out += "<|im_start|>" + m.role;
      if (m.content.length > 0) out += "\n" + m.content;
      out += "<|im_end|>\n";
    } else if (m.role == "tool") {
      if (i == 0 || msgs[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i == n - 1 || msgs[i + 1].role != "tool") out += "<|im_end|>\n";
    }
  }
  if (agp) out += "<|im_start|>assistant\n";
  return new Rendered(out, exact);
}

// ---- Llama 3.1 / 3.3 Instruct -----------------------------------------------------------------------------------

function renderLlama3(msgs: ChatMessage[], o: ChatOptions, agp: bool): Rendered {
  let exact = !o.hasTools;
  let date = o.dateString.length > 0 ? o.dateString : "26 Jul 2024";
  let out = "<|begin_of_text|>";
  let start = 0;
  let system = "";
  if (msgs.length > 0 && msgs[0].role == "system") {
    system = pyStrip(msgs[0].content);
    start = 1;
  }
  out += "<|start_header_id|>system<|end_header_id|>\n\n";
  if (o.hasTools) out += "Environment: ipython\n";
  out += "Cutting Knowledge Date: December 2023\n";
  out += "Today Date: " + date + "\n\n";
  out += system;
  out += "<|eot_id|>";
  for (let i = start; i < msgs.length; i++) {
    let m = msgs[i];
    if (m.hasToolCalls) {
      exact = false;
      out += "<|start_header_id|>assistant<|end_header_id|>\n\n" + pyStrip(m.content) + "<|eot_id|>";
    } else if (m.role == "tool" || m.role == "ipython") {
      // the template tojson's string content ("is iterable" holds for strings)
      out += "<|start_header_id|>ipython<|end_header_id|>\n\n" + jsonString(m.content) + "<|eot_id|>";
    } else {
      out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + pyStrip(m.content) + "<|eot_id|>";
    }
  }
  if (agp) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return new Rendered(out, exact);
}

// ---- DeepSeek-V3 ------------------------------------------------------------------------------------------------

function renderDeepSeek(msgs: ChatMessage[], o: ChatOptions, agp: bool): Rendered {
  let exact = true;
  let system = "";
  let firstSp = true;
  for (let i = 0; i < msgs.length; i++) {
    let m = msgs[i];
    if (m.role == "system") {
      if (firstSp) {
        system += m.content;
        firstSp = false;
      } else system += "\n\n" + m.content;
    }
  }
  let out = "<｜begin▁of▁sentence｜>" + system;
  let isTool = false;
  let outputFirst = true;
  for (let i = 0; i < msgs.length; i++) {
    let m = msgs[i];
    if (m.role == "user") {
      isTool = false;
      out += "<｜User｜>" + m.content;
    }
    if (m.role == "assistant" && m.contentIsNull) {
      isTool = false;
      exact = false; // tool_calls are not reproduced
    }
    if (m.role == "assistant" && !m.contentIsNull) {
      if (m.hasToolCalls) exact = false;
      if (isTool) {
        out += "<｜tool▁outputs▁end｜>" + m.content + "<｜end▁of▁sentence｜>";
        isTool = false;
      } else {
        out += "<｜Assistant｜>" + m.content + "<｜end▁of▁sentence｜>";
      }
    }
    if (m.role == "tool") {
      isTool = true;
      if (outputFirst) {
        out += "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>";
        outputFirst = false;
      } else {
        out += "\n<｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>";
      }
    }
  }
  if (isTool) out += "<｜tool▁outputs▁end｜>";
  if (agp && !isTool) out += "<｜Assistant｜>";
  return new Rendered(out, exact);
}

// ---- fallback ---------------------------------------------------------------------------------------------------

function renderChatML(msgs: ChatMessage[], agp: bool): Rendered {
  let out = "";
  for (let i = 0; i < msgs.length; i++) out += "<|im_start|>" + msgs[i].role + "\n" + msgs[i].content + "<|im_end|>\n";
  if (agp) out += "<|im_start|>assistant\n";
  return new Rendered(out, false);
}
