// The request as the scheduler sees it: what the parser extracted from the body plus the
// control headers, after objective lookup and model rewrite.

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
  readonly stream: boolean;
  /** The body as parsed; rewritten (model field) before being sent back to the proxy. */
  readonly json: Record<string, unknown>;
  /** Optional `cache_salt` (vLLM) which seeds prefix hashes. */
  readonly cacheSalt?: string;
  /** The body's bytes as received (the EPP tokenizer reads them exactly as the edge filter does). */
  readonly raw?: Uint8Array;
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
  /** The scheduling profile the route selected, when it selected one. */
  readonly profile: string | undefined;
  /** Tokens this request charges its endpoint while in flight (input estimate + expected output, as GIE). */
  readonly inflightTokens: number;
  /** Size of the request body in bytes. */
  readonly bodyBytes: number;
}
