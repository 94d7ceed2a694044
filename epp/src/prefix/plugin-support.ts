// What the prefix plugins share: the parameter schemas for where block keys come from (`models`,
// `filterHeaders`, tokenizer workers, timeouts — tokenroute extensions next to GIE's / llm-d's
// parameters, owned by token-producer and still accepted on the scorers of older configs), the
// prefix-match information a prefix plugin publishes in the request state for
// `prefix-cache-affinity-filter`, and a lazily loaded wasm hasher for the character fallback.
import { z } from 'zod';
import { duration } from '../framework/params.js';
import type { Candidate } from '../framework/endpoint.js';
import type { CycleState } from '../framework/plugins.js';
import { stateKey } from '../framework/cycle-state.js';
import { defaultTemplate, type ModelBinding } from './keys/request-keys.js';
import { acquireTokenizerPool, releaseTokenizerPool, type TokenizerPool } from './keys/tokenizer-pool.js';
import { WasmHasher } from './keys/wasm-hash.js';
import { PrefixInputProducer } from './keys/prefix-inputs.js';
import type { FilterHeaderTrust } from './keys/filter-headers.js';

const TOKENIZERS = ['qwen3', 'qwen2_5', 'llama3_1', 'deepseek_v3'] as const;
const TEMPLATES = ['qwen3', 'qwen2_5', 'llama3', 'deepseek_v3'] as const;

const modelBindingSchema = z.union([
  z.enum(TOKENIZERS, { error: `expected a tokenizer name (${TOKENIZERS.join(', ')}) or {tokenizer, template?, seedModel?, lora?}` }),
  z.strictObject({
    tokenizer: z.enum(TOKENIZERS, { error: `expected one of ${TOKENIZERS.join(', ')}` }),
    template: z.enum(TEMPLATES, { error: `expected one of ${TEMPLATES.join(', ')}` }).optional(),
    seedModel: z.string().min(1).optional(),
    lora: z.string().optional(),
  }),
]);


/** How far to trust the edge filter's x-tokenroute-* headers (token-producer, openai-parser). */
export const filterHeaderTrustSchema = z.strictObject({
  hmacKeys: z.array(z.string()).default([]),
  hmacKeyEnv: z.string().optional(),
  trustUnsigned: z.boolean().default(false),
  maxAgeSeconds: z.number().int().nonnegative().default(300),
});

/** Parameters every prefix plugin accepts for producing block keys (tokenroute extensions). */
export const keySourceParameters = {
  /** Served model name → tokenizer (shorthand) or {tokenizer, template, seedModel, lora}: as the filter's `models`. */
  models: z.record(z.string().min(1), modelBindingSchema).default({}),
  filterHeaders: filterHeaderTrustSchema.prefault({}),
  tokenizerWorkers: z.number().int().positive().max(16).default(1),
  tokenizeTimeout: duration('100ms'),
  charFallback: z.boolean().default(true),
  /**
   * The prefix digest's grid (protocol/digest.ts): keys from every source are sampled onto it, so
   * an index holds comparable positions whichever source keyed a request. Must equal the edge
   * filter's `denseBlocks`; a filter digest on another grid is not used.
   */
  digestDenseBlocks: z.number().int().positive().max(65536).default(256),
};

/**
 * The same parameters on a prefix scorer, kept as written (no defaults), so the config loader can
 * tell a scorer that sets them (an older config: they build its implicit token-producer) from one
 * that leaves key production to a declared token-producer. Validated by checkKeySources.
 */
export const keySourceOverrides = Object.fromEntries(Object.keys(keySourceParameters).map((k) => [k, z.unknown().optional()])) as {
  [K in keyof typeof keySourceParameters]: z.ZodOptional<z.ZodUnknown>;
};

const keySourceSchema = z.strictObject(keySourceParameters);

/** Reports bad key-source values on a scorer under their own field names (a superRefine step). */
export function checkKeySources(p: Readonly<Record<string, unknown>>, ctx: z.RefinementCtx): void {
  const r = keySourceSchema.safeParse(setKeySources(p) ?? {});
  if (r.success) return;
  for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}

/** The key-source parameters a scorer set, as written (undefined when it set none). */
export function setKeySources(p: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(keySourceParameters)) if (p[k] !== undefined) (out ??= {})[k] = p[k];
  return out;
}

/**
 * The embedded tokenizer family of a served model name (llm-d's `modelName`), or undefined.
 * Families share one tokenizer across sizes: Qwen3-*, Qwen2.5-*, Llama-3.x (3.1–3.3 share the
 * 128k vocabulary), DeepSeek-V3/R1.
 */
export function tokenizerFamilyOf(modelName: string): (typeof TOKENIZERS)[number] | undefined {
  const n = modelName.toLowerCase().replace(/^.*\//, '');
  if (/^qwen3([-_.]|$)/.test(n)) return 'qwen3';
  if (/^qwen2[._-]?5([-_.]|$)/.test(n)) return 'qwen2_5';
  if (/^(meta-)?llama-?3([._-][123])?([-_.]|$)/.test(n)) return 'llama3_1';
  if (/^deepseek-(v3|r1)([-_.]|$)/.test(n)) return 'deepseek_v3';
  return undefined;
}

export interface KeySourceParams {
  readonly models: Record<string, z.output<typeof modelBindingSchema>>;
  readonly filterHeaders: FilterHeaderTrust;
  readonly tokenizerWorkers: number;
  readonly tokenizeTimeout: number;
  readonly charFallback: boolean;
  readonly digestDenseBlocks: number;
}

export function modelBindings(models: KeySourceParams['models']): Map<string, ModelBinding> {
  const out = new Map<string, ModelBinding>();
  for (const [name, v] of Object.entries(models)) {
    out.set(name, typeof v === 'string' ? { tokenizer: v, template: defaultTemplate(v) } : { ...v, template: v.template ?? defaultTemplate(v.tokenizer) });
  }
  return out;
}

let sharedHasher: WasmHasher | undefined;
/** One wasm hasher per thread for the character fallback (loaded on first use). */
export function sharedWasmHasher(): WasmHasher {
  sharedHasher ??= WasmHasher.load();
  return sharedHasher;
}

/** A producer for a plugin, with the tokenizer pool acquired lazily and released on close. */
export function keyProducer(params: KeySourceParams): { producer: PrefixInputProducer; start(): Promise<void>; close(): Promise<void> } {
  const bindings = modelBindings(params.models);
  let pool: TokenizerPool | undefined;
  const producer = new PrefixInputProducer({
    models: bindings,
    headers: params.filterHeaders,
    tokenizeTimeoutMs: params.tokenizeTimeout,
    charFallback: params.charFallback,
    digestDenseBlocks: params.digestDenseBlocks,
    pool: () => {
      if (bindings.size === 0) return undefined;
      pool ??= acquireTokenizerPool(params.tokenizerWorkers);
      return pool;
    },
    hasher: sharedWasmHasher,
  });
  return {
    producer,
    /** Starts and warms the tokenizer workers when models are configured. */
    async start() {
      if (bindings.size === 0) return;
      pool ??= acquireTokenizerPool(params.tokenizerWorkers);
      await pool.warmup([...bindings.values()]);
    },
    async close() {
      if (pool) await releaseTokenizerPool(pool);
      pool = undefined;
    },
  };
}

/** What a prefix plugin knows about one request, for filters such as prefix-cache-affinity-filter. */
export interface PrefixMatchInfo {
  readonly plugin: string;
  readonly blockSize: number;
  /** Request blocks considered. */
  readonly totalBlocks: number;
  readonly promptTokens: number;
  /** True when promptTokens was counted by a tokenizer (edge filter, EPP), false for an estimate. */
  readonly tokensExact: boolean;
  /** Matched (weighted) blocks per candidate, same index as `candidates`. */
  matched(candidates: readonly Candidate[]): Float64Array;
  /**
   * Blocks (of blockSize tokens) the plugin's index believes each candidate holds now, same index;
   * absent when the index does not track what the servers hold (precise: from KV events).
   */
  readonly heldBlocks?: (candidates: readonly Candidate[]) => Float64Array;
}

/** Every prefix plugin's match info for the request, by plugin name. */
export const PREFIX_MATCH = stateKey<Map<string, PrefixMatchInfo>>('prefix.match');

/** Publishes a plugin's match info (the first publisher is the default for readers). */
export function publishMatch(state: CycleState, info: PrefixMatchInfo): void {
  let m = state.read(PREFIX_MATCH);
  if (!m) {
    m = new Map();
    state.write(PREFIX_MATCH, m);
  }
  m.set(info.plugin, info);
}

export function readMatch(state: CycleState, plugin: string | undefined): PrefixMatchInfo | undefined {
  const m = state.read(PREFIX_MATCH);
  if (!m) return undefined;
  if (plugin) return m.get(plugin);
  return m.values().next().value;
}

/**
 * Caches per-candidate-list match results (filters and scorers of a cycle share one lookup). A
 * question about one endpoint (the chosen decode endpoint's match, for the P/D decider and the hit
 * metrics) is answered from the cached list when it holds that endpoint — a candidate's match does
 * not depend on the others — and otherwise computed without evicting the cached list.
 */
export function memoMatch(compute: (candidates: readonly Candidate[]) => Float64Array): (candidates: readonly Candidate[]) => Float64Array {
  let lastList: readonly Candidate[] | undefined;
  let last: Float64Array | undefined;
  return (candidates) => {
    if (candidates === lastList && last) return last;
    if (candidates.length === 1 && lastList && last) {
      const key = candidates[0].endpoint.key;
      for (let i = 0; i < lastList.length; i++) if (lastList[i].endpoint.key === key) return Float64Array.of(last[i]);
      return compute(candidates);
    }
    lastList = candidates;
    last = compute(candidates);
    return last;
  };
}
