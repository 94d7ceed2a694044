// `tokenroute epp`: the Endpoint Picker's flags, named as the Go EPP names them where the meaning
// is the same (GIE `cmd/epp/runner/options.go` / `runner.go` flags, v1.5.0), turned into EppOptions.
import { DEFAULT_LABEL_BOUNDS } from '../epp/src/observability/label-bounds.js';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { boolFlag, duration, nonNegativeInt, positiveInt } from './flags.js';
import { parseStaticEndpointList } from '../epp/src/datastore/static-endpoints.js';
import { LOG_LEVELS, type LogLevel } from '../epp/src/observability/logger.js';
import type { EppOptions } from '../epp/src/main.js';
import { parseEndpointSelector, parseTargetPorts } from '../epp/src/k8s/pool.js';
import { DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS } from '../epp/src/k8s/lease-timing.js';

function port(allowOff: boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < (allowOff ? -1 : 0) || n > 65535) {
      throw new InvalidArgumentError(`expected a port number 0-65535${allowOff ? ' (or -1 to disable)' : ''}`);
    }
    return n;
  };
}

/** A duration where "0" turns the feature off. */
function durationOrZero(value: string): number {
  return value.trim() === '0' ? 0 : duration(value);
}

/** GIE's --v verbosity: 1-3 info, 4 debug, 5+ trace. */
function verbosity(value: string): LogLevel {
  const n = nonNegativeInt(value);
  return n >= 5 ? 'trace' : n >= 4 ? 'debug' : 'info';
}

export interface EppCommandResult {
  options: EppOptions;
}

export function eppCommand(run: (opts: EppOptions) => Promise<void>): Command {
  return new Command('epp')
    .description('Run the Endpoint Picker: an Envoy ext_proc gRPC service implementing the Gateway API Inference Extension protocol')
    .option('--grpc-port <port>', 'ext_proc gRPC port', port(false), 9002)
    .option('--grpc-health-port <port>', 'gRPC health service port (liveness, readiness, ext_proc service name)', port(false), 9003)
    .option('--metrics-port <port>', 'Prometheus /metrics port (-1 disables)', port(true), 9090)
    .option('--host <address>', 'address to bind (default: all interfaces)')
    .addOption(new Option('--config-file <path>', 'EndpointPickerConfig YAML file').conflicts('configText'))
    .addOption(new Option('--config-text <yaml>', 'EndpointPickerConfig YAML inline').conflicts('configFile'))
    .option('--secure-serving [bool]', 'serve ext_proc over TLS (self-signed unless --cert-path)', boolFlag, true)
    .option('--cert-path <dir>', 'directory holding tls.crt and tls.key')
    .option('--enable-cert-reload [bool]', 'reload --cert-path files when they change', boolFlag, false)
    .option('--health-checking [bool]', 'also serve the gRPC health service on the ext_proc port', boolFlag, false)
    .option('--pool-name <name>', 'InferencePool to serve (Kubernetes mode)')
    .option('--pool-namespace <ns>', 'namespace of the InferencePool (default: $NAMESPACE or "default")', process.env.NAMESPACE || 'default')
    .option('--pool-group <group>', 'API group of the InferencePool (version v1)', 'inference.networking.k8s.io')
    .addOption(new Option('--endpoint-selector <labels>', 'Kubernetes mode without CRDs: select model-server pods by k=v,... in --pool-namespace').conflicts('poolName'))
    .option('--endpoint-target-ports <ports>', 'with --endpoint-selector: 1-8 comma-separated model-server ports')
    .option('--kubeconfig <path>', 'kubeconfig for Kubernetes mode (default: $KUBECONFIG, else in-cluster)')
    .option('--ha-enable-leader-election [bool]', 'active-passive HA: compete for the pool\'s Lease; only the leader reports ready', boolFlag, false)
    .option('--leader-election-lease-duration <duration>', 'Lease duration: a follower takes over this long after the leader\'s last renewal', duration, DEFAULT_LEASE_DURATION_MS)
    .option('--leader-election-renew-deadline <duration>', 'the leader steps down if it cannot renew for this long', duration, DEFAULT_RENEW_DEADLINE_MS)
    .option('--leader-election-retry-period <duration>', 'interval of Lease renewals and acquisition attempts', duration, DEFAULT_RETRY_PERIOD_MS)
    .option('--endpoint-picker-service <name>', 'the Service in front of this EPP: pools whose endpointPickerRef names another Service are reported')
    .option('--static-endpoints <list>', 'standalone mode: the pool as host:port,host:port (IPv6 as [addr]:port)')
    .option('--endpoints-file <path>', 'standalone mode: a YAML file of endpoints with labels (endpoints: [{address, port, labels, engine, name}]), watched and reloaded on change')
    .option('--static-engine <engine>', 'model-server engine of --static-endpoints (vllm, sglang, trtllm-serve, triton-tensorrt-llm); default: the core-metrics-extractor\'s defaultEngine')
    .option('--disable-endpoint-subset-filter [bool]', 'ignore the proxy\'s envoy.lb.subset_hint', boolFlag, false)
    .addOption(new Option('--refresh-metrics-interval <duration>', 'model-server metrics scrape interval').argParser(duration).default(50, '50ms'))
    .addOption(new Option('--refresh-prometheus-metrics-interval <duration>', 'pool gauge refresh interval').argParser(duration).default(5000, '5s'))
    .addOption(new Option('--metrics-staleness-threshold <duration>', 'metrics older than this are not averaged into pool gauges').argParser(duration).default(2000, '2s'))
    .option('--scrape-workers <n>', 'worker threads that scrape and parse model-server metrics', positiveInt, 1)
    .option('--max-request-body-bytes <n>', 'largest request body accepted (larger → 400)', positiveInt, 64 * 1024 * 1024)
    .option('--max-request-body-messages <n>', 'most ext_proc messages one request body may arrive in (more → 400)', positiveInt, 16_384)
    .addOption(new Option('--stream-idle-timeout <duration>', 'close an ext_proc stream the proxy sent nothing on for this long, releasing its request (0 disables)').argParser(durationOrZero).default(600_000, '10m'))
    .addOption(new Option('--grpc-keepalive-time <duration>', 'ping each proxy connection this often; a peer that does not answer within 20 s is dropped with its streams (0 disables)').argParser(durationOrZero).default(30_000, '30s'))
    .option('--metrics-max-label-values <n>', 'distinct values a client-chosen metric label (model_name, error_code) may take; the rest are reported as "other"', positiveInt, DEFAULT_LABEL_BOUNDS.maxValues)
    .option('--metrics-max-label-length <n>', 'longest value such a label may take; longer ones are reported as "other"', positiveInt, DEFAULT_LABEL_BOUNDS.maxLength)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .option('--v <n>', 'GIE-compatible verbosity (4 = debug with decision traces, 5 = trace); overrides --log-level', verbosity)
    .action(async (flags: Record<string, unknown>) => {
      const configText = flags.configFile ? readConfigFile(String(flags.configFile)) : (flags.configText as string | undefined);
      await run({
        grpcPort: flags.grpcPort as number,
        grpcHealthPort: flags.grpcHealthPort as number,
        metricsPort: flags.metricsPort as number,
        host: flags.host as string | undefined,
        configText,
        secureServing: flags.secureServing as boolean,
        certPath: flags.certPath as string | undefined,
        enableCertReload: flags.enableCertReload as boolean,
        healthChecking: flags.healthChecking as boolean,
        poolName: flags.poolName as string | undefined,
        poolNamespace: flags.poolNamespace as string,
        kubernetes: {
          poolGroup: flags.poolGroup as string,
          endpointSelector: flags.endpointSelector ? kubeFlag(() => parseEndpointSelector(String(flags.endpointSelector))) : undefined,
          endpointTargetPorts: flags.endpointTargetPorts ? kubeFlag(() => parseTargetPorts(String(flags.endpointTargetPorts))) : undefined,
          kubeconfigPath: flags.kubeconfig as string | undefined,
          leaderElection: flags.haEnableLeaderElection as boolean,
          leaseDurationMs: flags.leaderElectionLeaseDuration as number,
          renewDeadlineMs: flags.leaderElectionRenewDeadline as number,
          retryPeriodMs: flags.leaderElectionRetryPeriod as number,
          eppServiceName: flags.endpointPickerService as string | undefined,
        },
        staticEndpoints: flags.staticEndpoints ? parseStaticEndpointList(String(flags.staticEndpoints)) : undefined,
        endpointsFile: flags.endpointsFile as string | undefined,
        staticEngine: flags.staticEngine as string | undefined,
        disableEndpointSubsetFilter: flags.disableEndpointSubsetFilter as boolean,
        refreshMetricsIntervalMs: flags.refreshMetricsInterval as number,
        refreshPrometheusMetricsIntervalMs: flags.refreshPrometheusMetricsInterval as number,
        metricsStalenessThresholdMs: flags.metricsStalenessThreshold as number,
        scrapeWorkers: flags.scrapeWorkers as number,
        maxRequestBodyBytes: flags.maxRequestBodyBytes as number,
        streamIdleTimeoutMs: flags.streamIdleTimeout as number,
        maxRequestBodyMessages: flags.maxRequestBodyMessages as number,
        grpcKeepaliveTimeMs: flags.grpcKeepaliveTime as number,
        labelBounds: { maxValues: flags.metricsMaxLabelValues as number, maxLength: flags.metricsMaxLabelLength as number },
        logLevel: (flags.v as LogLevel | undefined) ?? (flags.logLevel as LogLevel),
      });
    });
}

/** Runs a Kubernetes-flag parser, turning its error into a usage error. */
function kubeFlag<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`--config-file ${path}: ${(err as Error).message}`);
  }
}
