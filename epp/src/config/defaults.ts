// Names and defaults of EndpointPickerConfig that are interface facts of GIE v1.5.0
// (GIE `pkg/epp/config/loader/defaults.go`, v1.5.0; docs/configuration.md): the apiVersion/kind, the feature gates,
// the plugin types the loader adds when a config leaves them out, and the built-in config used
// when no config is given at all.

export const CONFIG_API_VERSION = 'inference.networking.x-k8s.io/v1alpha1';
/** llm-d's apiVersions for the same kind (llm-d-router configs), accepted as well. */
export const CONFIG_API_VERSIONS: readonly string[] = [CONFIG_API_VERSION, 'llm-d.ai/v1alpha1', 'llm-d.ai/v1'];
export const CONFIG_KIND = 'EndpointPickerConfig';

/**
 * Feature gates GIE v1.5.0 registers, and `prepareDataPlugins` (GIE's gate for PrepareData
 * plugins, set by llm-d's P/D samples; PrepareData plugins always run here); any other gate
 * name is a config error.
 */
export const FEATURE_GATES = ['dataLayer', 'enableLegacyMetrics', 'flowControl', 'prepareDataPlugins'] as const;
export type FeatureGate = (typeof FEATURE_GATES)[number];

export const DEFAULT_PROFILE_NAME = 'default';
export const DEFAULT_SCORER_WEIGHT = 1;
export const DEFAULT_PROFILE_HANDLER_TYPE = 'single-profile-handler';
export const DEFAULT_PICKER_TYPE = 'max-score-picker';
export const DEFAULT_SATURATION_DETECTOR_TYPE = 'utilization-detector';
export const DEFAULT_PARSER_TYPE = 'openai-parser';
export const DEFAULT_DATA_SOURCE_TYPE = 'metrics-data-source';
export const DEFAULT_METRICS_EXTRACTOR_TYPE = 'core-metrics-extractor';

/**
 * The configuration used when neither --config-file nor --config-text is given: GIE v1.5.0's
 * loadDefaultConfig (queue 2, kv-cache 2, prefix-cache 3, metrics data source + extractor). The
 * loader then adds single-profile-handler, max-score-picker, openai-parser and
 * utilization-detector as for any config.
 */
export const DEFAULT_CONFIG_YAML = `apiVersion: ${CONFIG_API_VERSION}
kind: ${CONFIG_KIND}
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: ${DEFAULT_DATA_SOURCE_TYPE}
- type: ${DEFAULT_METRICS_EXTRACTOR_TYPE}
schedulingProfiles:
- name: ${DEFAULT_PROFILE_NAME}
  plugins:
  - pluginRef: queue-scorer
    weight: 2
  - pluginRef: kv-cache-utilization-scorer
    weight: 2
  - pluginRef: prefix-cache-scorer
    weight: 3
dataLayer:
  sources:
  - pluginRef: ${DEFAULT_DATA_SOURCE_TYPE}
    extractors:
    - pluginRef: ${DEFAULT_METRICS_EXTRACTOR_TYPE}
`;
