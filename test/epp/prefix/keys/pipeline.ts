// Test helper: the EPP's request path without gRPC — config loader, then the scheduler and director
// from main.ts's configuredDirector (as startEpp builds them), lifecycle plugins started,
// over a datastore of static endpoints. `route` sends one OpenAI body and returns the chosen
// endpoint (and finishes the request so in-flight load is released unless told otherwise).
import { readFileSync } from 'node:fs';
import { Datastore } from '../../../../epp/src/datastore/datastore.js';
import { staticEndpoints, type StaticEndpointSpec } from '../../../../epp/src/datastore/static-endpoints.js';
import { ConfigError, loadEndpointPickerConfig, type LoadedConfig } from '../../../../epp/src/config/index.js';
import { builtinRegistry, configuredDirector } from '../../../../epp/src/main.js';
import type { Director } from '../../../../epp/src/requestcontrol/director.js';
import { ROUTE_NAME_ATTRIBUTE } from '../../../../epp/src/requestcontrol/profile-selection.js';
import { EppMetrics } from '../../../../epp/src/observability/metrics.js';
import { silentLogger, type Logger } from '../../../../epp/src/observability/logger.js';
import { isLifecyclePlugin, type Plugin } from '../../../../epp/src/framework/plugins.js';
import type { RequestInput, RouteDecision } from '../../../../epp/src/framework/request-controller.js';

export interface Pipeline {
  readonly datastore: Datastore;
  readonly config: LoadedConfig;
  readonly director: Director;
  plugin<T extends Plugin>(name: string): T;
  /** Routes one request; returns the chosen endpoint key (throws on reject). */
  route(path: string, body: Record<string, unknown>, opts?: { headers?: Record<string, string>; keepInflight?: boolean; route?: string }): Promise<string>;
  /** Routes one request; returns the whole decision (throws on reject). */
  decide(path: string, body: Record<string, unknown>, opts?: { headers?: Record<string, string>; keepInflight?: boolean; route?: string }): Promise<RouteDecision>;
  readonly metrics: EppMetrics;
  close(): Promise<void>;
}

let counter = 0;

/** The YAML of a docs/configuration.md example, from the line `plugins:\n<firstPluginLine>` to its fence. */
export function docsExample(firstPluginLine: string): string {
  const md = readFileSync(new URL('../../../../../docs/configuration.md', import.meta.url), 'utf8');
  const start = md.indexOf(`plugins:\n${firstPluginLine}`);
  if (start < 0) throw new Error(`docs/configuration.md has no example starting with ${firstPluginLine}`);
  return CONFIG_HEADER + md.slice(start, md.indexOf('```', start));
}

export async function pipeline(configYaml: string, endpoints: StaticEndpointSpec[], logger: Logger = silentLogger()): Promise<Pipeline> {
  const datastore = new Datastore();
  datastore.setEndpoints(staticEndpoints(endpoints, 'vllm', 'default'));
  datastore.markSynced();
  const metrics = new EppMetrics({ defaultMetrics: false });
  const ctx = { datastore, logger, random: Math.random, now: Date.now, metrics };
  const config = loadEndpointPickerConfig(configYaml, builtinRegistry(), ctx);
  const plugins = [...config.plugins.values()];
  const director = configuredDirector(config, { datastore, metrics, logger, disableSubsetFilter: true, saturationDetector: { type: 'never', name: 'never', saturation: () => 0 } });
  const lifecycle = plugins.filter(isLifecyclePlugin);
  for (const p of lifecycle) await p.start();
  const decide = async (path: string, body: Record<string, unknown>, opts: { headers?: Record<string, string>; keepInflight?: boolean; route?: string } = {}) => {
    const buf = Buffer.from(JSON.stringify(body));
    const input: RequestInput = {
      headers: new Map(Object.entries({ ':method': 'POST', ':path': path, 'content-type': 'application/json', ...(opts.headers ?? {}) })),
      requestId: `r-${++counter}`,
      body: buf,
      filterMetadata: {},
      // The Envoy route the request came through (ext_proc attribute xds.route_name).
      attributes: new Map(opts.route !== undefined ? [[ROUTE_NAME_ATTRIBUTE, opts.route]] : []),
      grpcMetadata: new Map(),
    };
    const d = await director.handleRequest(input);
    if (d.kind !== 'route') throw new Error(`rejected ${d.status}: ${d.message}`);
    if (!opts.keepInflight) d.handle.onEnd('complete');
    return d;
  };
  return {
    datastore,
    config,
    director,
    metrics,
    decide,
    plugin<T extends Plugin>(name: string) {
      const p = config.plugins.get(name);
      if (!p) throw new Error(`no plugin ${name}`);
      return p as T;
    },
    async route(path, body, opts = {}) {
      return (await decide(path, body, opts)).endpoints[0];
    },
    async close() {
      await Promise.all(lifecycle.map((p) => p.close()));
    },
  };
}

export const CONFIG_HEADER = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
`;

/** The config errors of loading CONFIG_HEADER + `yaml` with the built-in registry ([] when it loads). */
export function configErrors(yaml: string): string[] {
  try {
    loadEndpointPickerConfig(CONFIG_HEADER + yaml, builtinRegistry(), { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [...err.errors];
  }
}
