// Runs one scheduling cycle the way GIE's scheduler does (v1.5.0 pkg/epp/scheduling/
// scheduler.go, scheduler_profile.go): the profile handler picks profiles until it returns none;
// each profile runs its filters in order (stopping when none is left), its scorers (each score
// clamped to [0, 1], NaN → 0, total = Σ weight × score) and its picker; the handler then turns
// the profile results into the decision. It records GIE's scheduler and per-plugin latency
// metrics and, when debug logging is on, a decision trace. Everything is synchronous; the score
// buffers are reused across cycles so a decision allocates little.
import type { Candidate } from '../framework/endpoint.js';
import type { InferenceRequest } from '../framework/request.js';
import type { Logger } from '../observability/logger.js';
import type { EppMetrics } from '../observability/metrics.js';
import type {
  CycleState,
  Filter,
  Picker,
  Plugin,
  ProfileHandler,
  ProfileRunResult,
  SchedulerProfileSpec,
  SchedulingResult,
  Scorer,
} from '../framework/plugins.js';
import { RequestState } from '../framework/cycle-state.js';

/**
 * `extension_point` label values of inference_extension_plugin_duration_seconds, exactly as GIE
 * writes them (scheduler.go): the profile handler's two calls are ProfilePicker and
 * ProcessProfilesResults.
 */
export const EXTENSION_POINTS = {
  profilePicker: 'ProfilePicker',
  filter: 'Filter',
  scorer: 'Scorer',
  picker: 'Picker',
  processProfilesResults: 'ProcessProfilesResults',
} as const;

export interface FilterTrace {
  readonly name: string;
  readonly type: string;
  readonly before: number;
  readonly after: number;
}

export interface ScorerTrace {
  readonly name: string;
  readonly type: string;
  readonly weight: number;
}

export interface CandidateTrace {
  readonly key: string;
  /** Raw score per scorer name, before clamping. */
  readonly scores: Readonly<Record<string, number>>;
  /** Σ weight × clamped score: what the picker saw. */
  readonly total: number;
}

export interface ProfileTrace {
  readonly profile: string;
  readonly filters: FilterTrace[];
  readonly scorers: ScorerTrace[];
  /** The candidates that reached the scorers (empty when the filters removed everyone). */
  candidates: CandidateTrace[];
  readonly picker: { readonly name: string; readonly type: string };
  /** Endpoint keys the picker chose, best first. */
  targets: string[];
}

/** What one decision looked at; built only when debug logging (or `trace`) is on. */
export interface DecisionTrace {
  readonly requestId: string;
  readonly targetModel: string;
  readonly candidates: number;
  readonly profiles: ProfileTrace[];
  primaryProfile?: string;
  /** 'error' when a plugin threw. */
  outcome?: 'success' | ScheduleFailureReason | 'error';
  /** The request state's notes (e.g. which source gave the prefix block keys). */
  notes?: Record<string, unknown>;
}

export type ScheduleFailureReason = 'no-candidates' | 'no-endpoint';

export interface ScheduleSuccess {
  readonly ok: true;
  readonly result: SchedulingResult;
  /** The primary profile's targets, best first (never empty). */
  readonly targets: readonly Candidate[];
  readonly trace?: DecisionTrace;
}

export interface ScheduleFailure {
  readonly ok: false;
  /**
   * no-candidates: nothing to schedule over (GIE: ServiceUnavailable, 503);
   * no-endpoint: profiles ran but chose nothing (GIE: ResourceExhausted, 429) — or a plugin threw
   * / the profile handler misbehaved, in which case `error` is set and `status` is 500.
   */
  readonly reason: ScheduleFailureReason;
  /** The HTTP status this failure should map to. */
  readonly status: 503 | 429 | 500;
  readonly message: string;
  /** What a plugin threw (status 500). */
  readonly error?: unknown;
  readonly trace?: DecisionTrace;
}

export type ScheduleOutcome = ScheduleSuccess | ScheduleFailure;

export interface SchedulerOptions {
  readonly profiles: ReadonlyMap<string, SchedulerProfileSpec>;
  readonly profileHandler: ProfileHandler;
  readonly logger: Logger;
  /** When given, the scheduler e2e and per-plugin latencies are recorded. */
  readonly metrics?: EppMetrics;
  /** Build (and return) a decision trace even when debug logging is off. */
  readonly trace?: boolean;
}

interface Observer {
  observe(value: number): void;
}

interface ProfilePlan {
  readonly spec: SchedulerProfileSpec;
  readonly weights: Float64Array;
  readonly filterTimers: (Observer | undefined)[];
  readonly scorerTimers: (Observer | undefined)[];
  readonly pickerTimer: Observer | undefined;
  /** The whole profile run (tokenroute_scheduler_profile_duration_seconds{profile}). */
  readonly profileTimer: Observer | undefined;
}

const NO_TARGETS: ProfileRunResult = Object.freeze({ targets: Object.freeze([]) as readonly Candidate[] });

/** A handler that keeps returning profiles is a bug; stop it after this many rounds. */
const MAX_HANDLER_ROUNDS = 64;

export class Scheduler {
  readonly profiles: ReadonlyMap<string, SchedulerProfileSpec>;
  readonly profileHandler: ProfileHandler;
  private readonly logger: Logger;
  private readonly metrics: EppMetrics | undefined;
  private readonly alwaysTrace: boolean;
  private readonly plans = new Map<SchedulerProfileSpec, ProfilePlan>();
  private readonly handlerPickTimer: Observer | undefined;
  private readonly handlerProcessTimer: Observer | undefined;
  // Reused score buffers: `*Buf` has the capacity, `*View` is the length-n window last used.
  private scoreBuf = new Float64Array(64);
  private totalBuf = new Float64Array(64);
  private scoreView = this.scoreBuf;
  private totalView = this.totalBuf;

  constructor(options: SchedulerOptions) {
    this.profiles = options.profiles;
    this.profileHandler = options.profileHandler;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.alwaysTrace = options.trace === true;
    this.handlerPickTimer = this.timer(EXTENSION_POINTS.profilePicker, options.profileHandler);
    this.handlerProcessTimer = this.timer(EXTENSION_POINTS.processProfilesResults, options.profileHandler);
    for (const spec of options.profiles.values()) this.plans.set(spec, this.buildPlan(spec));
  }

  /**
   * Chooses endpoints for `req` among `candidates`. Never throws. `state` is the cycle's scratch
   * space; the director passes the one its PrepareData plugins filled.
   */
  schedule(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState = new RequestState()): ScheduleOutcome {
    if (candidates.length === 0) {
      return { ok: false, reason: 'no-candidates', status: 503, message: 'failed to find endpoint candidates for serving the request' };
    }
    const metrics = this.metrics;
    const start = metrics ? performance.now() : 0;
    const trace: DecisionTrace | undefined =
      this.alwaysTrace || this.logger.isLevelEnabled('debug')
        ? { requestId: req.requestId, targetModel: req.targetModel, candidates: candidates.length, profiles: [] }
        : undefined;
    let outcome: ScheduleOutcome;
    try {
      outcome = this.run(req, candidates, trace, state);
    } catch (err) {
      const message = `scheduling failed: ${err instanceof Error ? err.message : String(err)}`;
      this.logger.error({ requestId: req.requestId, err }, message);
      outcome = { ok: false, reason: 'no-endpoint', status: 500, message, error: err, trace };
    }
    if (metrics) {
      metrics.schedulerE2e.observe((performance.now() - start) / 1000);
      // inference_extension_scheduler_attempts_total is counted here only, as GIE's scheduler does.
      this.recordAttempt(metrics, req, outcome);
    }
    if (trace) {
      trace.outcome = outcome.ok ? 'success' : outcome.error !== undefined ? 'error' : outcome.reason;
      if (outcome.ok) trace.primaryProfile = outcome.result.primaryProfile;
      const notes = state.notes();
      if (notes) trace.notes = notes;
      this.logger.debug({ requestId: req.requestId, decision: trace }, 'scheduling decision');
    }
    return outcome;
  }

  private run(req: InferenceRequest, candidates: readonly Candidate[], trace: DecisionTrace | undefined, state: CycleState): ScheduleOutcome {
    const handler = this.profileHandler;
    const results = new Map<string, ProfileRunResult>();
    for (let round = 0; ; round++) {
      if (round >= MAX_HANDLER_ROUNDS) {
        const error = new Error(`profile handler ${handler.name} did not finish after ${MAX_HANDLER_ROUNDS} rounds`);
        return { ok: false, reason: 'no-endpoint', status: 500, message: error.message, error, trace };
      }
      const t0 = this.handlerPickTimer ? performance.now() : 0;
      const next = handler.pickProfiles(req, this.profiles, results, state);
      this.handlerPickTimer?.observe((performance.now() - t0) / 1000);
      if (next.length === 0) break;
      for (let i = 0; i < next.length; i++) {
        const spec = next[i];
        const plan = this.planFor(spec);
        const t1 = plan.profileTimer ? performance.now() : 0;
        results.set(spec.name, this.runProfile(plan, req, candidates, state, trace));
        plan.profileTimer?.observe((performance.now() - t1) / 1000);
      }
    }
    if (results.size === 0) {
      return { ok: false, reason: 'no-endpoint', status: 429, message: 'failed to find target endpoint: no scheduling profile was selected', trace };
    }
    const t0 = this.handlerProcessTimer ? performance.now() : 0;
    const result = handler.processResults(req, results);
    this.handlerProcessTimer?.observe((performance.now() - t0) / 1000);
    const targets = result?.profileResults.get(result.primaryProfile)?.targets;
    if (!result || !targets || targets.length === 0) {
      return { ok: false, reason: 'no-endpoint', status: 429, message: 'failed to find target endpoint: no endpoints available for the given request', trace };
    }
    return { ok: true, result, targets, trace };
  }

  private runProfile(
    plan: ProfilePlan,
    req: InferenceRequest,
    candidates: readonly Candidate[],
    state: CycleState,
    trace: DecisionTrace | undefined,
  ): ProfileRunResult {
    const { spec, weights } = plan;
    const pt: ProfileTrace | undefined = trace
      ? {
          profile: spec.name,
          filters: [],
          scorers: spec.scorers.map((s) => ({ name: s.scorer.name, type: s.scorer.type, weight: s.weight })),
          candidates: [],
          picker: { name: spec.picker.name, type: spec.picker.type },
          targets: [],
        }
      : undefined;
    if (pt) trace!.profiles.push(pt);

    let cands = candidates;
    const filters = spec.filters;
    for (let f = 0; f < filters.length; f++) {
      const filter = filters[f];
      const timer = plan.filterTimers[f];
      const before = cands.length;
      const t0 = timer ? performance.now() : 0;
      cands = filter.filter(req, cands, state);
      timer?.observe((performance.now() - t0) / 1000);
      if (pt) pt.filters.push({ name: filter.name, type: filter.type, before, after: cands.length });
      if (cands.length === 0) break;
    }
    const n = cands.length;
    if (n === 0) return NO_TARGETS;

    const scores = this.scores(n);
    const totals = this.totals(n);
    totals.fill(0);
    const scorers = spec.scorers;
    const raw: Float64Array[] | undefined = pt ? [] : undefined;
    for (let s = 0; s < scorers.length; s++) {
      const scorer = scorers[s].scorer;
      const timer = plan.scorerTimers[s];
      scores.fill(0);
      const t0 = timer ? performance.now() : 0;
      scorer.score(req, cands, state, scores);
      timer?.observe((performance.now() - t0) / 1000);
      if (raw) raw.push(scores.slice());
      const w = weights[s];
      for (let i = 0; i < n; i++) {
        const v = scores[i];
        // Clamp to [0, 1]; NaN fails both comparisons of the first test and becomes 0.
        totals[i] += w * (v >= 0 ? (v <= 1 ? v : 1) : 0);
      }
    }

    const timer = plan.pickerTimer;
    const t0 = timer ? performance.now() : 0;
    const targets = spec.picker.pick(req, cands, totals, state);
    timer?.observe((performance.now() - t0) / 1000);

    if (pt && raw) {
      pt.candidates = new Array(n);
      for (let i = 0; i < n; i++) {
        const byScorer: Record<string, number> = {};
        for (let s = 0; s < scorers.length; s++) byScorer[scorers[s].scorer.name] = raw[s][i];
        pt.candidates[i] = { key: cands[i].endpoint.key, scores: byScorer, total: totals[i] };
      }
      pt.targets = targets.map((c) => c.endpoint.key);
    }
    return targets.length === 0 ? NO_TARGETS : { targets };
  }

  /** A length-n view of the reused score buffer (the caller zeroes it). */
  private scores(n: number): Float64Array {
    if (this.scoreView.length === n) return this.scoreView;
    if (this.scoreBuf.length < n) this.scoreBuf = new Float64Array(Math.max(n, this.scoreBuf.length * 2));
    this.scoreView = this.scoreBuf.length === n ? this.scoreBuf : this.scoreBuf.subarray(0, n);
    return this.scoreView;
  }

  private totals(n: number): Float64Array {
    if (this.totalView.length === n) return this.totalView;
    if (this.totalBuf.length < n) this.totalBuf = new Float64Array(Math.max(n, this.totalBuf.length * 2));
    this.totalView = this.totalBuf.length === n ? this.totalBuf : this.totalBuf.subarray(0, n);
    return this.totalView;
  }

  private planFor(spec: SchedulerProfileSpec): ProfilePlan {
    let plan = this.plans.get(spec);
    if (!plan) {
      // A handler may run a profile object the scheduler was not built with; plan it once.
      plan = this.buildPlan(spec);
      this.plans.set(spec, plan);
    }
    return plan;
  }

  private buildPlan(spec: SchedulerProfileSpec): ProfilePlan {
    const weights = new Float64Array(spec.scorers.length);
    spec.scorers.forEach((s, i) => (weights[i] = s.weight));
    return {
      spec,
      weights,
      filterTimers: spec.filters.map((f: Filter) => this.timer(EXTENSION_POINTS.filter, f)),
      scorerTimers: spec.scorers.map((s: { scorer: Scorer }) => this.timer(EXTENSION_POINTS.scorer, s.scorer)),
      pickerTimer: this.timer(EXTENSION_POINTS.picker, spec.picker as Picker),
      profileTimer: this.metrics?.profileDuration.labels(spec.name),
    };
  }

  private timer(extensionPoint: string, plugin: Plugin): Observer | undefined {
    return this.metrics?.pluginDuration.labels(extensionPoint, plugin.type, plugin.name);
  }

  private recordAttempt(metrics: EppMetrics, req: InferenceRequest, outcome: ScheduleOutcome): void {
    if (!outcome.ok) {
      // GIE does not count a cycle that had no candidates at all (the director fails first).
      if (outcome.reason === 'no-candidates') return;
      metrics.schedulerAttempts.inc({ status: 'failure', target_model_name: metrics.modelLabel(req.targetModel), pod_name: '', namespace: '', port: '' });
      return;
    }
    const ep = outcome.targets[0].endpoint;
    metrics.schedulerAttempts.inc({
      status: 'success',
      target_model_name: metrics.modelLabel(req.targetModel),
      pod_name: ep.podName,
      namespace: ep.namespace,
      port: String(ep.port),
    });
  }
}

/** The primary profile's targets of a successful result, best first. */
export function primaryTargets(result: SchedulingResult): readonly Candidate[] {
  return result.profileResults.get(result.primaryProfile)?.targets ?? [];
}
