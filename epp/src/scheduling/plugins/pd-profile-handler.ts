// pd-profile-handler — llm-d's older P/D profile handler (deprecated upstream in favour of
// disagg-profile-handler, kept so older configs load): the decode profile, then the prefill
// profile when the decider says so; no encode stage. Counts each decision in
// llm_d_inference_scheduler_pd_decision_total{model_name, decision_type} as llm-d does
// (llm-d-inference-scheduler `pkg/plugins/profile/pd_profile_handler.go`, v0.7.1); the staged run
// is scheduling/disagg/stages.ts.
// Parameters (llm-d): decodeProfile ("decode"), prefillProfile ("prefill"), deciderPluginName
// ("prefix-based-pd-decider": a declared decider plugin's name), prefixPluginType / prefixPluginName
// (accepted; the decider reads the prefix match itself), primaryPort (0 = off, or 1–65535: llm-d's
// data-parallel rewrite of the decode targets, scheduling/data-parallel.ts).
import { z } from 'zod';
import type { PreRequestPlugin, ProfileHandler, ReferencingPlugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { stagedProfileHandler } from '../disagg/handler.js';
import { dataParallelRewrite } from '../data-parallel.js';

export const PD_PROFILE_HANDLER_TYPE = 'pd-profile-handler';

export const pdProfileHandlerParameters = z.strictObject({
  decodeProfile: z.string().min(1).default('decode'),
  prefillProfile: z.string().min(1).default('prefill'),
  prefixPluginType: z.string().default('prefix-cache-scorer'),
  prefixPluginName: z.string().optional(),
  primaryPort: z.number().int().min(0).max(65535, { error: 'must be between 1 and 65535 (or 0: off)' }).default(0),
  deciderPluginName: z.string().min(1, { error: 'decider plugin name is not defined' }).default('prefix-based-pd-decider'),
});
export type PdProfileHandlerParameters = z.output<typeof pdProfileHandlerParameters>;

export const PD_DECISION_METRIC = 'llm_d_inference_scheduler_pd_decision_total';

export const pdProfileHandlerPlugin = definePlugin({
  type: PD_PROFILE_HANDLER_TYPE,
  parameters: pdProfileHandlerParameters,
  create(name, params, ctx): ProfileHandler & ReferencingPlugin & Partial<PreRequestPlugin> & { readonly parameters: PdProfileHandlerParameters } {
    ctx.logger.info({ plugin: name }, 'pd-profile-handler is deprecated upstream; disagg-profile-handler is its successor');
    const handler = stagedProfileHandler(
      {
        type: PD_PROFILE_HANDLER_TYPE,
        name,
        stages: { decode: params.decodeProfile, prefill: params.prefillProfile },
        decodeProfilePath: ['decodeProfile'],
        deciders: [{ stage: 'prefill', name: params.deciderPluginName, path: ['deciderPluginName'] }],
        metric: { name: PD_DECISION_METRIC, help: 'Total number of P/D disaggregation decisions made (llm-d).' },
      },
      ctx,
    );
    if (params.primaryPort === 0) return { ...handler, parameters: params };
    // As llm-d: the decode targets move to the primary port, the chosen rank goes upstream.
    ctx.logger.info({ plugin: name, primaryPort: params.primaryPort }, 'pd-profile-handler: primaryPort is deprecated upstream (not needed with Istio >= 1.28.1)');
    const dataParallel = dataParallelRewrite(params.primaryPort);
    return {
      ...handler,
      parameters: params,
      processResults(req, results) {
        const result = handler.processResults(req, results);
        return result && dataParallel.rewrite(result, result.primaryProfile);
      },
      preRequest: dataParallel.preRequest,
    };
  },
});
