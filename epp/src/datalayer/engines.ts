// Which series carry the scheduler's signals, per model-server engine. The built-ins are GIE's
// defaults (GIE `pkg/epp/framework/plugins/datalayer/extractor/metrics/`, v1.5.0) so pods that worked with the Go EPP work here unchanged; a
// core-metrics-extractor `engineConfigs` entry replaces one engine's config wholesale, and an
// empty spec string turns that signal off (its value then stays at its last/zero value).
import type { Endpoint } from '../framework/endpoint.js';
import { SeriesFilter } from './exposition.js';
import { parseSelector, SelectorError, type Selector } from './selector.js';

/** Pod label that names the engine (GIE's default `engineLabelKey`). */
export const DEFAULT_ENGINE_LABEL_KEY = 'inference.networking.k8s.io/engine-type';
export const DEFAULT_ENGINE = 'vllm';

/** Label names read from `cacheInfoSpec` when an engine config leaves them empty (vLLM's). */
export const DEFAULT_CACHE_BLOCK_SIZE_LABEL = 'block_size';
export const DEFAULT_CACHE_NUM_BLOCKS_LABEL = 'num_gpu_blocks';

/** One engine's metric specs, field names as in the config (`engineConfigs[]`). '' = disabled. */
export interface EngineConfig {
  readonly name: string;
  readonly queuedRequestsSpec: string;
  readonly runningRequestsSpec: string;
  readonly kvUsageSpec: string;
  /** Info gauge: value = last-update time; labels max_lora, running_lora_adapters, waiting_lora_adapters. */
  readonly loraSpec: string;
  /** Info gauge whose labels carry the KV block size and block count. */
  readonly cacheInfoSpec: string;
  readonly cacheBlockSizeLabelName: string;
  readonly cacheNumBlocksLabelName: string;
  /** Numeric gauges, for engines that export the cache shape as values rather than labels. */
  readonly cacheBlockSizeSpec: string;
  readonly cacheNumBlocksSpec: string;
}

export const SPEC_FIELDS = [
  'queuedRequestsSpec',
  'runningRequestsSpec',
  'kvUsageSpec',
  'loraSpec',
  'cacheInfoSpec',
  'cacheBlockSizeSpec',
  'cacheNumBlocksSpec',
] as const;
export type SpecField = (typeof SPEC_FIELDS)[number];

function engine(partial: Partial<EngineConfig> & { name: string }): EngineConfig {
  return Object.freeze({
    queuedRequestsSpec: '',
    runningRequestsSpec: '',
    kvUsageSpec: '',
    loraSpec: '',
    cacheInfoSpec: '',
    cacheBlockSizeLabelName: '',
    cacheNumBlocksLabelName: '',
    cacheBlockSizeSpec: '',
    cacheNumBlocksSpec: '',
    ...partial,
  });
}

export const BUILTIN_ENGINE_CONFIGS: readonly EngineConfig[] = Object.freeze([
  engine({
    name: 'vllm',
    queuedRequestsSpec: 'vllm:num_requests_waiting',
    runningRequestsSpec: 'vllm:num_requests_running',
    kvUsageSpec: 'vllm:kv_cache_usage_perc',
    loraSpec: 'vllm:lora_requests_info',
    cacheInfoSpec: 'vllm:cache_config_info',
    cacheBlockSizeLabelName: 'block_size',
    cacheNumBlocksLabelName: 'num_gpu_blocks',
  }),
  engine({
    name: 'sglang',
    queuedRequestsSpec: 'sglang:num_queue_reqs',
    runningRequestsSpec: 'sglang:num_running_reqs',
    kvUsageSpec: 'sglang:token_usage',
    cacheInfoSpec: 'sglang:cache_config_info',
    cacheBlockSizeLabelName: 'page_size',
    cacheNumBlocksLabelName: 'num_pages',
  }),
  engine({
    name: 'trtllm-serve',
    queuedRequestsSpec: 'trtllm_num_requests_waiting',
    runningRequestsSpec: 'trtllm_num_requests_running',
    kvUsageSpec: 'trtllm_kv_cache_utilization',
    cacheBlockSizeSpec: 'trtllm_kv_cache_tokens_per_block',
    cacheNumBlocksSpec: 'trtllm_kv_cache_max_blocks',
  }),
  engine({
    name: 'triton-tensorrt-llm',
    queuedRequestsSpec: 'nv_trt_llm_request_metrics{request_type="waiting"}',
    runningRequestsSpec: 'nv_trt_llm_request_metrics{request_type="scheduled"}',
    kvUsageSpec: 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}',
    cacheBlockSizeSpec: 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="tokens_per"}',
    cacheNumBlocksSpec: 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max"}',
  }),
]);

/** An engine config with its specs parsed; built in each scrape worker from the EngineConfig. */
export interface EngineMapping {
  readonly name: string;
  readonly queued?: Selector;
  readonly running?: Selector;
  readonly kvUsage?: Selector;
  readonly lora?: Selector;
  readonly cacheInfo?: Selector;
  readonly cacheBlockSizeLabel: string;
  readonly cacheNumBlocksLabel: string;
  readonly cacheBlockSize?: Selector;
  readonly cacheNumBlocks?: Selector;
  /** Every series name the specs reference: the only lines the scraper parses. */
  readonly filter: SeriesFilter;
  /** The enabled specs by config field, for messages. */
  readonly specs: Readonly<Partial<Record<SpecField, Selector>>>;
}

export class EngineConfigError extends Error {
  constructor(readonly engine: string, readonly field: SpecField, cause: SelectorError) {
    super(`engine ${JSON.stringify(engine)}: ${field}: ${cause.message}`);
    this.name = 'EngineConfigError';
  }
}

/** Parses an engine's specs; throws EngineConfigError naming the field of the first bad one. */
export function compileEngine(cfg: EngineConfig): EngineMapping {
  const sel: Partial<Record<SpecField, Selector>> = {};
  const wanted = new Set<string>();
  for (const field of SPEC_FIELDS) {
    const text = cfg[field];
    if (text.trim() === '') continue;
    try {
      const s = parseSelector(text);
      sel[field] = s;
      wanted.add(s.metric);
    } catch (e) {
      if (e instanceof SelectorError) throw new EngineConfigError(cfg.name, field, e);
      throw e;
    }
  }
  return Object.freeze({
    name: cfg.name,
    queued: sel.queuedRequestsSpec,
    running: sel.runningRequestsSpec,
    kvUsage: sel.kvUsageSpec,
    lora: sel.loraSpec,
    cacheInfo: sel.cacheInfoSpec,
    cacheBlockSizeLabel: cfg.cacheBlockSizeLabelName || DEFAULT_CACHE_BLOCK_SIZE_LABEL,
    cacheNumBlocksLabel: cfg.cacheNumBlocksLabelName || DEFAULT_CACHE_NUM_BLOCKS_LABEL,
    cacheBlockSize: sel.cacheBlockSizeSpec,
    cacheNumBlocks: sel.cacheNumBlocksSpec,
    filter: new SeriesFilter(wanted),
    specs: Object.freeze(sel),
  });
}

/** Configured entries replace built-ins of the same name; remaining built-ins follow. */
export function mergeEngineConfigs(configured: readonly EngineConfig[]): EngineConfig[] {
  const names = new Set(configured.map((c) => c.name));
  return [...configured, ...BUILTIN_ENGINE_CONFIGS.filter((c) => !names.has(c.name))];
}

/** The extractor's engine selection, resolved from core-metrics-extractor parameters. */
export interface EngineSelection {
  readonly engineLabelKey: string;
  readonly defaultEngine: string;
  readonly engines: readonly EngineConfig[];
}

export const DEFAULT_ENGINE_SELECTION: EngineSelection = Object.freeze({
  engineLabelKey: DEFAULT_ENGINE_LABEL_KEY,
  defaultEngine: DEFAULT_ENGINE,
  engines: BUILTIN_ENGINE_CONFIGS,
});

/**
 * The engine whose specs apply to `endpoint`: the pod label under the extractor's
 * `engineLabelKey` when present (so a custom key works whatever the endpoint source did), then
 * `Endpoint.engine` as the endpoint source filled it, then `defaultEngine`. A name with no config
 * falls back to `defaultEngine`, as GIE's registry does; `known` is false then.
 */
export function engineFor(endpoint: Endpoint, sel: EngineSelection): { name: string; known: boolean; requested: string } {
  const requested = endpoint.labels[sel.engineLabelKey] || endpoint.engine || sel.defaultEngine;
  const known = sel.engines.some((e) => e.name === requested);
  return { name: known ? requested : sel.defaultEngine, known, requested };
}
