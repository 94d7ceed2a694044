// Extension points of the scheduler, as in GIE's framework: a ProfileHandler chooses which
// scheduling profiles run; each profile runs Filters, then Scorers (weighted sum of scores in
// [0, 1]), then one Picker. Everything here is synchronous: a decision never awaits.
import type { Candidate } from './endpoint.js';
import type { InferenceRequest } from './request.js';
import { stateKey, type RequestState, type StateKey } from './cycle-state.js';

/** Every plugin has the config `type` it was registered under and its instance `name`. */
export interface Plugin {
  readonly type: string;
  readonly name: string;
}

/**
 * A type guard for an extension point: a plugin implements it when it has all of the point's
 * methods (plugins are plain objects; one plugin may implement several points).
 */
export function implementing<T extends Plugin>(...methods: readonly (keyof T & string)[]): (p: Plugin) => p is T {
  return (p: Plugin): p is T => methods.every((m) => typeof (p as unknown as Record<string, unknown>)[m] === 'function');
}

/**
 * The request's typed state (cycle-state.ts): PrepareData plugins write it, the scheduler's
 * plugins read it, and the same object travels on to the response-side plugins
 * (RoutedRequest.state). Entries are read and written through `stateKey<T>()` keys, never cast.
 */
export type CycleState = RequestState;

export interface Filter extends Plugin {
  /** Returns the candidates to keep, in order. May return `candidates` itself when it keeps all. */
  filter(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState): readonly Candidate[];
}

export interface Scorer extends Plugin {
  /**
   * Writes one score per candidate into `out` (same index as `candidates`). Scores are clamped
   * to [0, 1] by the framework; `out` is pre-zeroed and sized to `candidates.length`.
   */
  score(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState, out: Float64Array): void;
}

export interface Picker extends Plugin {
  /**
   * Chooses endpoints from the scored candidates, best first. Returns at most the picker's
   * `maxNumOfEndpoints`; the first is the target, the rest are the fallback list.
   */
  pick(req: InferenceRequest, candidates: readonly Candidate[], totals: Float64Array, state: CycleState): Candidate[];
}

/** A configured profile: its filters, weighted scorers and picker. */
export interface SchedulerProfileSpec {
  readonly name: string;
  readonly filters: readonly Filter[];
  readonly scorers: readonly { readonly scorer: Scorer; readonly weight: number }[];
  readonly picker: Picker;
}

export interface ProfileRunResult {
  /** Chosen endpoints, best first (empty when the profile found none). */
  readonly targets: readonly Candidate[];
}

export interface SchedulingResult {
  /** The profile whose targets are the destination (and fallbacks). */
  readonly primaryProfile: string;
  readonly profileResults: ReadonlyMap<string, ProfileRunResult>;
}

export interface ProfileHandler extends Plugin {
  /**
   * Called repeatedly: returns the profiles to run next given the results so far, or an empty
   * list when scheduling is complete.
   */
  pickProfiles(
    req: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfileSpec>,
    results: ReadonlyMap<string, ProfileRunResult>,
    state: CycleState,
  ): readonly SchedulerProfileSpec[];
  /** Turns the profile results into the final result, or undefined when no endpoint could be chosen. */
  processResults(req: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult>): SchedulingResult | undefined;
}

/**
 * Decides, once the decode profile has chosen its endpoint, whether a stage (prefill, encode)
 * runs on an endpoint of its own (llm-d's deciderPlugin, `pkg/plugins/profile/decider-plugin.go`,
 * v0.7.1). Reads what PrepareData left in `state` (prompt tokens, prefix matches).
 */
export interface DisaggDecider extends Plugin {
  disaggregate(req: InferenceRequest, decode: Candidate, state: CycleState): boolean;
}

/** Pool-level saturation, used by admission to shed sheddable (priority < 0) requests. */
export interface SaturationDetector extends Plugin {
  /** Pool saturation; ≥ 1 means saturated. */
  saturation(candidates: readonly Candidate[], now: number): number;
}

export const isFilter = implementing<Filter>('filter');
export const isScorer = implementing<Scorer>('score');
export const isPicker = implementing<Picker>('pick');
export const isProfileHandler = implementing<ProfileHandler>('pickProfiles');
export const isSaturationDetector = implementing<SaturationDetector>('saturation');
export const isDisaggDecider = implementing<DisaggDecider>('disaggregate');

/** What a plugin may look up when it resolves the names its parameters give. */
export interface ReferenceLookup {
  plugin(name: string): Plugin | undefined;
  /** Every scheduling profile the config defines. */
  readonly profiles: ReadonlySet<string>;
}

export interface ReferenceIssue {
  /** Under the plugin's `parameters`, e.g. ['deciders', 'prefill']. */
  readonly path: readonly (string | number)[];
  readonly kind: 'undefined' | 'wrong-kind';
  readonly message: string;
  /** The plugin name that did not resolve (a declared plugin that failed to build is already reported). */
  readonly name?: string;
}

/**
 * A plugin whose parameters name other plugins or profiles (a profile handler's deciders and
 * profiles). The config loader calls this once every plugin and profile exists and reports the
 * issues with the field's path; GIE's factories resolve such names through plugin.Handle.
 */
export interface ReferencingPlugin extends Plugin {
  resolveReferences(lookup: ReferenceLookup): readonly ReferenceIssue[];
}

export const isReferencingPlugin = implementing<ReferencingPlugin>('resolveReferences');

// ---- Request-control extension points around a scheduling cycle (GIE's PrepareDataPlugin and
// PreRequest). The director creates the request's state once, runs every PrepareDataPlugin before
// the scheduler (they may hop off the event loop, e.g. to tokenize in a worker, by returning a
// promise), passes the same state to the scheduler, calls every PreRequestPlugin with the
// decision before the request goes upstream, and hands the state on to the response-side
// plugins (RoutedRequest.state). Notes (`state.note`) are copied into the decision trace.

export interface PrepareDataPlugin extends Plugin {
  /** Derives per-request data (e.g. prefix block keys) into `state`, once per request. */
  prepareRequestData(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState): void | Promise<void>;
  /**
   * The state entries this plugin writes and the ones it reads. The config loader orders the
   * PrepareData plugins so producers run (and finish, when they go off the event loop) before
   * their consumers, and refuses cycles and consumers without a producer — GIE's data
   * dependency graph (gateway-api-inference-extension `pkg/epp/requestcontrol/
   * request_control_config.go` PrepareDataPluginGraph, ProducerPlugin/ConsumerPlugin).
   */
  readonly produces?: readonly StateKey<unknown>[];
  readonly consumes?: readonly StateKey<unknown>[];
}

export interface PreRequestPlugin extends Plugin {
  /** Sees the decision (e.g. to record the prompt's blocks for the chosen endpoint). Must not throw. */
  preRequest(req: InferenceRequest, result: SchedulingResult, state: CycleState): void;
}

/**
 * Headers a PreRequest plugin sets on the request the proxy sends upstream (llm-d's plugins set
 * request.Headers, e.g. x-prefiller-host-port); the director adds them to its answer.
 */
export const UPSTREAM_HEADERS = stateKey<Map<string, string>>('request.upstream-headers');

export function setUpstreamHeader(state: CycleState, name: string, value: string): void {
  let headers = state.read(UPSTREAM_HEADERS);
  if (!headers) state.write(UPSTREAM_HEADERS, (headers = new Map()));
  headers.set(name, value);
}

/** A plugin owning background work (sockets, workers) started after config load and stopped on shutdown. */
export interface LifecyclePlugin extends Plugin {
  start(): Promise<void>;
  close(): Promise<void>;
}


export const isPrepareDataPlugin = implementing<PrepareDataPlugin>('prepareRequestData');

/** Size and churn of a plugin's prefix index, read at scrape time (observability/prefix metrics). */
export interface PrefixIndexStats {
  /** Block-endpoint pairs held. */
  readonly pairs: number;
  readonly bytes: number;
  /** Entries evicted by the index's bound since start. */
  readonly evictions: number;
}

/** KV-event ingestion counters of a plugin fed by model-server events. */
export interface KvEventStats {
  readonly engineMapBytes: number;
  /** Messages and blocks by outcome (received, applied, malformed, gaps, ...), since start. */
  readonly counters: Readonly<Record<string, number>>;
}

/**
 * A plugin that holds a prefix index publishes its figures through this contract; the metrics
 * registration reads every such plugin at scrape time and never looks inside a plugin.
 */
export interface PrefixIndexPlugin extends Plugin {
  prefixIndexStats(): PrefixIndexStats;
  /** Undefined when the plugin is not fed by KV events (or has not started). */
  kvEventStats(): KvEventStats | undefined;
}

export const isPrefixIndexPlugin = implementing<PrefixIndexPlugin>('prefixIndexStats', 'kvEventStats');
export const isPreRequestPlugin = implementing<PreRequestPlugin>('preRequest');
export const isLifecyclePlugin = implementing<LifecyclePlugin>('start', 'close');
