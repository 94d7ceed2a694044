// Plugin types by config `type` name. Each type declares a zod schema for its `parameters`
// (strict: unknown keys are errors) and a factory. The config loader validates parameters
// against the schema and reports failures with the field path.
import type { z } from 'zod';
import type { Plugin } from './plugins.js';
import type { Logger } from 'pino';
import type { PoolView } from './endpoint.js';

/** What a plugin may use from the running EPP. */
export interface PluginContext {
  readonly datastore: PoolView;
  readonly logger: Logger;
  /** Source of randomness; tests pass a seeded one. Returns [0, 1). */
  readonly random: () => number;
  /** Wall-clock ms (Date.now unless a test replaces it). */
  readonly now: () => number;
}

export interface PluginType<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  /** Schema of `parameters`; an absent `parameters` is validated as `{}`. */
  readonly parameters: S;
  create(name: string, params: z.output<S>, ctx: PluginContext): Plugin;
}

export class PluginRegistry {
  private readonly types = new Map<string, PluginType>();

  register<S extends z.ZodType>(pluginType: PluginType<S>): this {
    if (this.types.has(pluginType.type)) throw new Error(`plugin type ${pluginType.type} registered twice`);
    this.types.set(pluginType.type, pluginType as unknown as PluginType);
    return this;
  }

  get(type: string): PluginType | undefined {
    return this.types.get(type);
  }

  typeNames(): string[] {
    return [...this.types.keys()].sort();
  }
}

/** Helper so a plugin file can declare its type with inference on `params`. */
export function definePlugin<S extends z.ZodType>(pluginType: PluginType<S>): PluginType<S> {
  return pluginType;
}
