// data-parallel-profile-handler — llm-d's handler for vLLM data parallelism behind one pod port:
// runs the config's single profile over the pool's per-rank endpoints (one per target port), then
// sends the request to the pod's `primaryPort` and names the chosen rank's `ip:port` in
// x-data-parallel-host-port, where the pod's sidecar forwards it (llm-d-inference-scheduler
// `pkg/plugins/profile/dp_profile_handler.go`, v0.7.1; deprecated upstream for Istio ≥ 1.28.1,
// which can route to the rank port itself). Exactly one profile is required.
// Parameters: primaryPort (8000; 1–65535).
import { z } from 'zod';
import type { PreRequestPlugin, ProfileHandler, ReferencingPlugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { dataParallelRewrite } from '../data-parallel.js';

export const DATA_PARALLEL_PROFILE_HANDLER_TYPE = 'data-parallel-profile-handler';

export const dataParallelProfileHandlerParameters = z.strictObject({
  primaryPort: z.number().int().min(1, { error: 'must be between 1 and 65535' }).max(65535, { error: 'must be between 1 and 65535' }).default(8000),
});

export const dataParallelProfileHandlerPlugin = definePlugin({
  type: DATA_PARALLEL_PROFILE_HANDLER_TYPE,
  parameters: dataParallelProfileHandlerParameters,
  create(name, params, ctx): ProfileHandler & PreRequestPlugin & ReferencingPlugin {
    ctx.logger.info({ plugin: name }, 'data-parallel-profile-handler is deprecated upstream (Istio >= 1.28.1 routes to the rank port itself)');
    const dataParallel = dataParallelRewrite(params.primaryPort);
    return {
      type: DATA_PARALLEL_PROFILE_HANDLER_TYPE,
      name,
      resolveReferences(lookup) {
        return lookup.profiles.size === 1 ? [] : [{ path: [], kind: 'wrong-kind' as const, message: `needs exactly one scheduling profile, the config has ${lookup.profiles.size}` }];
      },
      pickProfiles(_req, profiles, results) {
        if (results.size > 0 || profiles.size !== 1) return [];
        return [...profiles.values()];
      },
      processResults(_req, results) {
        if (results.size !== 1) return undefined;
        const profile = results.keys().next().value!;
        return dataParallel.rewrite({ primaryProfile: profile, profileResults: results }, profile);
      },
      preRequest: dataParallel.preRequest,
    };
  },
});
