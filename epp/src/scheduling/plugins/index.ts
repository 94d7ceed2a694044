// The built-in scheduling plugin types (scorers, pickers, profile handler, saturation detectors)
// and one call to register them all. Parser types live in requestcontrol/parsing; data-layer
// types are registered by the data layer.
import type { PluginRegistry, PluginType } from '../../framework/registry.js';
import { queueScorerPlugin } from './queue-scorer.js';
import { kvCacheUtilizationScorerPlugin } from './kv-cache-utilization-scorer.js';
import { runningRequestsSizeScorerPlugin } from './running-requests-size-scorer.js';
import { loraAffinityScorerPlugin } from './lora-affinity-scorer.js';
import { tokenLoadScorerPlugin } from './token-load-scorer.js';
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

export * from './queue-scorer.js';
export * from './kv-cache-utilization-scorer.js';
export * from './running-requests-size-scorer.js';
export * from './lora-affinity-scorer.js';
export * from './token-load-scorer.js';
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

/** Every scheduling plugin type tokenroute ships, in registration order. */
export const SCHEDULING_PLUGIN_TYPES: readonly PluginType[] = [
  queueScorerPlugin,
  kvCacheUtilizationScorerPlugin,
  runningRequestsSizeScorerPlugin,
  loraAffinityScorerPlugin,
  tokenLoadScorerPlugin,
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
];

export function registerSchedulingPlugins(registry: PluginRegistry): PluginRegistry {
  for (const t of SCHEDULING_PLUGIN_TYPES) registry.register(t);
  return registry;
}
