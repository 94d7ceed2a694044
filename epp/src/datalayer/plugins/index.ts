// The data layer's plugin types, registered together so the config loader knows
// `metrics-data-source` and `core-metrics-extractor` (GIE's default dataLayer pair), and
// llm-d-router's `endpoint-notification-source`.
import type { PluginRegistry } from '../../framework/registry.js';
import { coreMetricsExtractor } from './core-metrics-extractor.js';
import { metricsDataSource } from './metrics-data-source.js';
import { endpointNotificationSource } from './endpoint-notification-source.js';

export { coreMetricsExtractor, coreMetricsExtractorParameters, isCoreMetricsExtractor, CORE_METRICS_EXTRACTOR, type CoreMetricsExtractorPlugin } from './core-metrics-extractor.js';
export { metricsDataSource, metricsDataSourceParameters, isMetricsDataSource, METRICS_DATA_SOURCE, type MetricsDataSourcePlugin } from './metrics-data-source.js';

export function registerDataLayerPlugins(registry: PluginRegistry): PluginRegistry {
  return registry.register(metricsDataSource).register(coreMetricsExtractor).register(endpointNotificationSource);
}
