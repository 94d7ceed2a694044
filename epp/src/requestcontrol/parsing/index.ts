// The request parser plugin types (`parser.pluginRef` in EndpointPickerConfig) and one call to
// register them.
import type { PluginRegistry, PluginType } from '../../framework/registry.js';
import { openaiParserPlugin } from './openai-parser.js';
import { passthroughParserPlugin } from './passthrough-parser.js';

export * from './openai-parser.js';
export * from './passthrough-parser.js';

export const PARSER_PLUGIN_TYPES: readonly PluginType[] = [openaiParserPlugin, passthroughParserPlugin];

export function registerParserPlugins(registry: PluginRegistry): PluginRegistry {
  for (const t of PARSER_PLUGIN_TYPES) registry.register(t);
  return registry;
}
