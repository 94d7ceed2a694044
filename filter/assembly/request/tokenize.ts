// The one place the filter meets the tokenization core (tokenizer/, template/, blocks.ts): a
// configured model is bound to its tokenizer and chat-template family once, at configure time, and
// each request's prompt becomes token ids and then chained block keys.
import { TokenBuffer, Tokenizer } from '../tokenizer/index';
import { ChatMessage, ChatOptions, renderChat, templateFamily } from '../template/index';
import { blockKeys, blockSeed } from '../blocks';
import { Endpoint, PromptRequest } from './openai';

export class ModelBinding {
  tokenizer: Tokenizer | null = null;
  family: string = '';
  /** "<field>: <problem>" when the binding failed. */
  error: string = '';
}

/**
 * Resolves a model's tokenizer (building its tables now, so the first request does not pay for it)
 * and checks the template family.
 */
export function bindModel(tokenizerName: string, template: string): ModelBinding {
  const b = new ModelBinding();
  const tok = Tokenizer.forModel(tokenizerName);
  if (tok === null) {
    b.error = `tokenizer: "${tokenizerName}" is not a tokenizer embedded in this module (qwen3, qwen2_5, llama3_1, deepseek_v3)`;
    return b;
  }
  // The template family defaults to the tokenizer's own (llama3_1 → llama3).
  const family = templateFamily(template.length > 0 ? template : tok.name);
  if (family.length == 0) {
    b.error = `template: "${template}" is not a known template family (qwen3, qwen2_5, llama3, deepseek_v3)`;
    return b;
  }
  b.tokenizer = tok;
  b.family = family;
  return b;
}

/**
 * Tokenizes the prompt the model server will see into `out` (cleared first). Returns whether the
 * ids are exactly the server's.
 */
export function tokenizePrompt(req: PromptRequest, binding: ModelBinding, out: TokenBuffer): bool {
  out.clear();
  const tok = binding.tokenizer;
  if (tok === null) return false;
  if (req.endpoint == Endpoint.Completions) {
    const ids = req.ids;
    if (ids !== null) {
      // Token-id prompts are used as given (no BOS added by vLLM).
      out.grow(ids.length);
      for (let i = 0; i < ids.length; i++) out.push(unchecked(ids[i]));
      return !req.approximate;
    }
    if (req.addSpecialTokens && tok.addsBos && tok.bosId >= 0) out.push(<u32>tok.bosId);
    const bytes = req.textBytes;
    if (bytes !== null) tok.encodeBytes(bytes.dataStart, bytes.length, out);
    else {
      const text = req.text;
      if (text !== null) tok.encode(text, out);
    }
    return !req.approximate;
  }
  const messages = new Array<ChatMessage>(req.messages.length);
  for (let i = 0; i < req.messages.length; i++) {
    const m = req.messages[i];
    const cm = new ChatMessage(m.role, m.content);
    cm.reasoningContent = m.reasoning;
    cm.hasReasoning = m.hasReasoning;
    cm.hasToolCalls = m.hasToolCalls;
    cm.contentIsNull = m.contentIsNull;
    messages[i] = cm;
  }
  const opts = new ChatOptions();
  opts.addGenerationPrompt = req.addGenerationPrompt;
  opts.continueFinalMessage = req.continueFinalMessage;
  opts.enableThinking = req.enableThinking;
  opts.hasTools = req.hasTools;
  opts.tools = req.tools;
  opts.dateString = req.dateString;
  const rendered = renderChat(binding.family, messages, opts);
  tok.encode(rendered.text, out);
  return rendered.exact && !req.approximate;
}

/** The request's chained block keys into `keys`; returns how many. */
export function computeBlockKeys(
  tokens: TokenBuffer,
  blockSize: i32,
  maxBlocks: i32,
  seedModel: string,
  lora: string,
  cacheSalt: string,
  keys: StaticArray<u64>,
): i32 {
  return blockKeys(tokens, blockSize, blockSeed(seedModel, lora, cacheSalt), maxBlocks, keys);
}
