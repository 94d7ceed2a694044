// The EPP's Prometheus metrics under GIE's names (GIE `pkg/epp/metrics/metrics.go`, v1.5.0), so
// dashboards and HPA rules written for the Go EPP keep working, plus tokenroute_* extras.
// One registry per EPP instance (tests run several in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';
import { FlowControlMetrics } from './flow-control-metrics.js';
import { DEFAULT_LABEL_BOUNDS, LabelDomain, type LabelBounds } from './label-bounds.js';
import type { PluginCounter, PluginHistogram, PluginMetrics } from '../framework/registry.js';

const MODEL_LABELS = ['model_name', 'target_model_name'] as const;

// GIE: 100 µs – 100 ms for the scheduler; plugin durations use the same scale.
const SCHEDULER_BUCKETS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1];
const REQUEST_DURATION_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];
const SIZE_BUCKETS = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216];
const TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32778, 65536, 131072, 262144, 524288, 1048576];

export class EppMetrics implements PluginMetrics {
  readonly registry = new Registry();
  /** Counters plugins registered by name (PluginMetrics). */
  private readonly pluginCounters = new Map<string, Counter<string>>();
  private readonly pluginHistograms = new Map<string, FastHistogram>();
  private readonly pluginGauges = new Map<string, { gauge: Gauge<string>; readers: Set<Parameters<PluginMetrics['gauge']>[3]> }>();

  readonly requestTotal = new Counter({
    name: 'inference_objective_request_total',
    help: 'Counter of inference objective requests broken out for each model and target model.',
    labelNames: [...MODEL_LABELS, 'priority'],
    registers: [this.registry],
  });
  readonly requestErrorTotal = new Counter({
    name: 'inference_objective_request_error_total',
    help: 'Counter of inference objective requests errors broken out for each model and target model.',
    labelNames: [...MODEL_LABELS, 'error_code'],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'inference_objective_request_duration_seconds',
    help: 'Inference objective response latency distribution in seconds for each model and target model.',
    labelNames: MODEL_LABELS,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly requestSizes = new Histogram({
    name: 'inference_objective_request_sizes',
    help: 'Inference objective requests size distribution in bytes for each model and target model.',
    labelNames: MODEL_LABELS,
    buckets: SIZE_BUCKETS,
    registers: [this.registry],
  });
  readonly responseSizes = new Histogram({
    name: 'inference_objective_response_sizes',
    help: 'Inference objective responses size distribution in bytes for each model and target model.',
    labelNames: MODEL_LABELS,
    buckets: SIZE_BUCKETS,
    registers: [this.registry],
  });
  readonly inputTokens = new Histogram({
    name: 'inference_objective_input_tokens',
    help: 'Inference objective input token count distribution for requests in each model.',
    labelNames: MODEL_LABELS,
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });
  readonly outputTokens = new Histogram({
    name: 'inference_objective_output_tokens',
    help: 'Inference objective output token count distribution for requests in each model.',
    labelNames: MODEL_LABELS,
    buckets: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
    registers: [this.registry],
  });
  readonly promptCachedTokens = new Histogram({
    name: 'inference_objective_prompt_cached_tokens',
    help: 'Inference objective prompt cached token count distribution for requests in each model.',
    labelNames: MODEL_LABELS,
    buckets: TOKEN_BUCKETS,
    registers: [this.registry],
  });
  readonly normalizedTimePerOutputToken = new Histogram({
    name: 'inference_objective_normalized_time_per_output_token_seconds',
    help: 'Inference objective latency divided by number of output tokens in seconds for each model and target model.',
    labelNames: MODEL_LABELS,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly runningRequests = new Gauge({
    name: 'inference_objective_running_requests',
    help: 'Inference objective number of running requests in each model.',
    labelNames: ['model_name'],
    registers: [this.registry],
  });
  readonly poolAverageKvCache = new Gauge({
    name: 'inference_pool_average_kv_cache_utilization',
    help: 'The average kv cache utilization for an inference server pool.',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly poolAverageQueue = new Gauge({
    name: 'inference_pool_average_queue_size',
    help: 'The average number of requests pending in the model server queue.',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly poolAverageRunning = new Gauge({
    name: 'inference_pool_average_running_requests',
    help: 'The average number of requests currently being processed by the model servers.',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly poolReadyPods = new Gauge({
    name: 'inference_pool_ready_pods',
    help: 'The number of ready pods in the inference server pool.',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly poolPerPodQueue = new Gauge({
    name: 'inference_pool_per_pod_queue_size',
    help: 'The total number of requests pending in the model server queue for each underlying pod.',
    labelNames: ['name', 'model_server_pod'],
    registers: [this.registry],
  });
  // Observed on every decision: FastHistogram, not prom-client's Histogram (see fast-histogram.ts).
  readonly schedulerE2e = new FastHistogram(
    'inference_extension_scheduler_e2e_duration_seconds',
    'End-to-end scheduling latency distribution in seconds.',
    [],
    SCHEDULER_BUCKETS,
    this.registry,
  );
  readonly schedulerAttempts = new Counter({
    name: 'inference_extension_scheduler_attempts_total',
    help: 'Total number of scheduling attempts.',
    labelNames: ['status', 'target_model_name', 'pod_name', 'namespace', 'port'],
    registers: [this.registry],
  });
  readonly pluginDuration = new FastHistogram(
    'inference_extension_plugin_duration_seconds',
    'Plugin processing latency distribution in seconds for each extension point, plugin type and plugin name.',
    ['extension_point', 'plugin_type', 'plugin_name'],
    SCHEDULER_BUCKETS,
    this.registry,
  );
  /** Per scheduling profile (P/D: the prefill, decode and encode stages each their own). */
  readonly profileDuration = new FastHistogram(
    'tokenroute_scheduler_profile_duration_seconds',
    'Latency of one scheduling profile run (filters, scorers, picker) in seconds, per profile: the stages of a disaggregated decision separately.',
    ['profile'],
    SCHEDULER_BUCKETS,
    this.registry,
  );
  readonly modelRewriteDecisions = new Counter({
    name: 'inference_extension_model_rewrite_decisions_total',
    help: 'Total number of model rewrite decisions.',
    labelNames: ['model_rewrite_name', 'model_name', 'target_model'],
    registers: [this.registry],
  });
  readonly info = new Gauge({
    name: 'inference_extension_info',
    help: 'General information of the current build of Inference Extension.',
    labelNames: ['commit', 'build_ref'],
    registers: [this.registry],
  });

  // tokenroute-specific.
  readonly scrapeErrors = new Counter({
    name: 'tokenroute_metrics_scrape_errors_total',
    help: 'Model-server /metrics scrapes that failed, by endpoint and reason.',
    labelNames: ['endpoint', 'reason'],
    registers: [this.registry],
  });
  readonly extprocStreams = new Counter({
    name: 'tokenroute_extproc_streams_total',
    help: 'ext_proc streams by how they ended (complete, cancelled, error, rejected).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  readonly labelValuesFolded = new Counter({
    name: 'tokenroute_metric_label_values_folded_total',
    help: 'Label values reported as "other" because their domain was full (--metrics-max-label-values) or the value too long (--metrics-max-label-length).',
    labelNames: ['domain'],
    registers: [this.registry],
  });
  readonly headerDecisions = new Counter({
    name: 'tokenroute_request_header_decisions_total',
    help: 'Requests decided at their headers from the edge filter\'s verified headers; their bodies streamed through the EPP unread.',
    registers: [this.registry],
  });
  readonly limitRejections = new Counter({
    name: 'tokenroute_request_limit_rejections_total',
    help: 'Requests rejected because a field exceeded its configured limit (model_name_bytes, cache_salt_bytes, ...).',
    labelNames: ['limit'],
    registers: [this.registry],
  });

  /** Model names as label values (model_name, target_model_name, target_model), bounded. */
  private readonly models: LabelDomain;
  /** Upstream status codes as error_code label values, bounded. */
  private readonly errorCodes: LabelDomain;
  /** Flow control's fairness ids (a client header) as label values, bounded. */
  private readonly fairnessIds: LabelDomain;
  private flowControlSeries: FlowControlMetrics | undefined;

  constructor(opts: { defaultMetrics?: boolean; commit?: string; buildRef?: string; labelBounds?: LabelBounds } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.info.set({ commit: opts.commit ?? 'unknown', build_ref: opts.buildRef ?? 'unknown' }, 1);
    const bounds = opts.labelBounds ?? DEFAULT_LABEL_BOUNDS;
    const folded = (domain: string) => this.labelValuesFolded.inc({ domain });
    this.models = new LabelDomain('model', bounds, folded);
    this.errorCodes = new LabelDomain('error_code', bounds, folded);
    this.fairnessIds = new LabelDomain('fairness_id', bounds, folded);
    const domains = [this.models, this.errorCodes, this.fairnessIds];
    new Gauge({
      name: 'tokenroute_metric_label_values',
      help: 'Distinct label values admitted per bounded domain (at most --metrics-max-label-values).',
      labelNames: ['domain'],
      registers: [this.registry],
      collect() {
        for (const d of domains) this.set({ domain: d.name }, d.size);
      },
    });
  }

  /** A counter for a plugin, registered on first use and shared by name (PluginMetrics). */
  counter(name: string, help: string, labelNames: readonly string[]): PluginCounter {
    let c = this.pluginCounters.get(name);
    if (!c) {
      c = new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
      this.pluginCounters.set(name, c);
    }
    return c;
  }

  /** A scrape-time gauge for plugins (PluginMetrics): one Gauge per name, any number of readers. */
  gauge(name: string, help: string, labelNames: readonly string[], read: (set: (labels: Readonly<Record<string, string>>, value: number) => void) => void): () => void {
    let g = this.pluginGauges.get(name);
    if (!g) {
      const readers = new Set<typeof read>();
      const gauge: Gauge<string> = new Gauge({
        name, help, labelNames: [...labelNames], registers: [this.registry],
        collect() {
          gauge.reset();
          for (const r of readers) r((labels, value) => gauge.set(labels, value));
        },
      });
      g = { gauge, readers };
      this.pluginGauges.set(name, g);
    }
    const readers = g.readers;
    readers.add(read);
    return () => readers.delete(read);
  }

  /** An unlabelled hot-path histogram for a plugin, registered on first use and shared by name. */
  histogram(name: string, help: string, buckets: readonly number[]): PluginHistogram {
    let h = this.pluginHistograms.get(name);
    if (!h) {
      h = new FastHistogram(name, help, [], buckets, this.registry);
      this.pluginHistograms.set(name, h);
    }
    return h;
  }

  /** Flow control's series (registered when flow control is turned on). */
  flowControl(pool: string): FlowControlMetrics {
    return (this.flowControlSeries ??= new FlowControlMetrics(this.registry, this.fairnessIds, pool));
  }

  /** A model name as a label value: itself while its domain has room, else "other". */
  modelLabel(model: string): string {
    return this.models.value(model);
  }

  /** An error code (GIE's names or an upstream status) as a label value, bounded like models. */
  errorCodeLabel(code: string): string {
    return this.errorCodes.value(code);
  }
}
