// slo-deadline-ordering-policy: inside a flow, the request whose time-to-first-token objective
// ends first goes first — arrival + the client's `x-llm-d-slo-ttft-ms` — so a request that asked
// for 200 ms overtakes one that asked for 5 s; requests without an objective go last, in arrival
// order. Source: llm-d-router `pkg/epp/framework/plugins/flowcontrol/ordering/slodeadline`.
import { z } from 'zod';
import type { OrderingPolicy, QueuedItem } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const SLO_DEADLINE_ORDERING_TYPE = 'slo-deadline-ordering-policy';

const sloDeadline = (i: QueuedItem) => (i.sloTtftMs === undefined ? Infinity : i.enqueuedAt + i.sloTtftMs);

export function createSloDeadlineOrdering(name: string): OrderingPolicy {
  return {
    type: SLO_DEADLINE_ORDERING_TYPE,
    name,
    less(a: QueuedItem, b: QueuedItem) {
      const da = sloDeadline(a);
      const db = sloDeadline(b);
      return da !== db ? da < db : a.seq < b.seq;
    },
  };
}

export const sloDeadlineOrderingPlugin = definePlugin({
  type: SLO_DEADLINE_ORDERING_TYPE,
  parameters: z.strictObject({}),
  create: (name) => createSloDeadlineOrdering(name),
});
