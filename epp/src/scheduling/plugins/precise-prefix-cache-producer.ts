// precise-prefix-cache-producer — llm-d-router's precise producer: the KV-event-fed index of
// precise-prefix-cache-scorer (same parameters) without the score. It publishes the request's
// match for a generic `prefix-cache-scorer` with `prefixMatchInfoProducerName`, the P/D deciders,
// prefix-cache-affinity-filter and no-hit-lru-scorer (llm-d-router splits its precise scorer this
// way; its configs pair the two).
import { definePlugin } from '../../framework/registry.js';
import { createPrecisePrefix, precisePrefixCacheScorerParameters, type PrecisePrefixProducer } from './precise-prefix-cache-scorer.js';

export const PRECISE_PREFIX_CACHE_PRODUCER_TYPE = 'precise-prefix-cache-producer';

export const precisePrefixCacheProducerPlugin = definePlugin({
  type: PRECISE_PREFIX_CACHE_PRODUCER_TYPE,
  parameters: precisePrefixCacheScorerParameters,
  create(name, params, ctx): PrecisePrefixProducer {
    return createPrecisePrefix(PRECISE_PREFIX_CACHE_PRODUCER_TYPE, name, params, ctx, false);
  },
});
