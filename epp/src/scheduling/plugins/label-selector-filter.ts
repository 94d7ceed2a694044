// label-selector-filter — llm-d's Kubernetes label-selector filter: keeps the endpoints whose
// labels match a metav1.LabelSelector (`matchLabels`, and `matchExpressions` with In, NotIn,
// Exists, DoesNotExist), with Kubernetes' semantics: all terms must hold; an empty selector
// matches every endpoint; NotIn and DoesNotExist hold for an endpoint without the key
// (llm-d-router `pkg/epp/framework/plugins/scheduling/filter/bylabel/selector.go`; in v0.7.1
// `pkg/plugins/filter/by_label_selector.go` as `by-label-selector`, accepted as an alias).
// Parameters: the selector itself.
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { Filter } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';

export const LABEL_SELECTOR_FILTER_TYPE = 'label-selector-filter';
export const BY_LABEL_SELECTOR_TYPE = 'by-label-selector';

const requirement = z
  .strictObject({
    key: z.string().min(1),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'], { error: 'expected In, NotIn, Exists or DoesNotExist' }),
    values: z.array(z.string()).default([]),
  })
  .superRefine((r, ctx) => {
    const needsValues = r.operator === 'In' || r.operator === 'NotIn';
    if (needsValues && r.values.length === 0) ctx.addIssue({ code: 'custom', path: ['values'], message: `must be non-empty for ${r.operator}` });
    if (!needsValues && r.values.length > 0) ctx.addIssue({ code: 'custom', path: ['values'], message: `must be empty for ${r.operator}` });
  });

export const labelSelectorParameters = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).default({}),
  matchExpressions: z.array(requirement).default([]),
});
export type LabelSelector = z.output<typeof labelSelectorParameters>;

/** Whether `labels` match `selector` (Kubernetes LabelSelectorAsSelector semantics). */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels)) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions) {
    const v = labels[r.key];
    switch (r.operator) {
      case 'In':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'NotIn':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'Exists':
        if (v === undefined) return false;
        break;
      case 'DoesNotExist':
        if (v !== undefined) return false;
        break;
    }
  }
  return true;
}

export const labelSelectorFilterPlugin = definePlugin({
  type: LABEL_SELECTOR_FILTER_TYPE,
  parameters: labelSelectorParameters,
  create(name, params): Filter {
    const passes = (c: Candidate) => selectorMatches(params, c.endpoint.labels);
    return {
      type: LABEL_SELECTOR_FILTER_TYPE,
      name,
      filter(_req, candidates) {
        return candidates.every(passes) ? candidates : candidates.filter(passes);
      },
    };
  },
});
