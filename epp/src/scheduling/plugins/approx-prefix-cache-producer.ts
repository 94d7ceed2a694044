// approx-prefix-cache-producer — GIE's / llm-d-router's approximate prefix producer: the index of
// prefix-cache-scorer (routing history, LRU per endpoint, autoTune) without the score. It matches
// the request's blocks (keys from token-producer) and publishes the match for a generic
// `prefix-cache-scorer` with `prefixMatchInfoProducerName`, prefix-cache-affinity-filter, the P/D
// deciders and no-hit-lru-scorer; after the decision it records the blocks for the chosen
// endpoints (gateway-api-inference-extension `pkg/epp/framework/plugins/requestcontrol/
// dataproducer/approximateprefix/plugin.go`). Parameters: those of prefix-cache-scorer.
import { definePlugin } from '../../framework/registry.js';
import { createApproxPrefix, prefixCacheScorerParameters, type ApproxPrefixProducer } from './prefix-cache-scorer.js';

export const APPROX_PREFIX_CACHE_PRODUCER_TYPE = 'approx-prefix-cache-producer';

export const approxPrefixCacheProducerPlugin = definePlugin({
  type: APPROX_PREFIX_CACHE_PRODUCER_TYPE,
  parameters: prefixCacheScorerParameters,
  create(name, params, ctx): ApproxPrefixProducer {
    if (params.prefixMatchInfoProducerName !== undefined) throw new Error('prefixMatchInfoProducerName is a parameter of prefix-cache-scorer, not of a producer');
    return createApproxPrefix(APPROX_PREFIX_CACHE_PRODUCER_TYPE, name, params, ctx, false);
  },
});
