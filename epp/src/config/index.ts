// EndpointPickerConfig: loading, defaults, errors, and the registration of every plugin type
// tokenroute ships (scheduling plugins and request parsers; data-layer types are registered by
// the data layer).
import type { PluginRegistry } from '../framework/registry.js';
import { registerSchedulingPlugins } from '../scheduling/plugins/index.js';
import { registerParserPlugins } from '../requestcontrol/parsing/index.js';

export * from './defaults.js';
export * from './errors.js';
export * from '../framework/duration.js';
export * from './loader.js';
export * from './flow-control.js';
export * from './source.js';

/** Registers the scheduling plugin types and the parser types. */
import { registerPrefixPlugins } from '../prefix/plugins.js';
import { registerFlowControlPlugins } from '../flowcontrol/plugins/index.js';

export function registerBuiltinPlugins(registry: PluginRegistry): PluginRegistry {
  registerSchedulingPlugins(registry);
  registerPrefixPlugins(registry);
  registerParserPlugins(registry);
  registerFlowControlPlugins(registry);
  return registry;
}
