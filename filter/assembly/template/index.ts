/**
 * Chat-template rendering as vLLM renders it (transformers `apply_chat_template(tokenize=False)` with the model's
 * real Jinja template), written as template *descriptions* per family instead of a Jinja engine.
 * Families: 'qwen3' | 'qwen2_5' | 'llama3' (Llama 3.1 / 3.3 Instruct) | 'deepseek_v3'.
 * The result is `exact=false` when the request uses something a description does not reproduce byte-for-byte
 * (tools, unknown family/role): the text is still deterministic, so block keys stay stable, but may differ from vLLM's.
 */

export class ChatMessage {
  /** 'system' | 'user' | 'assistant' | 'tool' (others render approximately). */
  role: string;
  /** Message text. List-of-parts content must be joined with "\n" by the caller (vLLM's "string" content format). */
  content: string;
  /** Assistant reasoning (Qwen3 `reasoning_content`); "" when absent. */
  reasoningContent: string = "";
  constructor(role: string, content: string) {
    this.role = role;
    this.content = content;
  }
}

export class ChatOptions {
  /** vLLM request `add_generation_prompt` (the request default is true; set it explicitly). */
  addGenerationPrompt: bool = false;
  /** vLLM request `continue_final_message`: the last (assistant) message is left open, no end-of-turn marker. */
  continueFinalMessage: bool = false;
  /** chat_template_kwargs.enable_thinking: -1 unset, 0 false, 1 true (Qwen3 only). */
  enableThinking: i32 = -1;
  /** The request has `tools`; templates that embed tool schemas then render approximately. */
  hasTools: bool = false;
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

/** Renders `messages` with the family's template. Never throws; unknown families give an approximate ChatML rendering. */
export function renderChat(family: string, messages: ChatMessage[], opts: ChatOptions): Rendered {
  return new Rendered("", false);
}
