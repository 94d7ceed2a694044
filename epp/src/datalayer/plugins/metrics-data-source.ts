// `metrics-data-source`: where to scrape model-server metrics. GIE's parameters (scheme, path,
// insecureSkipVerify) with its defaults, plus tokenroute extras: `port` (servers that expose
// /metrics on a side port), `timeout` (GIE hard-codes 1 s) and `maxResponseBytes`. The plugin is
// configuration only; the MetricsCollector does the scraping with these values.
import { z } from 'zod';
import type { Plugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { parseDuration } from '../../framework/duration.js';
import { DEFAULT_SOURCE_CONFIG, type MetricsSourceConfig } from '../source.js';

export const METRICS_DATA_SOURCE = 'metrics-data-source';

const positiveDuration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a positive duration such as "1s" or "500ms", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

export const metricsDataSourceParameters = z.strictObject({
  scheme: z.enum(['http', 'https']).default(DEFAULT_SOURCE_CONFIG.scheme),
  path: z.string().regex(/^\/\S*$/, 'must be an absolute URL path such as /metrics').default(DEFAULT_SOURCE_CONFIG.path),
  insecureSkipVerify: z.boolean().default(DEFAULT_SOURCE_CONFIG.insecureSkipVerify),
  port: z.number().int().min(1).max(65535).optional(),
  /** Go duration ("1s", "500ms") or ms. */
  timeout: positiveDuration.default(DEFAULT_SOURCE_CONFIG.timeoutMs),
  maxResponseBytes: z.number().int().positive().default(DEFAULT_SOURCE_CONFIG.maxResponseBytes),
});

export interface MetricsDataSourcePlugin extends Plugin {
  readonly config: MetricsSourceConfig;
}

export function isMetricsDataSource(p: Plugin): p is MetricsDataSourcePlugin {
  return p.type === METRICS_DATA_SOURCE && typeof (p as MetricsDataSourcePlugin).config === 'object';
}

export const metricsDataSource = definePlugin({
  type: METRICS_DATA_SOURCE,
  parameters: metricsDataSourceParameters,
  create(name, params): MetricsDataSourcePlugin {
    const config: MetricsSourceConfig = Object.freeze({
      scheme: params.scheme,
      path: params.path,
      insecureSkipVerify: params.insecureSkipVerify,
      ...(params.port !== undefined ? { port: params.port } : {}),
      timeoutMs: params.timeout,
      maxResponseBytes: params.maxResponseBytes,
    });
    return { type: METRICS_DATA_SOURCE, name, config };
  },
});
