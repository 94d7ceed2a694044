// token-producer — the one PrepareData plugin that turns a request into prefix block keys for
// every prefix plugin of the config (llm-d's `token-producer` DataProducer, legacy type name
// `tokenizer`; llm-d-inference-scheduler `pkg/epp/framework/plugins/.../tokenizer`, which feeds
// `request.Body.TokenizedPrompt`). Each consumer (prefix-cache-scorer, precise-prefix-cache-
// scorer) subscribes with the block size and block count it needs; per request the producer reads
// the request once — the edge filter's signed x-tokenroute-* headers when they fit, else the EPP's
// own tokenizer (the filter's wasm in a worker thread, one job for every block size), else GIE's
// character blocks — and writes each consumer's inputs into the request state (PREFIX_INPUTS).
// Why one plugin: two prefix scorers used to tokenize the same prompt twice, and response-side
// plugins (P/D bookkeeping, usage) need the same token facts.
// A config with a prefix scorer and no producer gets one implicitly (config loader), built from
// the scorer's own key-source parameters, as GIE's loader auto-creates approx-prefix-cache-producer;
// the decision trace says which producer ran (`prefixProducer`).
// Parameters: tokenroute's key sources (models, filterHeaders, tokenizerWorkers, tokenizeTimeout,
// charFallback) and llm-d's (modelName: the served model, bound to an embedded tokenizer when its
// family is known; vllm {url, http, timeout, mmTimeout}: accepted, but tokenroute tokenizes with
// the filter's embedded tokenizers instead of calling vLLM's render endpoint, and says so at start).
import { z } from 'zod';
import type { Candidate } from '../framework/endpoint.js';
import type { CycleState, LifecyclePlugin, Plugin, PrepareDataPlugin } from '../framework/plugins.js';
import { implementing } from '../framework/plugins.js';
import { definePlugin } from '../framework/registry.js';
import { stateKey } from '../framework/cycle-state.js';
import type { InferenceRequest } from '../framework/request.js';
import { keyProducer, keySourceParameters, tokenizerFamilyOf } from './plugin-support.js';
import { limitInputs, type KeyNeed, type PrefixInputs, type PrefixInputsBySize, type PrefixInputProducer } from './keys/prefix-inputs.js';

export const TOKEN_PRODUCER_TYPE = 'token-producer';
/** llm-d's earlier name for the same plugin (removed upstream after v0.10; accepted with a warning). */
export const LEGACY_TOKENIZER_TYPE = 'tokenizer';

/** Each consumer's inputs for this request, by consumer (plugin) name. */
export const PREFIX_INPUTS = stateKey<ReadonlyMap<string, PrefixInputs>>('prefix.inputs');

export const tokenProducerParameters = z
  .strictObject({
    ...keySourceParameters,
    /** llm-d: the served model whose tokenizer to use. */
    modelName: z.string().min(1).optional(),
    /** llm-d: where its producer calls vLLM's render endpoint. Accepted; see the header. */
    vllm: z
      .strictObject({
        url: z.string().optional(),
        http: z.string().optional(),
        timeout: z.string().optional(),
        mmTimeout: z.string().optional(),
      })
      .optional(),
  })
  .transform((p) => {
    const models = { ...p.models };
    let unboundModelName: string | undefined;
    if (p.modelName !== undefined && models[p.modelName] === undefined) {
      const family = tokenizerFamilyOf(p.modelName);
      if (family) models[p.modelName] = family;
      else unboundModelName = p.modelName;
    }
    return { ...p, models, unboundModelName };
  });
export type TokenProducerParameters = z.output<typeof tokenProducerParameters>;

/** A plugin that needs prefix block keys: it says which, given the request's candidates. */
export interface PrefixKeyConsumer extends Plugin {
  keyNeed(candidates: readonly Candidate[]): KeyNeed;
  /** The key-source parameters the consumer itself was given (older configs), if any. */
  readonly keySources: Readonly<Record<string, unknown>> | undefined;
  /** Which token-producer to use when a config declares several. */
  readonly tokenProducerName: string | undefined;
  /** Told which producer feeds it (e.g. to re-key KV events with the producer's model seeds). */
  producerBound?(producer: TokenProducer): void;
}

export interface TokenProducer extends PrepareDataPlugin, LifecyclePlugin {
  readonly parameters: TokenProducerParameters;
  /** The producer of block keys (tests read its tokenization count). */
  readonly keys: PrefixInputProducer;
  /** Adds a consumer; its needs are asked for on every request. */
  subscribe(consumer: PrefixKeyConsumer): void;
  /** The consumers' names, in subscription order. */
  consumers(): readonly string[];
  /** Set when the config loader created this producer for a scorer that named none. */
  implicitFor: string | undefined;
}

export const isPrefixKeyConsumer = implementing<PrefixKeyConsumer>('keyNeed');
export const isTokenProducer = implementing<TokenProducer>('subscribe', 'prepareRequestData');

export const tokenProducerPlugin = definePlugin({
  type: TOKEN_PRODUCER_TYPE,
  parameters: tokenProducerParameters,
  create(name, params, ctx): TokenProducer {
    const keys = keyProducer(params);
    const subscribed: PrefixKeyConsumer[] = [];
    /** The trace's name for this producer (fixed once the loader has set implicitFor). */
    let label: string | undefined;
    const log = ctx.logger.child({ plugin: name });
    const write = (state: CycleState, needs: readonly KeyNeed[], bySize: PrefixInputsBySize, label: string) => {
      const out = new Map<string, PrefixInputs>();
      subscribed.forEach((c, i) => {
        const inputs = bySize.get(needs[i].blockSize);
        if (!inputs) return;
        out.set(c.name, limitInputs(inputs, needs[i].maxBlocks));
      });
      state.write(PREFIX_INPUTS, out);
      const first = bySize.get(needs[0].blockSize);
      state.note('prefixProducer', label);
      if (first) {
        state.note('prefixSource', first.source);
        state.note('prefixBlocks', first.n);
        state.note('prefixBlockSize', first.blockSize);
        if (first.fallbackReason) state.note('prefixFallback', first.fallbackReason);
      }
    };
    const producer: TokenProducer = {
      type: TOKEN_PRODUCER_TYPE,
      name,
      parameters: params,
      keys: keys.producer,
      implicitFor: undefined,
      produces: [PREFIX_INPUTS],
      subscribe(consumer) {
        if (subscribed.includes(consumer)) return;
        subscribed.push(consumer);
        consumer.producerBound?.(producer);
      },
      consumers: () => subscribed.map((c) => c.name),
      prepareRequestData(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState) {
        if (subscribed.length === 0) return;
        const needs = subscribed.map((c) => c.keyNeed(candidates));
        label ??= producer.implicitFor ? `${name} (implicit, for ${producer.implicitFor})` : name;
        const named = label;
        const r = keys.producer.produce(req, needs);
        if (r instanceof Promise) return r.then((bySize) => write(state, needs, bySize, named));
        write(state, needs, r, named);
      },
      async start() {
        if (params.unboundModelName !== undefined) {
          log.warn({ modelName: params.unboundModelName }, 'token-producer: no embedded tokenizer for modelName; set models to bind it, else keys fall back to character blocks');
        }
        if (params.vllm !== undefined) {
          log.warn('token-producer: vllm.* is accepted for llm-d configs but not called: tokenroute tokenizes with the edge filter or its embedded tokenizers');
        }
        await keys.start();
      },
      async close() {
        await keys.close();
      },
    };
    return producer;
  },
});
