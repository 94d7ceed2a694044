// by-label — llm-d's label filter: keeps the endpoints whose label `label` has one of
// `validValues`, and, with `allowsNoLabel`, those without the label at all (llm-d-inference-
// scheduler `pkg/plugins/filter/by_label.go`, v0.7.1). The role filters (decode-filter,
// prefill-filter, encode-filter) are this filter on `llm-d.ai/role`. Parameters: label (required),
// validValues, allowsNoLabel (false); at least one value or allowsNoLabel, as llm-d requires.
// Deprecated upstream in favour of label-selector-filter; kept so older configs load.
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { Filter } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';

export const BY_LABEL_TYPE = 'by-label';

export const byLabelParameters = z
  .strictObject({
    label: z.string({ error: 'required: the label to filter on' }).min(1, { error: 'required: the label to filter on' }),
    validValues: z.array(z.string()).default([]),
    allowsNoLabel: z.boolean().default(false),
  })
  .superRefine((p, ctx) => {
    if (p.validValues.length === 0 && !p.allowsNoLabel) {
      ctx.addIssue({ code: 'custom', path: ['validValues'], message: 'either validValues must be non-empty or allowsNoLabel must be true' });
    }
  });

/** A filter on one label's value (or its absence). Keeps `candidates` itself when all pass. */
export function labelFilter(type: string, name: string, label: string, allowsNoLabel: boolean, values: readonly string[]): Filter {
  const valid = new Set(values);
  const passes = (c: Candidate) => {
    const v = c.endpoint.labels[label];
    return v === undefined ? allowsNoLabel : valid.has(v);
  };
  return {
    type,
    name,
    filter(_req, candidates) {
      return candidates.every(passes) ? candidates : candidates.filter(passes);
    },
  };
}

export const byLabelPlugin = definePlugin({
  type: BY_LABEL_TYPE,
  parameters: byLabelParameters,
  create(name, params): Filter {
    return labelFilter(BY_LABEL_TYPE, name, params.label, params.allowsNoLabel, params.validValues);
  },
});
