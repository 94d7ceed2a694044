// Flow control's metrics under GIE's names (GIE `pkg/epp/metrics/metrics.go`, "Flow Control
// Metrics"; llm-d's router exports the same series under its own prefix): time in the queue by
// outcome, queue size and bytes by flow, pool saturation as dispatch read it; plus a counter of
// outcomes. fairness_id is client-chosen (a header), so its label values are bounded like model
// names (--metrics-max-label-values; the rest fold into "other").
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FlowControlObserver, FlowKey, FlowOutcome } from '../framework/flow-control.js';
import { FastHistogram } from './fast-histogram.js';
import type { LabelDomain } from './label-bounds.js';

// GIE's buckets for the queue duration: 100 µs to 60 s.
const QUEUE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class FlowControlMetrics implements FlowControlObserver {
  private readonly pool: string;
  private readonly queueDuration: FastHistogram;
  private readonly outcomes: Counter<string>;
  private readonly queueSize: Gauge<string>;
  private readonly queueBytes: Gauge<string>;
  private readonly poolSaturation: Gauge<string>;
  private readonly forEndpoints: Gauge<string>;
  private readonly evictions: Counter<string>;
  private readonly capacity: Gauge<string> & { collect?: () => void };
  /** Tokens dispatched from the queue per priority, per flow, since the last scrape. */
  private readonly served = new Map<number, Map<string, number>>();

  constructor(
    registry: Registry,
    private readonly fairnessIds: LabelDomain,
    pool: string,
  ) {
    this.pool = pool;
    this.queueDuration = new FastHistogram(
      'inference_extension_flow_control_request_queue_duration_seconds',
      'Distribution of the total time requests spend in the EPP flow control layer, from enqueue to a final outcome.',
      ['fairness_id', 'priority', 'outcome', 'inference_pool'],
      QUEUE_BUCKETS,
      registry,
    );
    this.outcomes = new Counter({
      name: 'inference_extension_flow_control_requests_total',
      help: 'Requests that left the flow control layer, by outcome (Dispatched, RejectedCapacity, EvictedTTL, ...) and priority.',
      labelNames: ['outcome', 'priority', 'inference_pool'],
      registers: [registry],
    });
    this.queueSize = new Gauge({
      name: 'inference_extension_flow_control_queue_size',
      help: 'Current number of requests waiting in the flow control layer.',
      labelNames: ['fairness_id', 'priority', 'inference_pool'],
      registers: [registry],
    });
    this.queueBytes = new Gauge({
      name: 'inference_extension_flow_control_queue_bytes',
      help: 'Current size in bytes of the requests waiting in the flow control layer.',
      labelNames: ['fairness_id', 'priority', 'inference_pool'],
      registers: [registry],
    });
    this.capacity = new Gauge({
      name: 'tokenroute_flow_control_capacity_utilization',
      help: "How full flow control's queue is against its limits: the larger of waiting requests / maxRequests and bytes / maxBytes, per priority band ('all' = the global limits).",
      labelNames: ['priority', 'inference_pool'],
      registers: [registry],
    });
    this.evictions = new Counter({
      name: 'tokenroute_flow_control_evictions_total',
      help: 'Running sheddable requests ended by flow control (enableEviction) to reclaim capacity for a higher priority, by the evicted priority.',
      labelNames: ['priority', 'inference_pool'],
      registers: [registry],
    });
    this.forEndpoints = new Gauge({
      name: 'tokenroute_flow_control_waiting_for_endpoints',
      help: 'Requests waiting in flow control for the pool to have any endpoint (scale from zero; bounded by noEndpointRequestTTL).',
      labelNames: ['inference_pool'],
      registers: [registry],
    });
    const served = this.served;
    new Gauge({
      name: 'tokenroute_flow_control_fairness_index',
      help: "Jain's fairness index (1 = equal, 1/n = one flow got everything) of the prompt tokens dispatched from the queue per flow since the previous scrape, by priority band; absent when nothing was dispatched from the queue.",
      labelNames: ['priority', 'inference_pool'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [priority, flows] of served) {
          let sum = 0;
          let squares = 0;
          for (const x of flows.values()) {
            sum += x;
            squares += x * x;
          }
          if (squares > 0) this.set({ priority: String(priority), inference_pool: pool }, (sum * sum) / (flows.size * squares));
        }
        served.clear();
      },
    });
    this.poolSaturation = new Gauge({
      name: 'inference_extension_flow_control_pool_saturation',
      help: 'The pool saturation (>= 1 saturated) the flow control layer last read to decide a dispatch.',
      labelNames: ['inference_pool'],
      registers: [registry],
    });
  }

  finished(flow: FlowKey, outcome: FlowOutcome, waitedMs: number): void {
    const priority = String(flow.priority);
    this.queueDuration.labels(this.fairnessIds.value(flow.id), priority, outcome, this.pool).observe(waitedMs / 1000);
    this.outcomes.inc({ outcome, priority, inference_pool: this.pool });
  }

  queued(flow: FlowKey, requests: number, bytes: number): void {
    const labels = { fairness_id: this.fairnessIds.value(flow.id), priority: String(flow.priority), inference_pool: this.pool };
    this.queueSize.inc(labels, requests);
    this.queueBytes.inc(labels, bytes);
  }

  saturation(value: number): void {
    this.poolSaturation.set({ inference_pool: this.pool }, value);
  }

  dispatchedFromQueue(flow: FlowKey, promptTokens: number): void {
    let flows = this.served.get(flow.priority);
    if (!flows) this.served.set(flow.priority, (flows = new Map()));
    // Bounded like the label: beyond the limit the rest count together as "other".
    const id = this.fairnessIds.value(flow.id);
    flows.set(id, (flows.get(id) ?? 0) + Math.max(1, promptTokens));
  }

  /** Reports, at every scrape, how full the queue is against its limits (by band; 'all' = global). */
  watchCapacity(read: () => readonly { readonly priority: string; readonly utilization: number }[]): void {
    const pool = this.pool;
    this.capacity.collect = function collect(this: Gauge<string>) {
      this.reset();
      for (const c of read()) this.set({ priority: c.priority, inference_pool: pool }, c.utilization);
    };
  }

  evicted(priority: number): void {
    this.evictions.inc({ priority: String(priority), inference_pool: this.pool });
  }

  waitingForEndpoints(count: number): void {
    this.forEndpoints.set({ inference_pool: this.pool }, count);
  }
}
