// edf-ordering-policy: inside a flow, earliest deadline first, the deadline being the end of the
// request's queue-wait budget (arrival + defaultRequestTTL); requests without one go last, in
// arrival order. Source: llm-d-router `pkg/epp/framework/plugins/flowcontrol/ordering/edf`.
import { z } from 'zod';
import type { OrderingPolicy, QueuedItem } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const EDF_ORDERING_TYPE = 'edf-ordering-policy';

export function createEdfOrdering(name: string): OrderingPolicy {
  return {
    type: EDF_ORDERING_TYPE,
    name,
    less: (a: QueuedItem, b: QueuedItem) => (a.deadline !== b.deadline ? a.deadline < b.deadline : a.seq < b.seq),
  };
}

export const edfOrderingPlugin = definePlugin({
  type: EDF_ORDERING_TYPE,
  parameters: z.strictObject({}),
  create: (name) => createEdfOrdering(name),
});
