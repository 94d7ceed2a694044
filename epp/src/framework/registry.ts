// Plugin types by config `type` name. Each type declares a zod schema for its `parameters`
// (strict: unknown keys are errors) and a factory. The config loader validates parameters
// against the schema and reports failures with the field path.
import type { z } from 'zod';
import type { Plugin } from './plugins.js';
import type { Logger } from 'pino';
import type { PoolView } from './endpoint.js';

/** A counter a plugin registers by name (registered once, shared by every plugin asking for it). */
export interface PluginCounter {
  inc(labels: Readonly<Record<string, string>>, value?: number): void;
}

/** An unlabelled histogram a plugin observes on the request path. */
export interface PluginHistogram {
  observe(value: number): void;
}

/** Metrics a plugin may record (the EPP's registry behind it; observability/metrics.ts). */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames: readonly string[]): PluginCounter;
  /** Registered on first use and shared by name, like counter(). */
  histogram(name: string, help: string, buckets: readonly number[]): PluginHistogram;
  /**
   * A gauge read at scrape time: every reader registered under `name` is called with a setter. The
   * returned function unregisters the reader (a plugin's close()).
   */
  gauge(name: string, help: string, labelNames: readonly string[], read: (set: (labels: Readonly<Record<string, string>>, value: number) => void) => void): () => void;
  /** A client-chosen model name as a bounded label value. */
  modelLabel(model: string): string;
}

/** What a plugin may use from the running EPP. */
export interface PluginContext {
  /** Absent in tests that do not look at metrics. */
  readonly metrics?: PluginMetrics;
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
  /** Older or other projects' names for a type (llm-d's `tokenizer` for `token-producer`). */
  private readonly aliases = new Map<string, { readonly type: string; readonly note: string }>();

  register<S extends z.ZodType>(pluginType: PluginType<S>): this {
    if (this.types.has(pluginType.type)) throw new Error(`plugin type ${pluginType.type} registered twice`);
    this.types.set(pluginType.type, pluginType as unknown as PluginType);
    return this;
  }

  /** Accepts `name` in configs as `type`; `note` is the warning a config using it gets. */
  alias(name: string, type: string, note: string): this {
    if (this.types.has(name) || this.aliases.has(name)) throw new Error(`plugin type ${name} registered twice`);
    if (!this.types.has(type)) throw new Error(`alias ${name} names unregistered type ${type}`);
    this.aliases.set(name, { type, note });
    return this;
  }

  /** The type registered under `type`, or under the type `type` is an alias of. */
  get(type: string): PluginType | undefined {
    return this.types.get(type) ?? this.types.get(this.aliases.get(type)?.type ?? '');
  }

  /** When `type` is an alias: the type it stands for and why it is kept. */
  aliasOf(type: string): { readonly type: string; readonly note: string } | undefined {
    return this.aliases.get(type);
  }

  typeNames(): string[] {
    return [...this.types.keys()].sort();
  }
}

/** Helper so a plugin file can declare its type with inference on `params`. */
export function definePlugin<S extends z.ZodType>(pluginType: PluginType<S>): PluginType<S> {
  return pluginType;
}
