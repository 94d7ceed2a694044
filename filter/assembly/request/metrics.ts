// The filter's metrics (proxy_define_metric; Envoy prefixes them with `wasmcustom.`) and its
// rate-limited warning log. Metric ids are per VM, so they are defined once per VM, from
// proxy_on_vm_start — never from module start-up code, where Envoy only allows logging, clock and
// random calls (cpp-host WasmBase::startVm restricted callbacks).
import { defineMetric, incrementMetric, log, monotonicNanos, recordMetric } from '../abi/host';
import { LogLevel, MetricType } from '../abi/types';
import { ERROR_KIND_COUNT, ErrorKind, errorName } from './errors';

export class Metrics {
  /** Requests seen by the filter. */
  requests: u32 = u32.MAX_VALUE;
  /** Requests that were not tokenizable (method, path, no body): passed on untouched. */
  skipped: u32 = u32.MAX_VALUE;
  /** Requests whose block keys were added. */
  tokenized: u32 = u32.MAX_VALUE;
  exact: u32 = u32.MAX_VALUE;
  approximate: u32 = u32.MAX_VALUE;
  /** Sum of prompt tokens over tokenized requests. */
  tokens: u32 = u32.MAX_VALUE;
  /** Requests that failed (all kinds), and per kind. */
  errors: u32 = u32.MAX_VALUE;
  errorsByKind: StaticArray<u32> = new StaticArray<u32>(ERROR_KIND_COUNT);
  /** Failed requests answered with a local reply (onError: reject). */
  rejected: u32 = u32.MAX_VALUE;
  /** Client-sent x-tokenroute-* headers removed. */
  clientHeadersRemoved: u32 = u32.MAX_VALUE;
  /** Time spent reading, tokenizing and hashing one body, in microseconds. */
  timeUs: u32 = u32.MAX_VALUE;
  /** Total of timeUs (a counter, for rates). */
  timeUsTotal: u32 = u32.MAX_VALUE;
  /** Long prompt segments whose token ids were remembered (a shared prefix tokenized once) or not. */
  tokenCacheHits: u32 = u32.MAX_VALUE;
  tokenCacheMisses: u32 = u32.MAX_VALUE;

  constructor() {
    for (let k = 0; k < ERROR_KIND_COUNT; k++) this.errorsByKind[k] = u32.MAX_VALUE;
  }

  define(): void {
    this.requests = defineMetric(MetricType.Counter, 'tokenroute_requests');
    this.skipped = defineMetric(MetricType.Counter, 'tokenroute_skipped');
    this.tokenized = defineMetric(MetricType.Counter, 'tokenroute_tokenized');
    this.exact = defineMetric(MetricType.Counter, 'tokenroute_exact');
    this.approximate = defineMetric(MetricType.Counter, 'tokenroute_approximate');
    this.tokens = defineMetric(MetricType.Counter, 'tokenroute_tokens');
    this.errors = defineMetric(MetricType.Counter, 'tokenroute_errors');
    for (let k = 1; k < ERROR_KIND_COUNT; k++) {
      this.errorsByKind[k] = defineMetric(MetricType.Counter, 'tokenroute_errors_' + errorName(<ErrorKind>k));
    }
    this.rejected = defineMetric(MetricType.Counter, 'tokenroute_rejected');
    this.clientHeadersRemoved = defineMetric(MetricType.Counter, 'tokenroute_client_headers_removed');
    this.timeUs = defineMetric(MetricType.Histogram, 'tokenroute_filter_time_us');
    this.timeUsTotal = defineMetric(MetricType.Counter, 'tokenroute_filter_time_us_total');
    this.tokenCacheHits = defineMetric(MetricType.Counter, 'tokenroute_token_cache_hits');
    this.tokenCacheMisses = defineMetric(MetricType.Counter, 'tokenroute_token_cache_misses');
  }

  error(kind: ErrorKind): void {
    incrementMetric(this.errors, 1);
    if (<i32>kind > 0 && <i32>kind < ERROR_KIND_COUNT) incrementMetric(this.errorsByKind[<i32>kind], 1);
  }

  time(us: u64): void {
    recordMetric(this.timeUs, us);
    incrementMetric(this.timeUsTotal, <i64>us);
  }
}

export const metrics = new Metrics();
let defined = false;

/** Defines the metrics once per VM. */
export function defineMetricsOnce(): void {
  if (defined) return;
  defined = true;
  metrics.define();
}

// ---- warning log, at most WARN_BURST lines per WARN_WINDOW ---------------------------------------

const WARN_BURST: i32 = 20;
const WARN_WINDOW_NS: u64 = 10_000_000_000;
let windowStart: u64 = 0;
let inWindow: i32 = 0;
let suppressed: i32 = 0;

/** Logs one warning line unless this VM already logged WARN_BURST lines in the current window. */
export function warn(message: string): void {
  const now = monotonicNanos();
  if (now - windowStart >= WARN_WINDOW_NS || now < windowStart) {
    windowStart = now;
    inWindow = 0;
  }
  if (inWindow >= WARN_BURST) {
    suppressed++;
    return;
  }
  inWindow++;
  if (suppressed > 0) {
    log(LogLevel.Warn, `tokenroute: ${message} (${suppressed} similar lines suppressed before this one)`);
    suppressed = 0;
  } else {
    log(LogLevel.Warn, `tokenroute: ${message}`);
  }
}
