// Starts one EPP: config → plugins → scheduler → request control, the endpoint source
// (standalone list, or the Kubernetes watchers of k8s/), the metrics collector, the ext_proc +
// health gRPC servers and the Prometheus endpoint. Returns a handle whose close() stops everything it started.
import { watchEndpointsFile, type EndpointsFileWatcher } from './datastore/endpoints-file.js';
import type { LabelBounds } from './observability/label-bounds.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Datastore } from './datastore/datastore.js';
import { staticEndpoints, type StaticEndpointSpec } from './datastore/static-endpoints.js';
import { loadEndpointPickerConfig, registerBuiltinPlugins, SATURATION_RECHECK_MS, type LoadedConfig } from './config/index.js';
import { FlowController } from './flowcontrol/controller.js';
import { isCoreMetricsExtractor, isMetricsDataSource, registerDataLayerPlugins, type MetricsDataSourcePlugin } from './datalayer/plugins/index.js';
import { MetricsCollector } from './datalayer/collector.js';
import { EppMetrics } from './observability/metrics.js';
import { registerPrefixIndexMetrics } from './prefix/metrics.js';
import { createLogger, silentLogger, type Logger, type LogLevel } from './observability/logger.js';
import { PluginRegistry, type PluginContext } from './framework/registry.js';
import { isLifecyclePlugin, isPreRequestPlugin, type LifecyclePlugin, type SaturationDetector } from './framework/plugins.js';
import { Scheduler } from './scheduling/scheduler.js';
import { Director } from './requestcontrol/director.js';
import { requestLifecycle } from './requestcontrol/plugins/index.js';
import { profileSelector } from './requestcontrol/profile-selection.js';
import { startEppGrpcServers, type EppGrpcServers } from './server/server.js';
import type { KubernetesFlags, KubernetesMode } from './k8s/mode.js';
import { ERRORS, TokenrouteError } from './framework/error-catalogue.js';

export interface EppOptions {
  readonly grpcPort: number;
  readonly grpcHealthPort: number;
  /** Prometheus /metrics port; 0 = ephemeral, -1 = off. */
  readonly metricsPort: number;
  readonly host?: string;
  /** EndpointPickerConfig YAML; undefined = GIE's built-in default. */
  readonly configText: string | undefined;
  readonly secureServing: boolean;
  readonly certPath?: string;
  readonly enableCertReload: boolean;
  readonly healthChecking: boolean;
  readonly poolName?: string;
  readonly poolNamespace: string;
  /** Kubernetes mode settings besides the pool name (k8s/mode.ts); used with --pool-name or --endpoint-selector. */
  readonly kubernetes?: KubernetesFlags;
  readonly staticEndpoints?: readonly StaticEndpointSpec[];
  /** Standalone mode: a watched YAML file of endpoints with labels (datastore/endpoints-file.ts). */
  readonly endpointsFile?: string;
  /** Engine of --static-endpoints; unset = the core-metrics-extractor's defaultEngine. */
  readonly staticEngine?: string;
  readonly disableEndpointSubsetFilter: boolean;
  readonly refreshMetricsIntervalMs: number;
  readonly refreshPrometheusMetricsIntervalMs: number;
  readonly metricsStalenessThresholdMs: number;
  readonly scrapeWorkers: number;
  readonly maxRequestBodyBytes: number;
  /** Most ext_proc messages one request body may arrive in (default 16,384). */
  readonly maxRequestBodyMessages?: number;
  /** Close ext_proc streams the proxy is silent on for this long (0: never; default 10 min). */
  readonly streamIdleTimeoutMs?: number;
  /** gRPC keepalive pings to each proxy connection (0: off; default 30 s). */
  readonly grpcKeepaliveTimeMs?: number;
  /** Bounds of client-chosen metric label values (--metrics-max-label-values / -length). */
  readonly labelBounds?: LabelBounds;
  readonly logLevel: LogLevel;
  /** Tests inject a logger (e.g. silent). */
  readonly logger?: Logger;
}

/**
 * Options for an EPP embedded in another process (tests, the local stack, benchmarks): the CLI's
 * defaults, but on 127.0.0.1 with ephemeral ports, plaintext gRPC and a silent log.
 */
export function embeddedEppOptions(overrides: Partial<EppOptions>): EppOptions {
  return {
    grpcPort: 0,
    grpcHealthPort: 0,
    metricsPort: 0,
    host: '127.0.0.1',
    configText: undefined,
    secureServing: false,
    enableCertReload: false,
    healthChecking: false,
    poolNamespace: 'default',
    disableEndpointSubsetFilter: false,
    refreshMetricsIntervalMs: 50,
    refreshPrometheusMetricsIntervalMs: 5000,
    metricsStalenessThresholdMs: 2000,
    scrapeWorkers: 1,
    maxRequestBodyBytes: 64 << 20,
    logLevel: 'silent',
    logger: silentLogger(),
    ...overrides,
  };
}

export interface RunningEpp {
  readonly grpcPort: number;
  readonly grpcHealthPort: number;
  readonly metricsPort: number;
  readonly datastore: Datastore;
  readonly config: LoadedConfig;
  readonly metrics: EppMetrics;
  /** The Kubernetes watchers and leader election, in Kubernetes mode. */
  readonly kubernetes?: KubernetesMode;
  close(): Promise<void>;
}

export function builtinRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  registerBuiltinPlugins(registry);
  registerDataLayerPlugins(registry);
  return registry;
}

export async function startEpp(opts: EppOptions): Promise<RunningEpp> {
  const logger = opts.logger ?? createLogger(opts.logLevel);
  const metrics = new EppMetrics({ defaultMetrics: true, labelBounds: opts.labelBounds });
  const datastore = new Datastore();
  const ctx: PluginContext = { datastore, logger, random: Math.random, now: Date.now, metrics };
  const config = loadEndpointPickerConfig(opts.configText, builtinRegistry(), ctx);

  let k8s: KubernetesMode | undefined;
  let endpointsFile: EndpointsFileWatcher | undefined;
  if (opts.staticEndpoints?.length && opts.endpointsFile) throw new TokenrouteError(ERRORS.CLI_CONFLICTING_FLAGS, '--static-endpoints cannot be combined with --endpoints-file');
  // Standalone mode (a static list or an endpoints file) may still name its pool with --pool-name,
  // for the metrics' `name` label, as GIE's standalone mode does; Kubernetes mode is a pool name
  // (or an endpoint selector) without a standalone source.
  const standalone = Boolean(opts.staticEndpoints?.length || opts.endpointsFile);
  if (standalone && opts.kubernetes?.endpointSelector) {
    throw new TokenrouteError(ERRORS.CLI_CONFLICTING_FLAGS, '--static-endpoints / --endpoints-file cannot be combined with --endpoint-selector');
  }
  if (!standalone && (opts.poolName || opts.kubernetes?.endpointSelector)) {
    // Loaded here, not at the top: @kubernetes/client-node's generated models cost ~70 MiB of
    // resident memory, which a standalone EPP (static list, endpoints file) never uses.
    const { startKubernetesMode } = await import('./k8s/mode.js');
    k8s = await startKubernetesMode({
      ...opts.kubernetes,
      poolName: opts.poolName,
      poolNamespace: opts.poolNamespace,
      defaultEngine: opts.staticEngine ?? '',
      datastore,
      logger,
      registry: metrics.registry,
    });
  } else if (opts.endpointsFile) {
    endpointsFile = await followEndpointsFile(opts.endpointsFile, datastore, metrics, logger, { engine: opts.staticEngine, namespace: opts.poolNamespace });
  } else {
    if (!opts.staticEndpoints || opts.staticEndpoints.length === 0) {
      throw new TokenrouteError(ERRORS.STARTUP_NO_ENDPOINT_SOURCE, 'no endpoint source: give --static-endpoints host:port,... or --endpoints-file (standalone mode), --pool-name or --endpoint-selector (Kubernetes mode)');
    }
    datastore.setEndpoints(staticEndpoints(opts.staticEndpoints, opts.staticEngine, opts.poolNamespace));
    datastore.markSynced();
  }

  const director = configuredDirector(config, { datastore, metrics, logger, disableSubsetFilter: opts.disableEndpointSubsetFilter, poolName: opts.poolName });

  // Plugins with background work (e.g. the KV-event subscriber of precise-prefix-cache-scorer).
  registerPrefixIndexMetrics(metrics, config.plugins.values());
  const lifecycle: LifecyclePlugin[] = [...config.plugins.values()].filter(isLifecyclePlugin);
  const stopPlugins = () => Promise.all(lifecycle.map((p) => p.close().catch((err) => logger.warn({ plugin: p.name, err }, 'plugin close failed'))));
  try {
    for (const p of lifecycle) await startPlugin(p);
  } catch (err) {
    await stopPlugins();
    await k8s?.close();
    endpointsFile?.close();
    throw err;
  }

  const collector = metricsCollectorFor(config, opts, datastore, logger, metrics);
  collector?.start();

  let grpc: EppGrpcServers | undefined;
  let metricsServer: Server | undefined;
  try {
    grpc = await startEppGrpcServers({
      controller: director,
      grpcPort: opts.grpcPort,
      healthPort: opts.grpcHealthPort,
      host: opts.host,
      secureServing: opts.secureServing,
      certPath: opts.certPath,
      certReload: opts.enableCertReload,
      healthOnGrpcPort: opts.healthChecking,
      isReady: () => (k8s ? k8s.isReady() : datastore.isSynced()),
      logger,
      metrics,
      keepaliveTimeMs: opts.grpcKeepaliveTimeMs,
      extproc: {
        maxRequestBodyBytes: opts.maxRequestBodyBytes,
        ...(opts.streamIdleTimeoutMs !== undefined ? { streamIdleTimeoutMs: opts.streamIdleTimeoutMs } : {}),
        ...(opts.maxRequestBodyMessages !== undefined ? { maxRequestBodyMessages: opts.maxRequestBodyMessages } : {}),
      },
    });
    metricsServer = opts.metricsPort >= 0 ? await serveMetrics(metrics, opts.metricsPort, opts.host) : undefined;
  } catch (err) {
    await collector?.stop();
    await stopPlugins();
    await grpc?.close({ graceMs: 0 });
    await k8s?.close();
    endpointsFile?.close();
    throw err;
  }
  k8s?.events.on('readiness', () => grpc?.health.refresh());
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : -1;
  logger.info(
    { grpcPort: grpc.grpcPort, grpcHealthPort: grpc.healthPort, metricsPort, tls: grpc.tlsMode, endpoints: datastore.size() },
    'tokenroute EPP serving',
  );

  let closing: Promise<void> | undefined;
  return {
    grpcPort: grpc.grpcPort,
    grpcHealthPort: grpc.healthPort,
    metricsPort,
    datastore,
    config,
    metrics,
    kubernetes: k8s,
    close() {
      closing ??= (async () => {
        // Release the lease first so a follower takes over while this replica drains; requests
        // waiting in flow control are answered (rejected-shutting-down) before the streams drain.
        await k8s?.close();
        endpointsFile?.close();
        director.close();
        await grpc!.close();
        await collector?.stop();
        await stopPlugins();
        await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      })();
      return closing;
    },
  };
}

/** The collector for the config's metrics data source, or undefined when collection is off. */
function metricsCollectorFor(config: LoadedConfig, opts: EppOptions, datastore: Datastore, logger: Logger, metrics: EppMetrics): MetricsCollector | undefined {
  const sources = (config.dataLayer?.sources ?? []).filter((s) => isMetricsDataSource(s.plugin));
  if (sources.length === 0) {
    logger.warn('dataLayer has no metrics-data-source: model-server metrics are not collected');
    return undefined;
  }
  if (sources.length > 1) logger.warn(`dataLayer: ${sources.length} metrics-data-source entries; only the first is used`);
  const source = sources[0];
  const extractor = source.extractors.find(isCoreMetricsExtractor);
  return new MetricsCollector({
    datastore,
    source: (source.plugin as MetricsDataSourcePlugin).config,
    extractor: extractor?.selection,
    interval: opts.refreshMetricsIntervalMs,
    refreshPrometheusMetricsInterval: opts.refreshPrometheusMetricsIntervalMs,
    metricsStalenessThreshold: opts.metricsStalenessThresholdMs,
    workers: opts.scrapeWorkers,
    poolName: opts.poolName ?? 'standalone',
    logger,
    metrics,
  });
}

/**
 * Standalone mode with a watched endpoints file: the first version must be valid (else the EPP
 * does not start); later invalid versions are refused with the field named and the pool kept.
 * Counted in tokenroute_endpoints_file_reloads_total{outcome}.
 */
async function followEndpointsFile(
  path: string,
  datastore: Datastore,
  metrics: EppMetrics,
  logger: Logger,
  defaults: { engine?: string; namespace?: string },
): Promise<EndpointsFileWatcher> {
  const reloads = metrics.counter('tokenroute_endpoints_file_reloads_total', 'Versions of --endpoints-file read, by outcome (applied, invalid).', ['outcome']);
  const log = logger.child({ component: 'endpoints-file', path });
  const { first, watcher } = await watchEndpointsFile(path, {
    ...defaults,
    onEndpoints(endpoints) {
      datastore.setEndpoints(endpoints);
      reloads.inc({ outcome: 'applied' });
      log.info({ endpoints: endpoints.length }, 'endpoints file reloaded');
    },
    onInvalid(errors) {
      reloads.inc({ outcome: 'invalid' });
      log.warn({ code: ERRORS.STARTUP_ENDPOINTS_FILE.code, errors }, 'endpoints file refused; keeping the previous endpoints');
    },
  });
  if (!first.ok) {
    watcher.close();
    throw new TokenrouteError(ERRORS.STARTUP_ENDPOINTS_FILE, `${path}: ${first.errors.join('; ')}`);
  }
  datastore.setEndpoints(first.endpoints);
  datastore.markSynced();
  reloads.inc({ outcome: 'applied' });
  return watcher;
}

/**
 * The scheduler and director a loaded config describes, wired as the running EPP wires them:
 * PrepareData plugins in producer order, PreRequest and lifecycle plugins from the config, route-
 * selected profiles. startEpp, the benchmarks and the tests build the request path with this one
 * function, so none of them can leave a step out.
 */
export function configuredDirector(
  config: LoadedConfig,
  deps: { datastore: Datastore; metrics: EppMetrics; logger: Logger; disableSubsetFilter?: boolean; saturationDetector?: SaturationDetector; poolName?: string },
): Director {
  const { datastore, metrics, logger } = deps;
  const flowMetrics = config.flowControl ? metrics.flowControl(deps.poolName ?? 'standalone') : undefined;
  const flowController = config.flowControl
    ? new FlowController(
        { ...config.flowControl, recheckMs: SATURATION_RECHECK_MS },
        {
          candidates: () => datastore.candidates(),
          now: Date.now,
          observer: flowMetrics,
          onError: (err) => logger.error({ err, component: 'flow-control' }, 'flow-control dispatch cycle failed; requests keep waiting, retried shortly'),
        },
      )
    : undefined;
  if (flowController) flowMetrics?.watchCapacity(() => flowController.capacityUse());
  return new Director({
    flowController,
    datastore,
    parser: config.parser,
    scheduler: new Scheduler({ profiles: config.profiles, profileHandler: config.profileHandler, logger, metrics }),
    prepareData: config.prepareData,
    preRequest: [...config.plugins.values()].filter(isPreRequestPlugin),
    lifecycle: requestLifecycle({ datastore, metrics, saturationDetector: deps.saturationDetector ?? config.saturationDetector, flowController, logger }, config.plugins.values()),
    selectProfile: profileSelector({ routes: config.profileSelection.routes, profiles: new Set(config.profiles.keys()) }),
    disableSubsetFilter: deps.disableSubsetFilter ?? false,
    metrics,
    logger: logger.child({ component: 'director' }),
  });
}

/** Starts a plugin's background work; a failure names the plugin and carries its code. */
async function startPlugin(plugin: LifecyclePlugin): Promise<void> {
  try {
    await plugin.start();
  } catch (err) {
    throw new TokenrouteError(ERRORS.STARTUP_PLUGIN, `plugin ${JSON.stringify(plugin.name)} (type ${plugin.type}) did not start: ${(err as Error).message}`, { cause: err });
  }
}

async function serveMetrics(metrics: EppMetrics, port: number, host: string | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`metrics: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TokenrouteError(ERRORS.STARTUP_LISTEN, `metrics port ${port}: ${err.message}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  return server;
}
