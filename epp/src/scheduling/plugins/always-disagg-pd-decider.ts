// always-disagg-pd-decider — llm-d's decider that disaggregates every request whose prefill
// profile found an endpoint (llm-d-inference-scheduler `pkg/plugins/profile/
// always_disagg_pd_decider.go`, v0.7.1). For tests and for pools where every prompt is long.
// No parameters.
import type { DisaggDecider } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const ALWAYS_DISAGG_PD_DECIDER_TYPE = 'always-disagg-pd-decider';

export const alwaysDisaggPdDeciderPlugin = definePlugin({
  type: ALWAYS_DISAGG_PD_DECIDER_TYPE,
  parameters: noParameters,
  create(name): DisaggDecider {
    return { type: ALWAYS_DISAGG_PD_DECIDER_TYPE, name, disaggregate: () => true };
  },
});
