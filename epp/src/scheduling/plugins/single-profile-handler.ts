// single-profile-handler: runs exactly one scheduling profile per request and makes its result
// the destination. GIE v1.5.0 framework/plugins/scheduling/profile/single_profile_handler.go
// runs the only profile; tokenroute extends the choice for configs with several profiles (the
// `profileSelection` config extension, see docs/configuration.md):
//   1. the profile the request names (InferenceRequest.profile, set from the Envoy route), if it
//      exists;
//   2. else the configured default profile (profileSelection.default), if set;
//   3. else the only profile.
// processResults fails (undefined) when the profile found no endpoint. No parameters.
import type { CycleState, ProfileHandler, ProfileRunResult, SchedulerProfileSpec, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const SINGLE_PROFILE_HANDLER_TYPE = 'single-profile-handler';

/** A profile handler whose fallback profile the config loader can set (profileSelection.default). */
export interface ProfileSelectionAware {
  setDefaultProfile(name: string | undefined): void;
}

export function isProfileSelectionAware(p: object): p is ProfileSelectionAware {
  return typeof (p as ProfileSelectionAware).setDefaultProfile === 'function';
}

const NONE: readonly SchedulerProfileSpec[] = Object.freeze([]);

export class SingleProfileHandler implements ProfileHandler, ProfileSelectionAware {
  readonly type = SINGLE_PROFILE_HANDLER_TYPE;
  private defaultProfile: string | undefined;
  /** One frozen single-element list per profile, so pickProfiles does not allocate. */
  private readonly lists = new WeakMap<SchedulerProfileSpec, readonly SchedulerProfileSpec[]>();

  constructor(readonly name: string) {}

  setDefaultProfile(name: string | undefined): void {
    this.defaultProfile = name;
  }

  /** The profile this handler would run for `req` (undefined when `profiles` is empty). */
  selectProfile(req: InferenceRequest, profiles: ReadonlyMap<string, SchedulerProfileSpec>): SchedulerProfileSpec | undefined {
    if (req.profile !== undefined) {
      const named = profiles.get(req.profile);
      if (named) return named;
    }
    if (this.defaultProfile !== undefined) {
      const fallback = profiles.get(this.defaultProfile);
      if (fallback) return fallback;
    }
    if (profiles.size === 1) return profiles.values().next().value;
    return undefined;
  }

  pickProfiles(
    req: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfileSpec>,
    results: ReadonlyMap<string, ProfileRunResult>,
    _state?: CycleState,
  ): readonly SchedulerProfileSpec[] {
    if (results.size > 0) return NONE;
    const spec = this.selectProfile(req, profiles);
    if (!spec) return NONE;
    let list = this.lists.get(spec);
    if (!list) {
      list = Object.freeze([spec]);
      this.lists.set(spec, list);
    }
    return list;
  }

  processResults(_req: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult>): SchedulingResult | undefined {
    if (results.size !== 1) return undefined;
    const [name, result] = results.entries().next().value as [string, ProfileRunResult];
    if (result.targets.length === 0) return undefined;
    return { primaryProfile: name, profileResults: results };
  }
}

export const singleProfileHandlerPlugin = definePlugin({
  type: SINGLE_PROFILE_HANDLER_TYPE,
  parameters: noParameters,
  create(name): SingleProfileHandler {
    return new SingleProfileHandler(name);
  },
});
