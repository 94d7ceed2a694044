// Bounded Prometheus label values. Some labels carry what a client chose — the body's `model`
// (model_name, target_model_name), the model server's status text (error_code) — and every distinct
// value is a new time series that prom-client keeps for the life of the process: ten requests with
// distinct ~1 MB model names made /metrics fail and thirty killed the EPP. So each such label
// family (a "domain") admits its first `maxValues` distinct values of at most `maxLength`
// characters and folds everything else into `other`, counted in
// tokenroute_metric_label_values_folded_total{domain}, as llm-d caps its flow-control fairness-id
// label at 1,000 values (llm-d-inference-scheduler `pkg/epp/flowcontrol`, metrics). A value once
// admitted stays admitted and one folded stays folded, so a gauge's inc and dec always meet.

/** The value every out-of-bound label value is reported as. */
export const OTHER_LABEL_VALUE = 'other';

export interface LabelBounds {
  /** Distinct values admitted per domain (default 1000, llm-d's fairness-id cap). */
  readonly maxValues: number;
  /** Longest value admitted, in UTF-16 units (default 256: model ids are far shorter). */
  readonly maxLength: number;
}

export const DEFAULT_LABEL_BOUNDS: LabelBounds = Object.freeze({ maxValues: 1000, maxLength: 256 });

export class LabelDomain {
  private readonly admitted = new Set<string>();

  constructor(
    readonly name: string,
    private readonly bounds: LabelBounds,
    private readonly folded: (domain: string) => void,
  ) {}

  /** `value` itself when admitted (now or before), else OTHER_LABEL_VALUE. */
  value(value: string): string {
    if (this.admitted.has(value)) return value;
    if (value.length > this.bounds.maxLength || this.admitted.size >= this.bounds.maxValues) {
      this.folded(this.name);
      return OTHER_LABEL_VALUE;
    }
    this.admitted.add(value);
    return value;
  }

  /** Distinct values admitted so far. */
  get size(): number {
    return this.admitted.size;
  }
}
