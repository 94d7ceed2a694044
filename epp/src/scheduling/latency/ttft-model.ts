// A time-to-first-token model learned from what the servers do, for ttft-estimate-scorer and
// prefix-cache-affinity-filter's `ttftSource: ttftEstimateScorer`. One request's TTFT on an
// endpoint is modelled as
//
//   ttft ≈ c0 + c1 · uncached + c2 · backlog + c3 · slotWait
//
// uncached: the prompt tokens the endpoint must prefill (prompt − cached prefix); backlog: prompt
// tokens of requests the EPP sent there that have not produced their first token yet (a server
// that prefills one batch at a time — vLLM — makes a request wait for them; a server that runs
// prefills side by side does not, and c2 comes out near 0); slotWait: the wait for a free
// sequence slot when the endpoint runs at its learned capacity, estimated as queued requests ×
// mean decode time ÷ capacity. The coefficients start from priors (c1 = 1000 ÷ peak prefill
// tokens/s, c2 = c1, c3 = 1, c0 = the overhead) and follow observed TTFTs by exponentially
// weighted least squares, pulled towards the priors by a ridge term so that a few observations or
// a feature that never varies cannot send a coefficient anywhere. This is the cost function llm-d's
// latency predictor and Dynamo's KV router aim at (prefill cost of the uncached part plus the
// queue in front of it), in milliseconds, so a cache hit and a queue compare in one currency.
//
// Pure arithmetic, no I/O: a 4×4 solve per refresh, refreshed at most every `refreshEvery`
// observations; estimates are a dot product.

export const FEATURES = 4;
export type Coefficients = Float64Array; // [c0 ms, c1 ms/token, c2 ms/token, c3 ms/ms]

export interface TtftModelOptions {
  /** Prior prefill cost, ms per uncached token. */
  readonly prefillMsPerToken: number;
  /** Prior fixed cost of a request's first token, ms. */
  readonly overheadMs: number;
  /** The fit's memory in observations: each new one multiplies the old weights by 1 − 1/window. */
  readonly window: number;
  /** Observations before the fit replaces the priors. */
  readonly minObservations: number;
  /** Re-solve after this many new observations. */
  readonly refreshEvery: number;
  /** Learn from observations (false: the priors are the model). */
  readonly learn: boolean;
}

/** Typical feature sizes: the ridge prior counts as one observation of this size per term. */
const SCALE = [1, 1000, 1000, 1000];
/** Observations during which every one refits. */
const EARLY_REFITS = 50;
/** Share of the data's own weight with which each coefficient is pulled towards its prior. */
const SHRINK = 0.001;

export class TtftModel {
  private readonly prior: Coefficients;
  private coef: Coefficients;
  private readonly xtx = new Float64Array(FEATURES * FEATURES);
  private readonly xty = new Float64Array(FEATURES);
  private readonly lambda: number;
  private readonly x = new Float64Array(FEATURES);
  private observations = 0;
  private sinceRefresh = 0;
  /** Decode time per request (first token → end), EWMA, ms; NaN until observed. */
  private decodeMs = NaN;

  constructor(private readonly o: TtftModelOptions) {
    this.prior = Float64Array.of(o.overheadMs, o.prefillMsPerToken, o.prefillMsPerToken, 1);
    this.coef = Float64Array.from(this.prior);
    this.lambda = 1 - 1 / Math.max(2, o.window);
  }

  coefficients(): Readonly<Coefficients> {
    return this.coef;
  }

  observationCount(): number {
    return this.observations;
  }

  /** ms; the inputs as named in the header. */
  estimate(uncached: number, backlog: number, slotWaitMs: number): number {
    const c = this.coef;
    return c[0] + c[1] * uncached + c[2] * backlog + c[3] * slotWaitMs;
  }

  /** Mean decode time of one request (first token → end), ms; `fallback` until one was seen. */
  meanDecodeMs(fallback: number): number {
    return Number.isNaN(this.decodeMs) ? fallback : this.decodeMs;
  }

  observeDecode(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.decodeMs = Number.isNaN(this.decodeMs) ? ms : this.decodeMs + 0.05 * (ms - this.decodeMs);
  }

  /** One measured TTFT with the features the request was routed with. */
  observe(uncached: number, backlog: number, slotWaitMs: number, ttftMs: number): void {
    if (!this.o.learn || !(ttftMs >= 0) || !Number.isFinite(ttftMs)) return;
    const x = this.x;
    x[0] = 1;
    x[1] = uncached;
    x[2] = backlog;
    x[3] = slotWaitMs;
    const l = this.lambda;
    for (let i = 0; i < FEATURES; i++) {
      this.xty[i] = this.xty[i] * l + x[i] * ttftMs;
      for (let j = 0; j < FEATURES; j++) this.xtx[i * FEATURES + j] = this.xtx[i * FEATURES + j] * l + x[i] * x[j];
    }
    this.observations++;
    // Early on every observation refits (the priors may be far off: a GPU's throughput on a CPU
    // simulator); later every `refreshEvery`.
    if (this.observations >= this.o.minObservations && (this.observations < EARLY_REFITS || ++this.sinceRefresh >= this.o.refreshEvery)) {
      this.sinceRefresh = 0;
      this.refit();
    }
  }

  /** Ridge solve towards the priors; a negative coefficient is pinned at 0 and the rest re-solved. */
  private refit(): void {
    const n = FEATURES;
    const active = [true, true, true, true];
    for (let round = 0; round < n; round++) {
      const a = new Float64Array(n * n);
      const b = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const ridge = SHRINK * this.xtx[i * n + i] + SCALE[i] * SCALE[i];
        for (let j = 0; j < n; j++) a[i * n + j] = this.xtx[i * n + j];
        a[i * n + i] += ridge;
        b[i] = this.xty[i] + ridge * this.prior[i];
      }
      // Pinned coefficients are 0: drop their columns, keep their rows out of the system.
      for (let i = 0; i < n; i++) {
        if (active[i]) continue;
        for (let j = 0; j < n; j++) a[i * n + j] = a[j * n + i] = i === j ? 1 : 0;
        b[i] = 0;
      }
      const c = solve(a, b, n);
      if (!c) return;
      let negative = -1;
      for (let i = 0; i < n; i++) if (active[i] && c[i] < 0 && (negative < 0 || c[i] < c[negative])) negative = i;
      if (negative < 0) {
        this.coef = c;
        return;
      }
      active[negative] = false;
    }
  }
}

/** Gaussian elimination with partial pivoting; undefined when singular. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array | undefined {
  const m = Float64Array.from(a);
  const v = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]) > Math.abs(m[piv * n + col])) piv = r;
    if (Math.abs(m[piv * n + col]) < 1e-12) return undefined;
    if (piv !== col) {
      for (let k = 0; k < n; k++) [m[col * n + k], m[piv * n + k]] = [m[piv * n + k], m[col * n + k]];
      [v[col], v[piv]] = [v[piv], v[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col] / m[col * n + col];
      if (f === 0) continue;
      for (let k = col; k < n; k++) m[r * n + k] -= f * m[col * n + k];
      v[r] -= f * v[col];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = v[r];
    for (let k = r + 1; k < n; k++) s -= m[r * n + k] * x[k];
    x[r] = s / m[r * n + r];
  }
  return x;
}
