// prefix-cache-scorer — GIE's approximate prefix-cache-aware scorer. It scores each endpoint by
// the fraction of the request's prefix blocks the endpoint probably holds in its KV cache
// (matched consecutive blocks from block 0 ÷ request blocks), so requests sharing a prefix (a
// system prompt, a conversation) land where that prefix is already cached and skip its prefill.
// "Probably": the index is built from routing history, not from the model servers — after each
// decision (PreRequest) the request's block keys are recorded for the chosen endpoint and for
// the `prefill` profile's endpoint (P/D); each endpoint's entries form an LRU bounded by
// lruCapacityPerServer (or, with autoTune, the endpoint's KV blocks from vllm:cache_config_info);
// endpoints that leave the pool are purged. Use it next to load scorers (queue-scorer,
// kv-cache-utilization-scorer) so a hot prefix does not pile onto one saturated server.
// Block keys come from token-producer (prefix/token-producer.ts: the edge filter's verified
// headers, else the EPP's own tokenizer in a worker thread, else GIE's character blocks); a config
// without one gets one implicitly, from this scorer's key-source parameters. The prepare/score/
// record steps it shares with precise-prefix-cache-scorer are prefix/prefix-scorer.ts.
// Parameters (GIE v1.5.0 approximateprefix defaults): autoTune (true), blockSizeTokens (16),
//   maxPrefixBlocksToMatch (256), maxPrefixTokensToMatch (0 = use blocks), lruCapacityPerServer
//   (31250), blockSize (deprecated characters: an error without blockSizeTokens); tokenroute:
//   tokenProducerName (which token-producer, when a config declares several), and for configs
//   without a token-producer its key sources: models, filterHeaders, tokenizerWorkers,
//   tokenizeTimeout, charFallback (prefix/plugin-support.ts).
import { z } from 'zod';
import type { Candidate, Endpoint } from '../../framework/endpoint.js';
import type { LifecyclePlugin, ReferencingPlugin, Scorer } from '../../framework/plugins.js';
import { definePlugin, type PluginContext } from '../../framework/registry.js';
import { nonNegativeInt, positiveInt, POSITIVE_INTEGER } from '../../framework/params.js';
import { BlockIndex } from '../../prefix/index/block-index.js';
import { checkKeySources, keySourceOverrides, setKeySources } from '../../prefix/plugin-support.js';
import { prefixMatchProducer, prefixScorer, type PrefixIndexBinding, type PrefixMatchProducerPlugin, type PrefixScorerPlugin } from '../../prefix/prefix-scorer.js';
import { matchInfoScorer } from '../../prefix/match-info-scorer.js';

export const PREFIX_CACHE_SCORER_TYPE = 'prefix-cache-scorer';

export const prefixCacheScorerParameters = z
  .strictObject({
    autoTune: z.boolean({ error: 'expected a boolean' }).default(true),
    blockSizeTokens: z
      .number({ error: POSITIVE_INTEGER })
      .int({ error: POSITIVE_INTEGER })
      .positive({ error: POSITIVE_INTEGER })
      .optional(),
    maxPrefixBlocksToMatch: positiveInt(256),
    maxPrefixTokensToMatch: nonNegativeInt(0),
    lruCapacityPerServer: positiveInt(31_250),
    /** Deprecated character-based block size; only accepted next to blockSizeTokens. */
    blockSize: z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' }).optional(),
    tokenProducerName: z.string().min(1).optional(),
    /** llm-d-router: score with this producer's match instead of an index of one's own. */
    prefixMatchInfoProducerName: z.string().min(1).optional(),
    ...keySourceOverrides,
  })
  .superRefine((p, ctx) => {
    checkKeySources(p, ctx);
    if (p.blockSize !== undefined && p.blockSize > 0 && p.blockSizeTokens === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['blockSize'],
        message: 'blockSize is deprecated (characters); set blockSizeTokens (tokens) instead',
      });
    }
  })
  .transform((p) => ({
    autoTune: p.autoTune,
    blockSizeTokens: p.blockSizeTokens ?? 16,
    maxPrefixBlocksToMatch: p.maxPrefixBlocksToMatch,
    maxPrefixTokensToMatch: p.maxPrefixTokensToMatch,
    lruCapacityPerServer: p.lruCapacityPerServer,
    tokenProducerName: p.tokenProducerName,
    prefixMatchInfoProducerName: p.prefixMatchInfoProducerName,
    keySources: setKeySources(p),
  }));
export type PrefixCacheScorerParameters = z.output<typeof prefixCacheScorerParameters>;

export interface PrefixCacheScorer extends PrefixScorerPlugin, LifecyclePlugin {
  readonly parameters: PrefixCacheScorerParameters;
  /** The approximate index (tests, stats). */
  readonly index: BlockIndex;
}

/** The block count a request is cut to. */
export function maxBlocksOf(p: { maxPrefixBlocksToMatch: number; maxPrefixTokensToMatch: number }, blockSize: number): number {
  return p.maxPrefixTokensToMatch > 0 ? Math.max(1, Math.floor(p.maxPrefixTokensToMatch / blockSize)) : p.maxPrefixBlocksToMatch;
}

/** The approximate index plugin: with `scores`, prefix-cache-scorer; without, approx-prefix-cache-producer. */
export function createApproxPrefix(type: string, name: string, params: PrefixCacheScorerParameters, ctx: PluginContext, scores: true): PrefixCacheScorer;
export function createApproxPrefix(type: string, name: string, params: PrefixCacheScorerParameters, ctx: PluginContext, scores: false): ApproxPrefixProducer;
export function createApproxPrefix(type: string, name: string, params: PrefixCacheScorerParameters, ctx: PluginContext, scores: boolean): PrefixCacheScorer | ApproxPrefixProducer {
  const index = new BlockIndex({ capacityPerEndpoint: params.lruCapacityPerServer, initialPairs: 4096 });
  const onEndpoints = (_added: readonly Endpoint[], removed: readonly Endpoint[]) => {
    for (const ep of removed) if (!ctx.datastore.get(ep.key)) index.removeEndpoint(ep.key);
  };
  ctx.datastore.on('endpoints', onEndpoints);

  /** autoTune: the model servers' KV block size when they report one. */
  const blockSizeFor = (candidates: readonly Candidate[]): number => {
    if (params.autoTune) for (const c of candidates) if (c.metrics.cacheBlockSize > 0) return c.metrics.cacheBlockSize;
    return params.blockSizeTokens;
  };
  const capacityFor = (c: Candidate): number => {
    if (params.autoTune && c.metrics.cacheNumBlocks > 0) {
      const bs = c.metrics.cacheBlockSize > 0 ? c.metrics.cacheBlockSize : params.blockSizeTokens;
      return Math.max(1, Math.floor((c.metrics.cacheNumBlocks * bs) / blockSizeFor([c])));
    }
    return params.lruCapacityPerServer;
  };

  const binding: PrefixIndexBinding = {
    type,
    name,
    keySources: params.keySources,
    tokenProducerName: params.tokenProducerName,
    keyNeed(candidates) {
      const blockSize = blockSizeFor(candidates);
      return { blockSize, maxBlocks: maxBlocksOf(params, blockSize) };
    },
    lookup(inputs, candidates) {
      const out = new Float64Array(candidates.length);
      const eps = new Int32Array(candidates.length);
      for (let i = 0; i < candidates.length; i++) eps[i] = index.idOf(candidates[i].endpoint.key);
      index.longestPrefix(inputs.keys, inputs.n, eps, out, undefined, inputs.positions);
      return out;
    },
    score: (matched, total) => matched / total,
    record(inputs, c) {
      const id = index.endpointId(c.endpoint.key);
      const cap = capacityFor(c);
      if (cap !== index.capacityOf(c.endpoint.key)) index.setCapacity(c.endpoint.key, cap);
      for (let i = 0; i < inputs.n; i++) index.add(inputs.keys[2 * i], inputs.keys[2 * i + 1], id);
    },
    prefixIndexStats: () => index.stats(),
    kvEventStats: () => undefined,
  };
  const lifecycle = {
    parameters: params,
    index,
    async start() {},
    async close() {
      ctx.datastore.off('endpoints', onEndpoints);
    },
  };
  return scores ? { ...prefixScorer(binding, ctx.metrics), ...lifecycle } : { ...prefixMatchProducer(binding, ctx.metrics), ...lifecycle };
}

export interface ApproxPrefixProducer extends PrefixMatchProducerPlugin, LifecyclePlugin {
  readonly parameters: PrefixCacheScorerParameters;
  readonly index: BlockIndex;
}

export const prefixCacheScorerPlugin = definePlugin({
  type: PREFIX_CACHE_SCORER_TYPE,
  parameters: prefixCacheScorerParameters,
  create(name, params, ctx): PrefixCacheScorer | (Scorer & ReferencingPlugin) {
    if (params.prefixMatchInfoProducerName !== undefined) return matchInfoScorer(PREFIX_CACHE_SCORER_TYPE, name, params.prefixMatchInfoProducerName);
    return createApproxPrefix(PREFIX_CACHE_SCORER_TYPE, name, params, ctx, true);
  },
});
