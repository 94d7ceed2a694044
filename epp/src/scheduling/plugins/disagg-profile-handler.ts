// disagg-profile-handler — llm-d's profile handler for disaggregated serving: runs the decode
// profile, then asks its deciders whether the request's encode and prefill stages run on
// endpoints of their own (the chosen decode endpoint, the prompt's tokens and its prefix match
// there decide); the decode endpoint is the destination and the prefill endpoint travels to the
// decode side's routing sidecar in x-prefiller-host-port (disagg-headers-handler). Counts each
// decision in llm_d_inference_scheduler_disagg_decision_total{model_name, decision_type}.
// Follows llm-d-inference-scheduler `pkg/plugins/profile/disagg_profile_handler.go` (v0.7.1);
// the staged run is scheduling/disagg/stages.ts.
// Parameters (llm-d): profiles {decode ("decode"), prefill ("prefill"), encode ("encode")},
// deciders {prefill, encode} (decider plugin names; none = that stage never disaggregates);
// the older flat shape decodeProfile, prefillProfile, encodeProfile, prefillDeciderPluginName,
// deciderPluginName, encodeDeciderPluginName is accepted, but not mixed with the nested one.
import { z } from 'zod';
import type { ProfileHandler, ReferencingPlugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { stagedProfileHandler } from '../disagg/handler.js';

export const DISAGG_PROFILE_HANDLER_TYPE = 'disagg-profile-handler';

const name = z.string().min(1).optional();
const FLAT = ['decodeProfile', 'prefillProfile', 'encodeProfile', 'prefillDeciderPluginName', 'deciderPluginName', 'encodeDeciderPluginName'] as const;

export const disaggProfileHandlerParameters = z
  .strictObject({
    profiles: z.strictObject({ decode: name, prefill: name, encode: name }).optional(),
    deciders: z.strictObject({ prefill: name, encode: name }).optional(),
    decodeProfile: name,
    prefillProfile: name,
    encodeProfile: name,
    prefillDeciderPluginName: name,
    deciderPluginName: name,
    encodeDeciderPluginName: name,
  })
  .superRefine((p, ctx) => {
    const nested = p.profiles !== undefined || p.deciders !== undefined;
    const flat = FLAT.filter((k) => p[k] !== undefined);
    if (nested && flat.length > 0) {
      ctx.addIssue({ code: 'custom', path: [flat[0]], message: 'cannot mix the deprecated flat parameters with profiles/deciders: use one format or the other' });
    }
  })
  .transform((p) => ({
    profiles: {
      decode: p.profiles?.decode ?? p.decodeProfile ?? 'decode',
      prefill: p.profiles?.prefill ?? p.prefillProfile ?? 'prefill',
      encode: p.profiles?.encode ?? p.encodeProfile ?? 'encode',
    },
    deciders: {
      prefill: p.deciders?.prefill ?? p.prefillDeciderPluginName ?? p.deciderPluginName,
      encode: p.deciders?.encode ?? p.encodeDeciderPluginName,
    },
    /** Where each decider name came from (for error paths). */
    deciderPaths: {
      prefill: p.deciders?.prefill !== undefined ? ['deciders', 'prefill'] : p.prefillDeciderPluginName !== undefined ? ['prefillDeciderPluginName'] : ['deciderPluginName'],
      encode: p.deciders?.encode !== undefined ? ['deciders', 'encode'] : ['encodeDeciderPluginName'],
    },
  }));
export type DisaggProfileHandlerParameters = z.output<typeof disaggProfileHandlerParameters>;

export const DISAGG_DECISION_METRIC = 'llm_d_inference_scheduler_disagg_decision_total';

export const disaggProfileHandlerPlugin = definePlugin({
  type: DISAGG_PROFILE_HANDLER_TYPE,
  parameters: disaggProfileHandlerParameters,
  create(name, params, ctx): ProfileHandler & ReferencingPlugin & { readonly parameters: DisaggProfileHandlerParameters } {
    const handler = stagedProfileHandler(
      {
        type: DISAGG_PROFILE_HANDLER_TYPE,
        name,
        stages: params.profiles,
        decodeProfilePath: ['profiles', 'decode'],
        deciders: [
          { stage: 'prefill', name: params.deciders.prefill, path: params.deciderPaths.prefill },
          { stage: 'encode', name: params.deciders.encode, path: params.deciderPaths.encode },
        ],
        metric: { name: DISAGG_DECISION_METRIC, help: 'Total number of disaggregation routing decisions made (llm-d).' },
      },
      ctx,
    );
    return { ...handler, parameters: params };
  },
});
