// The staged scheduling both disaggregating profile handlers share (disagg-profile-handler,
// pd-profile-handler), as llm-d runs it (llm-d-inference-scheduler `pkg/plugins/profile/
// disagg_profile_handler.go` and `pd_profile_handler.go`, v0.7.1):
//   1. run the decode profile; no decode endpoint → scheduling fails;
//   2. if an encode profile exists and the encode decider says so for the chosen decode endpoint,
//      run it;
//   3. if a prefill profile exists and the prefill decider says so, run it;
//   4. the decode targets are the destination (and fallbacks); prefill/encode results that found
//      an endpoint travel in the result for disagg-headers-handler.
// Which stages were decided against is per-request state (llm-d marks them nil in its result
// map); the decision goes to the decision trace (`disagg`) and to the handler's counter.
import type { Candidate } from '../../framework/endpoint.js';
import type { CycleState, DisaggDecider, ProfileRunResult, SchedulerProfileSpec, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { stateKey } from '../../framework/cycle-state.js';

export interface StageNames {
  readonly decode: string;
  readonly prefill: string;
  readonly encode?: string;
}

export interface Deciders {
  prefill: DisaggDecider | undefined;
  encode: DisaggDecider | undefined;
}

/** llm-d's decision_type label values (`pkg/metrics/metrics.go`, v0.7.1). */
export type DisaggDecision = 'decode-only' | 'prefill-decode' | 'encode-decode' | 'encode-prefill-decode';

interface Decided {
  prefill?: boolean;
  encode?: boolean;
}
const DECIDED = stateKey<Decided>('disagg.decided');

const NONE: readonly SchedulerProfileSpec[] = Object.freeze([]);

export function decisionOf(encodeUsed: boolean, prefillUsed: boolean): DisaggDecision {
  if (encodeUsed && prefillUsed) return 'encode-prefill-decode';
  if (encodeUsed) return 'encode-decode';
  if (prefillUsed) return 'prefill-decode';
  return 'decode-only';
}

function ask(decider: DisaggDecider | undefined, req: InferenceRequest, decode: Candidate, state: CycleState): boolean {
  if (!decider) return false;
  try {
    return decider.disaggregate(req, decode, state);
  } catch (err) {
    state.note(`${decider.name}.error`, err instanceof Error ? err.message : String(err));
    return false;
  }
}

/**
 * The profiles to run next. `done` is called once, when no more stage will run, with the
 * decision (the handler counts it).
 */
export function pickStages(
  names: StageNames,
  deciders: Deciders,
  req: InferenceRequest,
  profiles: ReadonlyMap<string, SchedulerProfileSpec>,
  results: ReadonlyMap<string, ProfileRunResult>,
  state: CycleState,
  done: (decision: DisaggDecision) => void,
): readonly SchedulerProfileSpec[] {
  const decodeRun = results.get(names.decode);
  if (!decodeRun) {
    const decode = profiles.get(names.decode);
    return decode ? [decode] : NONE;
  }
  const decode = decodeRun.targets[0];
  if (!decode) return NONE;
  let decided = state.read(DECIDED);
  if (!decided) state.write(DECIDED, (decided = {}));
  for (const stage of ['encode', 'prefill'] as const) {
    const name = names[stage];
    const spec = name !== undefined ? profiles.get(name) : undefined;
    if (!spec || results.has(spec.name) || decided[stage] !== undefined) continue;
    decided[stage] = ask(deciders[stage], req, decode, state);
    if (decided[stage]) return [spec];
  }
  const used = (name: string | undefined) => name !== undefined && (results.get(name)?.targets.length ?? 0) > 0;
  const decision = decisionOf(used(names.encode), used(names.prefill));
  state.note('disagg', decision);
  done(decision);
  return NONE;
}

/** The decode targets as the destination; prefill/encode results that found an endpoint alongside. */
export function stageResults(names: StageNames, results: ReadonlyMap<string, ProfileRunResult>): SchedulingResult | undefined {
  const decode = results.get(names.decode);
  if (!decode || decode.targets.length === 0) return undefined;
  const out = new Map<string, ProfileRunResult>([[names.decode, decode]]);
  for (const name of [names.prefill, names.encode]) {
    const r = name !== undefined ? results.get(name) : undefined;
    if (name !== undefined && r && r.targets.length > 0) out.set(name, r);
  }
  return { primaryProfile: names.decode, profileResults: out };
}
