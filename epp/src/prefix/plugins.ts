// The prefix room's plugin types (the scorers that use them live in scheduling/plugins) and one
// call to register them, with llm-d's legacy name for the producer.
import type { PluginRegistry } from '../framework/registry.js';
import { LEGACY_TOKENIZER_TYPE, TOKEN_PRODUCER_TYPE, tokenProducerPlugin } from './token-producer.js';

export function registerPrefixPlugins(registry: PluginRegistry): PluginRegistry {
  registry.register(tokenProducerPlugin);
  registry.alias(LEGACY_TOKENIZER_TYPE, TOKEN_PRODUCER_TYPE, "llm-d's legacy name, removed upstream after v0.10; rename the type to token-producer");
  return registry;
}
