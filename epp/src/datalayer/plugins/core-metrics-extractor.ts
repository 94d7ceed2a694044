// `core-metrics-extractor`: which series carry queue depth, running requests, KV usage, LoRA and
// cache shape, per engine (GIE parameters and defaults, `pkg/epp/framework/plugins/datalayer/extractor/metrics/factories.go`, v1.5.0). Specs are validated
// here, at config load, so a typo fails startup with the field's path instead of turning into a
// scrape error 20 times a second. Configuration only; the scrape workers apply it.
import { z } from 'zod';
import type { Plugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import {
  DEFAULT_ENGINE,
  DEFAULT_ENGINE_LABEL_KEY,
  SPEC_FIELDS,
  mergeEngineConfigs,
  type EngineConfig,
  type EngineSelection,
} from '../engines.js';
import { parseSelector, SelectorError } from '../selector.js';

export const CORE_METRICS_EXTRACTOR = 'core-metrics-extractor';

const labelName = z
  .string()
  .regex(/^(?:[a-zA-Z_][a-zA-Z0-9_]*)?$/, 'must be a Prometheus label name')
  .default('');

/** Every field but `name` may be omitted: the entry replaces the built-in whole, so omitted = disabled. */
const engineConfig = z.strictObject({
  name: z.string().min(1, 'engine name must not be empty'),
  queuedRequestsSpec: z.string().default(''),
  runningRequestsSpec: z.string().default(''),
  kvUsageSpec: z.string().default(''),
  loraSpec: z.string().default(''),
  cacheInfoSpec: z.string().default(''),
  cacheBlockSizeLabelName: labelName,
  cacheNumBlocksLabelName: labelName,
  cacheBlockSizeSpec: z.string().default(''),
  cacheNumBlocksSpec: z.string().default(''),
});

export const coreMetricsExtractorParameters = z
  .strictObject({
    // GIE treats "" as "use the default" for both.
    engineLabelKey: z
      .string()
      .default(DEFAULT_ENGINE_LABEL_KEY)
      .transform((s) => s || DEFAULT_ENGINE_LABEL_KEY),
    defaultEngine: z
      .string()
      .default(DEFAULT_ENGINE)
      .transform((s) => s || DEFAULT_ENGINE),
    engineConfigs: z.array(engineConfig).default([]),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.engineConfigs.forEach((ec, i) => {
      if (seen.has(ec.name)) ctx.addIssue({ code: 'custom', path: ['engineConfigs', i, 'name'], message: `engine ${JSON.stringify(ec.name)} configured twice` });
      seen.add(ec.name);
      for (const field of SPEC_FIELDS) {
        if (ec[field].trim() === '') continue;
        try {
          parseSelector(ec[field]);
        } catch (e) {
          if (!(e instanceof SelectorError)) throw e;
          ctx.addIssue({ code: 'custom', path: ['engineConfigs', i, field], message: e.message });
        }
      }
    });
    const known = mergeEngineConfigs(p.engineConfigs).map((e) => e.name);
    if (!known.includes(p.defaultEngine)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultEngine'],
        message: `defaultEngine ${JSON.stringify(p.defaultEngine)} is neither built in nor in engineConfigs (known: ${known.join(', ')})`,
      });
    }
  });

export interface CoreMetricsExtractorPlugin extends Plugin {
  readonly selection: EngineSelection;
}

export function isCoreMetricsExtractor(p: Plugin): p is CoreMetricsExtractorPlugin {
  return p.type === CORE_METRICS_EXTRACTOR && typeof (p as CoreMetricsExtractorPlugin).selection === 'object';
}

export const coreMetricsExtractor = definePlugin({
  type: CORE_METRICS_EXTRACTOR,
  parameters: coreMetricsExtractorParameters,
  create(name, params): CoreMetricsExtractorPlugin {
    const engines: EngineConfig[] = mergeEngineConfigs(params.engineConfigs.map((e) => Object.freeze({ ...e })));
    return {
      type: CORE_METRICS_EXTRACTOR,
      name,
      selection: Object.freeze({ engineLabelKey: params.engineLabelKey, defaultEngine: params.defaultEngine, engines: Object.freeze(engines) }),
    };
  },
});
