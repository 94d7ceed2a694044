// The profile-handler object both disaggregating handlers build (disagg-profile-handler,
// pd-profile-handler): they differ only in parameter shape, the stages they know and the counter
// llm-d gives them. Deciders and the decode profile are resolved once the config is loaded
// (ReferencingPlugin), then every request runs stages.ts — unless its route selected a profile of
// its own outside the stages (profileSelection), which then runs alone: per-route P/D.
import type { ProfileHandler, ReferenceIssue, ReferencingPlugin, SchedulerProfileSpec } from '../../framework/plugins.js';
import type { PluginContext } from '../../framework/registry.js';
import { pickStages, stageResults, type Deciders, type StageNames } from './stages.js';
import { resolveDecider } from './references.js';

export interface DeciderRef {
  readonly stage: keyof Deciders;
  readonly name: string | undefined;
  /** Where the name is written under the handler's parameters. */
  readonly path: readonly (string | number)[];
}

export interface StagedHandlerSpec {
  readonly type: string;
  readonly name: string;
  readonly stages: StageNames;
  readonly decodeProfilePath: readonly (string | number)[];
  readonly deciders: readonly DeciderRef[];
  /** llm-d's decision counter for this handler (labels model_name, decision_type). */
  readonly metric: { readonly name: string; readonly help: string };
}

function isStage(stages: StageNames, name: string): boolean {
  return name === stages.decode || name === stages.prefill || name === stages.encode;
}

/** The profile a request's route selected, when it is not one of the stages and exists. */
function aggregatedProfile(stages: StageNames, name: string | undefined, profiles: ReadonlyMap<string, SchedulerProfileSpec>): SchedulerProfileSpec | undefined {
  if (name === undefined || isStage(stages, name)) return undefined;
  return profiles.get(name);
}

export function stagedProfileHandler(spec: StagedHandlerSpec, ctx: PluginContext): ProfileHandler & ReferencingPlugin {
  const deciders: Deciders = { prefill: undefined, encode: undefined };
  const counter = ctx.metrics?.counter(spec.metric.name, spec.metric.help, ['model_name', 'decision_type']);
  return {
    type: spec.type,
    name: spec.name,
    resolveReferences(lookup) {
      const issues: ReferenceIssue[] = [];
      if (!lookup.profiles.has(spec.stages.decode)) {
        issues.push({ path: spec.decodeProfilePath, kind: 'undefined', message: `the decode profile ${JSON.stringify(spec.stages.decode)} is not defined in schedulingProfiles` });
      }
      for (const ref of spec.deciders) {
        const r = resolveDecider(lookup, ref.name, ref.path);
        if ('issue' in r) issues.push(r.issue);
        else deciders[ref.stage] = r.decider;
      }
      return issues;
    },
    pickProfiles(req, profiles, results, state) {
      // Per-route P/D: a route that selects a profile outside the stages (profileSelection) runs
      // it alone, aggregated; every other request runs the stages.
      const own = aggregatedProfile(spec.stages, req.profile, profiles);
      if (own) return results.size > 0 ? [] : [own];
      return pickStages(spec.stages, deciders, req, profiles, results, state, (decision) =>
        counter?.inc({ model_name: ctx.metrics!.modelLabel(req.targetModel || 'unknown'), decision_type: decision }),
      );
    },
    processResults(req, results) {
      const own = req.profile !== undefined && !isStage(spec.stages, req.profile) ? results.get(req.profile) : undefined;
      if (own) return own.targets.length > 0 ? { primaryProfile: req.profile!, profileResults: results } : undefined;
      return stageResults(spec.stages, results);
    },
  };
}
