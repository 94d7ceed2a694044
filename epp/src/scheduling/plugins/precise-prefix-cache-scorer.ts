// precise-prefix-cache-scorer — llm-d's precise prefix-cache-aware scorer. It scores each endpoint
// by the prompt blocks the model server reports holding: for each endpoint, the consecutive
// blocks from block 0 found in its KV cache, each weighted by its tier (GPU 1.0, CPU 0.8 by
// default, llm-d's kvCacheBackendConfigs), ÷ the request's blocks, capped at 1. "Reports": the
// index is fed by vLLM KV events (BlockStored / BlockRemoved / AllBlocksCleared over ZeroMQ,
// prefix/events/subscriber*.ts), so it follows evictions and restarts instead of guessing from routing
// history. Event blocks are re-keyed with tokenroute's own chained keys (recomputed from the
// events' token_ids with the shared wasm hash), so they match the keys the edge filter sends;
// vLLM's hash algorithm and PYTHONHASHSEED do not matter. Optional speculative entries (the
// decision's blocks, for speculativeTTL) cover the moment between a decision and the first event.
// After a missed event sequence without replay, a pod's entries count `uncertainWeight`.
// Keep load scorers in the same profile (queue-scorer, kv-cache-utilization-scorer, or
// prefix-cache-affinity-filter + token-load-scorer) so a hot prefix does not saturate one server.
// Parameters: llm-d's (tokenProcessorConfig, indexerConfig, kvEventsConfig, speculativeIndexing,
// speculativeTTL) and tokenroute's (maxPrefixBlocksToMatch, maxBlocksPerEndpoint, uncertainWeight,
// kvEventsConfig.replayPort / engineBlockSize, tokenProducerName, plus — for configs without a
// token-producer — the key-source parameters of plugin-support.ts). Block keys come from
// token-producer at the event block size; the prepare/score/record steps it shares with
// prefix-cache-scorer are prefix/prefix-scorer.ts.
import { z } from 'zod';
import type { LifecyclePlugin } from '../../framework/plugins.js';
import { definePlugin, type PluginContext } from '../../framework/registry.js';
import { positiveInt } from '../../framework/params.js';
import { PreciseIndex } from '../../prefix/index/precise-index.js';
import { KvEventSubscriber } from '../../prefix/events/subscriber.js';
import { checkKeySources, keySourceOverrides, setKeySources } from '../../prefix/plugin-support.js';
import { duration } from '../../framework/params.js';
import { prefixMatchProducer, prefixScorer, type PrefixIndexBinding, type PrefixMatchProducerPlugin, type PrefixScorerPlugin } from '../../prefix/prefix-scorer.js';

export const PRECISE_PREFIX_CACHE_SCORER_TYPE = 'precise-prefix-cache-scorer';

const positive = z.number().int().positive();

/**
 * 128K tokens at 16-token blocks. Matching is over the prefix digest (protocol/digest.ts: about
 * 900 keys at 100K tokens), not over every block, so a long limit costs little.
 */
export const DEFAULT_PRECISE_MAX_BLOCKS = 8192;

const tokenProcessorConfig = z
  .strictObject({
    blockSize: positive.optional(),
    blockSizeTokens: positive.optional(),
    /** Accepted for llm-d compatibility; tokenroute keys do not depend on vLLM's seed. */
    hashSeed: z.string().optional(),
  })
  .optional();

export const precisePrefixCacheScorerParameters = z
  .strictObject({
    tokenProcessorConfig,
    indexerConfig: z
      .strictObject({
        /** Where llm-d v0.3 and its sim samples put it (deprecated there); the top-level one wins. */
        tokenProcessorConfig,
        kvBlockIndexConfig: z
          .strictObject({
            inMemoryConfig: z.strictObject({ size: positive.optional(), podCacheSize: positive.optional() }).prefault({}),
            enableMetrics: z.boolean().optional(),
            /** A Go duration string, or nanoseconds as llm-d's samples give it; metrics are always on here. */
            metricsLoggingInterval: z.union([z.string(), z.number()]).optional(),
            /** llm-d's no-hit-LRU sample sets it here; the top-level maxPrefixBlocksToMatch wins. */
            maxPrefixBlocksToMatch: positive.optional(),
          })
          .prefault({}),
        /** Deprecated in llm-d (tokenization moved out of the indexer); accepted and ignored. */
        tokenizersPoolConfig: z.unknown().optional(),
        kvCacheBackendConfigs: z.array(z.strictObject({ name: z.string().min(1), weight: z.number().nonnegative() })).default([
          { name: 'gpu', weight: 1.0 },
          { name: 'cpu', weight: 0.8 },
        ]),
      })
      .prefault({}),
    kvEventsConfig: z
      .strictObject({
        zmqEndpoint: z.string().min(1).optional(),
        topicFilter: z.string().default('kv@'),
        concurrency: positive.default(4),
        engineType: z.enum(['vllm'], { error: 'only "vllm" events are supported' }).default('vllm'),
        discoverPods: z.boolean().optional(),
        podDiscoveryConfig: z
          .strictObject({
            podLabelSelector: z.string().default(''),
            podNamespace: z.string().optional(),
            socketPort: z.number().int().min(1).max(65535).default(5557),
          })
          .prefault({}),
        replayPort: z.number().int().min(0).max(65535).default(0),
        replayTimeout: duration('1s'),
        engineBlockSize: positive.optional(),
        engineMapCapacity: positive.default(1 << 21),
      })
      .prefault({}),
    speculativeIndexing: z.boolean().default(false),
    speculativeTTL: duration('2s'),
    maxPrefixBlocksToMatch: positive.optional(),
    maxBlocksPerEndpoint: positiveInt(1 << 20),
    uncertainWeight: z.number().min(0).max(1).default(0.5),
    tokenProducerName: z.string().min(1).optional(),
    ...keySourceOverrides,
  })
  .superRefine(checkKeySources)
  .transform((p) => {
    const weights = new Map(p.indexerConfig.kvCacheBackendConfigs.map((b) => [b.name.toLowerCase(), b.weight]));
    const ev = p.kvEventsConfig;
    return {
      blockSize: blockSizeOf(p.tokenProcessorConfig) ?? blockSizeOf(p.indexerConfig.tokenProcessorConfig) ?? 16,
      maxPairs: p.indexerConfig.kvBlockIndexConfig.inMemoryConfig.size ?? 16_000_000,
      gpuWeight: weights.get('gpu') ?? 1.0,
      cpuWeight: weights.get('cpu') ?? 0.8,
      bindEndpoint: ev.zmqEndpoint,
      dial: ev.discoverPods ?? ev.zmqEndpoint === undefined,
      topicFilter: ev.topicFilter,
      podLabelSelector: parseSelector(ev.podDiscoveryConfig.podLabelSelector),
      socketPort: ev.podDiscoveryConfig.socketPort,
      replayPort: ev.replayPort,
      replayTimeoutMs: ev.replayTimeout,
      engineBlockSize: ev.engineBlockSize,
      engineMapCapacity: ev.engineMapCapacity,
      speculativeTtlMs: p.speculativeIndexing ? p.speculativeTTL : 0,
      maxPrefixBlocksToMatch: p.maxPrefixBlocksToMatch ?? p.indexerConfig.kvBlockIndexConfig.maxPrefixBlocksToMatch ?? DEFAULT_PRECISE_MAX_BLOCKS,
      maxBlocksPerEndpoint: p.maxBlocksPerEndpoint,
      uncertainWeight: p.uncertainWeight,
      tokenProducerName: p.tokenProducerName,
      keySources: setKeySources(p),
    };
  });
export type PrecisePrefixCacheScorerParameters = z.output<typeof precisePrefixCacheScorerParameters>;

function blockSizeOf(t: { blockSize?: number; blockSizeTokens?: number } | undefined): number | undefined {
  return t?.blockSizeTokens ?? t?.blockSize;
}

/** `k=v,k2=v2` (equality selectors only). */
function parseSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const t = part.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq > 0) out[t.slice(0, eq).trim()] = t.slice(eq + 1).replace(/^=/, '').trim();
  }
  return out;
}

export interface PrecisePrefixCacheScorer extends PrefixScorerPlugin, LifecyclePlugin {
  readonly parameters: PrecisePrefixCacheScorerParameters;
  readonly index: PreciseIndex;
  /** Set once started. */
  readonly subscriber: KvEventSubscriber | undefined;
}

export interface PrecisePrefixProducer extends PrefixMatchProducerPlugin, LifecyclePlugin {
  readonly parameters: PrecisePrefixCacheScorerParameters;
  readonly index: PreciseIndex;
  readonly subscriber: KvEventSubscriber | undefined;
}

/** The precise index plugin: with `scores`, precise-prefix-cache-scorer; without, precise-prefix-cache-producer. */
export function createPrecisePrefix(type: string, name: string, params: PrecisePrefixCacheScorerParameters, ctx: PluginContext, scores: true): PrecisePrefixCacheScorer;
export function createPrecisePrefix(type: string, name: string, params: PrecisePrefixCacheScorerParameters, ctx: PluginContext, scores: false): PrecisePrefixProducer;
export function createPrecisePrefix(type: string, name: string, params: PrecisePrefixCacheScorerParameters, ctx: PluginContext, scores: boolean): PrecisePrefixCacheScorer | PrecisePrefixProducer {
  const index = new PreciseIndex({
    maxPairs: params.maxPairs,
    capacityPerEndpoint: params.maxBlocksPerEndpoint,
    weights: { gpu: params.gpuWeight, cpu: params.cpuWeight, speculative: params.gpuWeight, uncertain: params.uncertainWeight },
    speculativeTtlMs: params.speculativeTtlMs,
    now: ctx.now,
  });
  let subscriber: KvEventSubscriber | undefined;
  // Served model → the model name seeding its keys: events are re-keyed as the producer keys requests.
  let seedModels: Record<string, string> = {};
  // Keys compared with event keys must use the event block size; the filter's must match it.
  const binding: PrefixIndexBinding = {
    type,
    name,
    keySources: params.keySources,
    tokenProducerName: params.tokenProducerName,
    keyNeed: () => ({ blockSize: params.blockSize, maxBlocks: params.maxPrefixBlocksToMatch }),
    lookup(inputs, candidates) {
      const out = new Float64Array(candidates.length);
      index.match(inputs.keys, inputs.n, candidates, out, inputs.positions);
      return out;
    },
    score: (matched, total) => Math.min(1, matched / total),
    // What each server holds by its own KV events (plus the speculative blocks of requests just
    // routed there): how full its cache is, for scorers that weigh what a placement evicts.
    held(candidates) {
      const out = new Float64Array(candidates.length);
      for (let i = 0; i < candidates.length; i++) out[i] = index.index.countOf(candidates[i].endpoint.key);
      return out;
    },
    record(inputs, c) {
      if (params.speculativeTtlMs > 0) index.addSpeculative(c.endpoint.key, inputs.keys, inputs.n);
    },
    prefixIndexStats: () => index.index.stats(),
    kvEventStats: () => subscriber?.getStats(),
    producerBound(producer) {
      seedModels = Object.fromEntries(
        Object.entries(producer.parameters.models).flatMap(([served, b]) => (typeof b === 'object' && b.seedModel ? [[served, b.seedModel]] : [])),
      );
    },
  };

  return {
    ...(scores ? prefixScorer(binding, ctx.metrics) : prefixMatchProducer(binding, ctx.metrics)),
    parameters: params,
    index,
    get subscriber() {
      return subscriber;
    },
    async start() {
      if (subscriber) return;
      const sub = new KvEventSubscriber({
        index,
        datastore: ctx.datastore,
        logger: ctx.logger.child({ component: 'kv-events', plugin: name }),
        socketPort: params.socketPort,
        podLabelSelector: params.podLabelSelector,
        config: {
          bindEndpoint: params.bindEndpoint,
          dial: params.dial,
          topicFilter: params.topicFilter,
          blockSize: params.blockSize,
          engineBlockSize: params.engineBlockSize ?? params.blockSize,
          engineMapCapacity: params.engineMapCapacity,
          seedModels,
          replayPort: params.replayPort,
          replayTimeoutMs: params.replayTimeoutMs,
          receiveHighWaterMark: 256,
          maxMessageBytes: 1 << 20,
          maxPendingOpWords: 1 << 22,
          logIntervalMs: 30_000,
          statsIntervalMs: 1000,
          stallMs: 60_000,
        },
      });
      await sub.start();
      subscriber = sub;
    },
    async close() {
      const sub = subscriber;
      subscriber = undefined;
      await sub?.close();
    },
  };
}

export const precisePrefixCacheScorerPlugin = definePlugin({
  type: PRECISE_PREFIX_CACHE_SCORER_TYPE,
  parameters: precisePrefixCacheScorerParameters,
  create(name, params, ctx): PrecisePrefixCacheScorer {
    return createPrecisePrefix(PRECISE_PREFIX_CACHE_SCORER_TYPE, name, params, ctx, true);
  },
});

