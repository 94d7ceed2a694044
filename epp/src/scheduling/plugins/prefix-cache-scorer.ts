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
// Block keys come from the edge filter's verified headers, else the EPP's own tokenizer (worker
// thread), else GIE's character blocks (prefix/keys/prefix-inputs.ts).
// Parameters (GIE v1.5.0 approximateprefix defaults): autoTune (true), blockSizeTokens (16),
//   maxPrefixBlocksToMatch (256), maxPrefixTokensToMatch (0 = use blocks), lruCapacityPerServer
//   (31250), blockSize (deprecated characters: an error without blockSizeTokens); tokenroute:
//   models, filterHeaders, tokenizerWorkers, tokenizeTimeout, charFallback (prefix/plugin-support.ts).
import { z } from 'zod';
import type { Candidate, Endpoint } from '../../framework/endpoint.js';
import type { CycleState, LifecyclePlugin, PrepareDataPlugin, PreRequestPlugin, Scorer, SchedulingResult } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { stateKey } from '../../framework/cycle-state.js';
import { nonNegativeInt, positiveInt, POSITIVE_INTEGER } from '../../framework/params.js';
import { BlockIndex } from '../../prefix/index/block-index.js';
import type { PrefixInputs } from '../../prefix/keys/prefix-inputs.js';
import { keyProducer, keySourceParameters, memoMatch, publishMatch } from '../../prefix/plugin-support.js';
import type { InferenceRequest } from '../../framework/request.js';

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
    ...keySourceParameters,
  })
  .superRefine((p, ctx) => {
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
    models: p.models,
    filterHeaders: p.filterHeaders,
    tokenizerWorkers: p.tokenizerWorkers,
    tokenizeTimeout: p.tokenizeTimeout,
    charFallback: p.charFallback,
  }));
export type PrefixCacheScorerParameters = z.output<typeof prefixCacheScorerParameters>;

export interface PrefixCacheScorer extends Scorer, PrepareDataPlugin, PreRequestPlugin, LifecyclePlugin {
  readonly parameters: PrefixCacheScorerParameters;
  /** The approximate index (tests, stats). */
  readonly index: BlockIndex;
}

/** The block count a request is cut to. */
export function maxBlocksOf(p: { maxPrefixBlocksToMatch: number; maxPrefixTokensToMatch: number }, blockSize: number): number {
  return p.maxPrefixTokensToMatch > 0 ? Math.max(1, Math.floor(p.maxPrefixTokensToMatch / blockSize)) : p.maxPrefixBlocksToMatch;
}

export const prefixCacheScorerPlugin = definePlugin({
  type: PREFIX_CACHE_SCORER_TYPE,
  parameters: prefixCacheScorerParameters,
  create(name, params, ctx): PrefixCacheScorer {
    const INPUTS = stateKey<PrefixInputs>(`prefix-cache-scorer/${name}`);
    const MATCHED = stateKey<(c: readonly Candidate[]) => Float64Array>(`prefix-cache-scorer/${name}/match`);
    const index = new BlockIndex({ capacityPerEndpoint: params.lruCapacityPerServer, initialPairs: 4096 });
    const keys = keyProducer(params, params.blockSizeTokens, maxBlocksOf(params, params.blockSizeTokens));
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
    const lookup = (inputs: PrefixInputs, candidates: readonly Candidate[]): Float64Array => {
      const out = new Float64Array(candidates.length);
      const eps = new Int32Array(candidates.length);
      for (let i = 0; i < candidates.length; i++) eps[i] = index.idOf(candidates[i].endpoint.key);
      index.longestPrefix(inputs.keys, inputs.n, eps, out);
      return out;
    };
    const record = (inputs: PrefixInputs, c: Candidate | undefined) => {
      if (!c || inputs.n === 0) return;
      const id = index.endpointId(c.endpoint.key);
      const cap = capacityFor(c);
      if (cap !== index.capacityOf(c.endpoint.key)) index.setCapacity(c.endpoint.key, cap);
      for (let i = 0; i < inputs.n; i++) index.add(inputs.keys[2 * i], inputs.keys[2 * i + 1], id);
    };

    return {
      type: PREFIX_CACHE_SCORER_TYPE,
      name,
      parameters: params,
      index,
      prepareRequestData(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState) {
        const blockSize = blockSizeFor(candidates);
        const publish = (inputs: PrefixInputs) => {
          state.write(INPUTS, inputs);
          const matched = memoMatch((c) => lookup(inputs, c));
          state.write(MATCHED, matched);
          publishMatch(state, { plugin: name, blockSize, totalBlocks: inputs.n, promptTokens: inputs.promptTokens, matched });
        };
        const r = keys.producer.produce(req, state, blockSize);
        if (r instanceof Promise) return r.then(publish);
        publish(r);
      },
      score(_req, candidates, state, out) {
        const inputs = state.read(INPUTS);
        const matched = state.read(MATCHED);
        if (!inputs || !matched || inputs.n === 0) return;
        const m = matched(candidates);
        for (let i = 0; i < candidates.length; i++) out[i] = m[i] / inputs.n;
      },
      preRequest(_req: InferenceRequest, result: SchedulingResult, state: CycleState) {
        const inputs = state.read(INPUTS);
        if (!inputs) return;
        record(inputs, result.profileResults.get(result.primaryProfile)?.targets[0]);
        if (result.primaryProfile !== 'prefill') record(inputs, result.profileResults.get('prefill')?.targets[0]);
      },
      async start() {
        await keys.start();
      },
      async close() {
        ctx.datastore.off('endpoints', onEndpoints);
        await keys.close();
      },
    };
  },
});
