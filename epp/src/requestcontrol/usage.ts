// The token usage a model server reports at the end of its response, read without buffering the
// response: only the last USAGE_TAIL_BYTES of the body are kept, and at the end the last `"usage"`
// object in them is parsed. That covers a non-streaming JSON body (usage comes last in vLLM's and
// OpenAI's responses) and a stream of server-sent events, where usage rides on the final event
// before `data: [DONE]` (vLLM with `stream_options.include_usage`; vLLM also puts it there when
// `stream_options.continuous_usage_stats` is set). Fields are OpenAI's (`prompt_tokens`,
// `completion_tokens`, `prompt_tokens_details.cached_tokens`); GIE's misspelt
// `prompt_token_details` is read too (gateway-api-inference-extension v1.5.0
// `pkg/epp/framework/interface/requestcontrol/types.go`).

/** How much of a response's end is kept to find its usage (a usage object is ~200 bytes). */
export const USAGE_TAIL_BYTES = 8 * 1024;

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number | undefined;
}

/** Keeps the tail of a response body; `usage()` parses what it holds. */
export class UsageTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= USAGE_TAIL_BYTES) {
      this.chunks = [chunk.subarray(chunk.length - USAGE_TAIL_BYTES)];
      this.bytes = USAGE_TAIL_BYTES;
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    // Drop whole chunks from the front while the rest still covers the window.
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].length >= USAGE_TAIL_BYTES) this.bytes -= this.chunks.shift()!.length;
  }

  usage(): Usage | undefined {
    return parseUsage(Buffer.concat(this.chunks, this.bytes).toString('utf8'));
  }
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);

/** The last `"usage": {...}` object in `text`, if it has OpenAI's token counts. */
export function parseUsage(text: string): Usage | undefined {
  let at = text.lastIndexOf('"usage"');
  while (at >= 0) {
    const open = text.indexOf('{', at);
    const between = open < 0 ? '' : text.slice(at + 7, open);
    if (open >= 0 && /^\s*:\s*$/.test(between)) {
      const end = matchingBrace(text, open);
      if (end > 0) {
        try {
          const u = JSON.parse(text.slice(open, end + 1)) as Record<string, unknown>;
          const promptTokens = count(u.prompt_tokens);
          const completionTokens = count(u.completion_tokens);
          if (promptTokens !== undefined && completionTokens !== undefined) {
            const details = (u.prompt_tokens_details ?? u.prompt_token_details) as Record<string, unknown> | null | undefined;
            return { promptTokens, completionTokens, cachedTokens: details && typeof details === 'object' ? count(details.cached_tokens) : undefined };
          }
        } catch {
          /* not JSON after all: look further back */
        }
      }
    }
    at = at > 0 ? text.lastIndexOf('"usage"', at - 1) : -1;
  }
  return undefined;
}

/** Index of the brace closing the object that opens at `open` (strings and escapes respected), or -1. */
function matchingBrace(text: string, open: number): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i;
  }
  return -1;
}
