// llm-d's role label and values (llm-d-inference-scheduler `pkg/plugins/filter/roles.go`, v0.7.1):
// which `llm-d.ai/role` values may serve each stage, and the filter type of each stage
// (decode-filter.ts, prefill-filter.ts, encode-filter.ts). `both` is the deprecated spelling of
// prefill-decode. An unlabelled pod may decode (aggregated serving), never prefill or encode.
import type { Filter } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';
import { labelFilter } from './by-label.js';

export const ROLE_LABEL = 'llm-d.ai/role';

export type Stage = 'decode' | 'prefill' | 'encode';

export const ROLES: Readonly<Record<Stage, { readonly allowsNoLabel: boolean; readonly values: readonly string[] }>> = {
  decode: { allowsNoLabel: true, values: ['decode', 'prefill-decode', 'both', 'encode-prefill-decode'] },
  prefill: { allowsNoLabel: false, values: ['prefill', 'encode-prefill', 'prefill-decode', 'both', 'encode-prefill-decode'] },
  encode: { allowsNoLabel: false, values: ['encode', 'encode-prefill', 'encode-prefill-decode'] },
};

/** The `<stage>-filter` plugin type: no parameters, the stage's role values. */
export function roleFilterPlugin(stage: Stage) {
  const type = `${stage}-filter`;
  return definePlugin({
    type,
    parameters: noParameters,
    create(name): Filter {
      return labelFilter(type, name, ROLE_LABEL, ROLES[stage].allowsNoLabel, ROLES[stage].values);
    },
  });
}
