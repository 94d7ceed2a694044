// A request body → the token ids the model server will see → chained block keys, when the edge
// filter did not send verified keys. There is no TypeScript reading of the body here: the body goes
// to the shared tokenroute core wasm (TokenrouteCore.requestKeys), which runs the filter's own
// pipeline (filter/assembly/request/pipeline.ts → openai.ts, tokenize.ts, blocks.ts) with the
// filter configuration this served model would have. Token count, exact flag, keys and error kinds
// are therefore the filter's. Runs in the tokenizer worker (prefix/keys/tokenizer-pool.ts).
import type { RequestModelConfig, TokenrouteCore } from '../../../../filter/core/tokenroute-core.js';

/** How a served model name is tokenized and seeded (mirrors the filter's `models` entries). */
export interface ModelBinding {
  /** Embedded tokenizer (qwen3, qwen2_5, llama3_1, deepseek_v3). */
  readonly tokenizer: string;
  /** Chat-template family; default: the tokenizer's (llama3_1 → llama3). */
  readonly template?: string;
  /** Model name seeding the keys (default: the served name). */
  readonly seedModel?: string;
  /** LoRA adapter seeding the keys (default: none). */
  readonly lora?: string;
}

export type BodyKind = 'completions' | 'chat-completions' | 'responses' | 'embeddings' | 'conversations' | 'unknown';

export interface KeyJob {
  readonly kind: BodyKind;
  /** The parsed body; needed only when `body` is absent (it is then serialized). */
  readonly json?: Record<string, unknown>;
  /** The body's bytes as received, when kept (else `json` is serialized). */
  readonly body?: Uint8Array;
  /** The served model name (the body's `model`). */
  readonly model: string;
  readonly binding: ModelBinding;
  readonly blockSize: number;
  readonly maxBlocks: number;
  /** Return the token ids too (the render endpoint); maxBlocks 0 skips the keys. */
  readonly wantIds?: boolean;
  /**
   * More block sizes to key the same tokens with (one tokenization, several chains: prefix
   * plugins with different block sizes share one request). Needs `cacheSalt` as the body has it.
   */
  readonly alsoBlockSizes?: readonly { readonly blockSize: number; readonly maxBlocks: number }[];
  /** The body's cache_salt (seeds the extra chains exactly as the pipeline seeds the first). */
  readonly cacheSalt?: string;
  /**
   * Stop tokenizing once every block size's maxBlocks blocks are covered (the prefix plugins use
   * no more); the prompt's token count is then estimated. Ignored with `wantIds`.
   */
  readonly stopAfterBlocks?: boolean;
}

export type KeyResult =
  | {
      readonly ok: true;
      readonly tokens: number;
      readonly exact: boolean;
      /** `tokens` is an estimate (tokenizing stopped after the blocks the job needed). */
      readonly tokensEstimated?: boolean;
      readonly keys: BigUint64Array;
      readonly ids?: Uint32Array;
      /** Keys for `alsoBlockSizes`, same order. */
      readonly also?: readonly BigUint64Array[];
    }
  | {
      readonly ok: false;
      readonly reason: string;
      /** The filter's error kind (its x-tokenroute-error: bad_json, bad_request, ...) when the body was refused. */
      readonly error?: string;
    };

/** Template family of a tokenizer name when none is configured. */
export function defaultTemplate(tokenizer: string): string {
  if (tokenizer === 'llama3_1' || tokenizer === 'llama3') return 'llama3';
  return tokenizer;
}

/** The request path the filter would see for a body kind (the filter reads only these three). */
const PATHS: Partial<Record<BodyKind, string>> = {
  completions: '/v1/completions',
  'chat-completions': '/v1/chat/completions',
  responses: '/v1/responses',
};

/** Bodies up to the filter's largest maxBodyBytes are keyed (the EPP applies its own body limit first). */
const MAX_BODY_BYTES = 64 << 20;

/** The filter configuration for one served model, as the filter would be configured for it. */
export function filterConfigFor(model: string, binding: ModelBinding): string {
  const entry: RequestModelConfig = { tokenizer: binding.tokenizer, seedModel: binding.seedModel ?? model };
  if (binding.template !== undefined) entry.template = binding.template;
  if (binding.lora !== undefined) entry.lora = binding.lora;
  return JSON.stringify({ models: { [model]: entry }, maxBodyBytes: MAX_BODY_BYTES });
}

/** The tokens the job's blocks cover, for every block size it keys (the most any of them needs). */
function tokensCovering(job: KeyJob): number {
  let n = job.blockSize * job.maxBlocks;
  for (const a of job.alsoBlockSizes ?? []) n = Math.max(n, a.blockSize * a.maxBlocks);
  return n;
}

/**
 * Tokenizes and keys one request with the filter's own code (TokenrouteCore.requestKeys runs
 * filter/assembly/request/pipeline.ts): same prompt reading, tokens, exact flag, keys and error kinds.
 * Never throws.
 */
export function computeRequestKeys(core: TokenrouteCore, job: KeyJob): KeyResult {
  try {
    const path = PATHS[job.kind];
    if (!path) return { ok: false, reason: `no prompt to tokenize for ${job.kind} requests` };
    const body = job.body ?? Buffer.from(JSON.stringify(job.json ?? {}), 'utf8');
    const also = job.alsoBlockSizes ?? [];
    const r = core.requestKeys(path, body, filterConfigFor(job.model, job.binding), {
      blockSize: job.blockSize,
      maxBlocks: job.maxBlocks,
      wantIds: job.wantIds || also.length > 0,
      stopAfterTokens: job.stopAfterBlocks && !job.wantIds ? tokensCovering(job) : undefined,
    });
    if (!r.ok) return { ok: false, reason: `${r.error}: ${r.detail}`, error: r.error };
    // The pipeline seeds its chain with (seedModel, lora, cache_salt) (filter/assembly/request/
    // pipeline.ts → blocks.ts blockSeed); the other block sizes chain the same ids from the same seed.
    const seedModel = job.binding.seedModel ?? job.model;
    const extra = also.map((a) =>
      core.blockKeys(r.ids!, { model: seedModel, lora: job.binding.lora ?? '', cacheSalt: job.cacheSalt ?? '', blockSize: a.blockSize, maxBlocks: a.maxBlocks }),
    );
    return { ok: true, tokens: r.tokens, exact: r.exact, tokensEstimated: r.tokensEstimated, keys: r.keys, ids: job.wantIds ? r.ids : undefined, also: also.length > 0 ? extra : undefined };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
