// The request as the scheduler sees it: what the parser extracted from the body plus the
// control headers, after objective lookup and model rewrite.
import type { Cancellation } from './cancellation.js';

export type ApiKind = 'completions' | 'chat-completions' | 'responses' | 'embeddings' | 'conversations' | 'unknown';

export interface ParsedBody {
  readonly kind: ApiKind;
  /** The `model` field as the client sent it. */
  readonly model: string;
  /**
   * Text the approximate prefix hasher works on: the prompt for completions, the JSON of
   * `messages` for chat, instructions+tools+input for responses, `input` for embeddings.
   */
  readonly prefixText: string;
  /** prefixText's length in UTF-16 units, known without building the text where possible. */
  readonly prefixLength: number;
  /**
   * The first `maxChars` characters of prefixText (all of it when shorter). Prefix hashers read
   * only their first blocks: a body parsed off the event loop carries this head, not the text.
   */
  prefixHead(maxChars: number): string;
  readonly stream: boolean;
  /** What the prompt holds, counted by the parser (plugins read this, not `json`). */
  readonly content: ContentStats;
  /**
   * The body as parsed. A large body is parsed off the event loop and `json` is then rebuilt on
   * the event loop on first read: read the summary fields above instead wherever they suffice.
   */
  readonly json: Record<string, unknown>;
  /** The body to send upstream with its `model` replaced (the model-rewrite path). */
  withModel(model: string): Buffer;
  /** Optional `cache_salt` (vLLM) which seeds prefix hashes. */
  readonly cacheSalt?: string;
  /** The body's bytes as received (the EPP tokenizer reads them exactly as the edge filter does). */
  readonly raw?: Uint8Array;
}

export interface ContentStats {
  /**
   * Characters of the prompt's plain text: the string `content` of every message plus a string
   * `prompt` (llm-d's context-length estimate reads this × 0.25).
   */
  readonly textChars: number;
  /** Image, video and audio content blocks (`image_url`, `video_url`, `input_audio`) in messages. */
  readonly mediaBlocks: number;
}

export interface InferenceRequest {
  readonly requestId: string;
  /** Model name the client asked for. */
  readonly incomingModel: string;
  /** Model name after rewrites; also the LoRA adapter name the lora scorer looks for. */
  readonly targetModel: string;
  readonly body: ParsedBody;
  /** Request headers, lower-cased names, internal routing headers already stripped. */
  readonly headers: ReadonlyMap<string, string>;
  readonly objective: string | undefined;
  /** From the objective; 0 when none. Negative = sheddable. */
  readonly priority: number;
  readonly fairnessId: string;
  /** Fires when the proxy gives up on the request (absent where nothing can cancel it, e.g. tests). */
  readonly cancellation?: Cancellation;
  /** The scheduling profile the route selected, when it selected one. */
  readonly profile: string | undefined;
  /** Tokens this request charges its endpoint while in flight (input estimate + expected output, as GIE). */
  readonly inflightTokens: number;
  /** Size of the request body in bytes. */
  readonly bodyBytes: number;
}
