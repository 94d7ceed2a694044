// The built-in scheduling plugin types (scorers, pickers, profile handler, saturation detectors)
// and one call to register them all. Parser types live in requestcontrol/parsing; data-layer
// types are registered by the data layer.
import type { PluginRegistry, PluginType } from '../../framework/registry.js';
import { queueScorerPlugin } from './queue-scorer.js';
import { kvCacheUtilizationScorerPlugin } from './kv-cache-utilization-scorer.js';
import { runningRequestsSizeScorerPlugin } from './running-requests-size-scorer.js';
import { loraAffinityScorerPlugin } from './lora-affinity-scorer.js';
import { tokenLoadScorerPlugin } from './token-load-scorer.js';
import { ttftEstimateScorerPlugin } from './ttft-estimate-scorer.js';
import { prefixCacheScorerPlugin } from './prefix-cache-scorer.js';
import { precisePrefixCacheScorerPlugin } from './precise-prefix-cache-scorer.js';
import { prefixCacheAffinityFilterPlugin } from './prefix-cache-affinity-filter.js';
import { maxScorePickerPlugin } from './max-score-picker.js';
import { randomPickerPlugin } from './random-picker.js';
import { weightedRandomPickerPlugin } from './weighted-random-picker.js';
import { roundRobinPlugin } from './round-robin.js';
import { leastRequestPlugin } from './least-request.js';
import { singleProfileHandlerPlugin } from './single-profile-handler.js';
import { utilizationDetectorPlugin } from './utilization-detector.js';
import { concurrencyDetectorPlugin } from './concurrency-detector.js';
import { byLabelPlugin } from './by-label.js';
import { BY_LABEL_SELECTOR_TYPE, LABEL_SELECTOR_FILTER_TYPE, labelSelectorFilterPlugin } from './label-selector-filter.js';
import { decodeFilterPlugin } from './decode-filter.js';
import { prefillFilterPlugin } from './prefill-filter.js';
import { encodeFilterPlugin } from './encode-filter.js';
import { disaggProfileHandlerPlugin } from './disagg-profile-handler.js';
import { pdProfileHandlerPlugin } from './pd-profile-handler.js';
import { prefixBasedPdDeciderPlugin } from './prefix-based-pd-decider.js';
import { alwaysDisaggPdDeciderPlugin } from './always-disagg-pd-decider.js';
import { DISAGG_HEADERS_HANDLER_TYPE, PREFILL_HEADER_HANDLER_TYPE, disaggHeadersHandlerPlugin } from './disagg-headers-handler.js';
import { dataParallelProfileHandlerPlugin } from './data-parallel-profile-handler.js';
import { loadAwareScorerPlugin } from './load-aware-scorer.js';
import { activeRequestScorerPlugin } from './active-request-scorer.js';
import { noHitLruScorerPlugin } from './no-hit-lru-scorer.js';
import { conditionalPdDeciderPlugin } from './conditional-pd-decider.js';
import { approxPrefixCacheProducerPlugin } from './approx-prefix-cache-producer.js';
import { precisePrefixCacheProducerPlugin } from './precise-prefix-cache-producer.js';
import { contextLengthAwarePlugin } from './context-length-aware.js';
import { sessionAffinityScorerPlugin } from './session-affinity-scorer.js';
import { sessionAffinityFilterPlugin } from './session-affinity-filter.js';
import { alwaysDisaggMultimodalDeciderPlugin } from './always-disagg-multimodal-decider.js';

export * from './queue-scorer.js';
export * from './kv-cache-utilization-scorer.js';
export * from './running-requests-size-scorer.js';
export * from './lora-affinity-scorer.js';
export * from './token-load-scorer.js';
export * from './ttft-estimate-scorer.js';
export * from './prefix-cache-scorer.js';
export * from './precise-prefix-cache-scorer.js';
export * from './prefix-cache-affinity-filter.js';
export * from './max-score-picker.js';
export * from './random-picker.js';
export * from './weighted-random-picker.js';
export * from './round-robin.js';
export * from './least-request.js';
export * from './single-profile-handler.js';
export * from './utilization-detector.js';
export * from './concurrency-detector.js';
export * from './by-label.js';
export * from './label-selector-filter.js';
export * from './roles.js';
export * from './decode-filter.js';
export * from './prefill-filter.js';
export * from './encode-filter.js';
export * from './disagg-profile-handler.js';
export * from './pd-profile-handler.js';
export * from './prefix-based-pd-decider.js';
export * from './always-disagg-pd-decider.js';
export * from './disagg-headers-handler.js';
export * from './data-parallel-profile-handler.js';
export * from './load-aware-scorer.js';
export * from './active-request-scorer.js';
export * from './no-hit-lru-scorer.js';
export * from './conditional-pd-decider.js';
export * from './approx-prefix-cache-producer.js';
export * from './precise-prefix-cache-producer.js';
export * from './context-length-aware.js';
export * from './session-affinity-scorer.js';
export * from './always-disagg-multimodal-decider.js';

/** Every scheduling plugin type tokenroute ships, in registration order. */
export const SCHEDULING_PLUGIN_TYPES: readonly PluginType[] = [
  queueScorerPlugin,
  kvCacheUtilizationScorerPlugin,
  runningRequestsSizeScorerPlugin,
  loraAffinityScorerPlugin,
  tokenLoadScorerPlugin,
  ttftEstimateScorerPlugin,
  prefixCacheScorerPlugin,
  precisePrefixCacheScorerPlugin,
  prefixCacheAffinityFilterPlugin,
  maxScorePickerPlugin,
  randomPickerPlugin,
  weightedRandomPickerPlugin,
  roundRobinPlugin,
  leastRequestPlugin,
  singleProfileHandlerPlugin,
  utilizationDetectorPlugin,
  concurrencyDetectorPlugin,
  byLabelPlugin,
  labelSelectorFilterPlugin,
  decodeFilterPlugin,
  prefillFilterPlugin,
  encodeFilterPlugin,
  disaggProfileHandlerPlugin,
  pdProfileHandlerPlugin,
  prefixBasedPdDeciderPlugin,
  alwaysDisaggPdDeciderPlugin,
  disaggHeadersHandlerPlugin,
  dataParallelProfileHandlerPlugin,
  loadAwareScorerPlugin,
  activeRequestScorerPlugin,
  noHitLruScorerPlugin,
  conditionalPdDeciderPlugin,
  approxPrefixCacheProducerPlugin,
  precisePrefixCacheProducerPlugin,
  contextLengthAwarePlugin,
  sessionAffinityScorerPlugin,
  sessionAffinityFilterPlugin,
  alwaysDisaggMultimodalDeciderPlugin,
];

export function registerSchedulingPlugins(registry: PluginRegistry): PluginRegistry {
  for (const t of SCHEDULING_PLUGIN_TYPES) registry.register(t);
  registry.alias(BY_LABEL_SELECTOR_TYPE, LABEL_SELECTOR_FILTER_TYPE, "llm-d's deprecated name; rename the type to label-selector-filter");
  registry.alias(PREFILL_HEADER_HANDLER_TYPE, DISAGG_HEADERS_HANDLER_TYPE, "llm-d's deprecated name; rename the type to disagg-headers-handler");
  return registry;
}
