// round-robin-fairness-policy: inside a priority band, flows (fairness ids) take turns — one
// request each per round, whatever each flow's backlog or arrival times, so a tenant sending a
// burst cannot make the others wait behind it. Source: llm-d-router `pkg/epp/framework/plugins/
// flowcontrol/fairness/roundrobin`. The cursor is the last flow served; the next is the flow after
// it in the band's order (flows join at the back when they start waiting). Cost: O(flows).
import { z } from 'zod';
import type { FairnessPolicy, FlowQueueView, PriorityBandView } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const ROUND_ROBIN_FAIRNESS_TYPE = 'round-robin-fairness-policy';

interface Cursor {
  /** The flow served last and the place it had then. */
  last: string | undefined;
  lastIndex: number;
}

export function createRoundRobinFairness(name: string): FairnessPolicy {
  return {
    type: ROUND_ROBIN_FAIRNESS_TYPE,
    name,
    newState: (): Cursor => ({ last: undefined, lastIndex: 0 }),
    pickFlow(band: PriorityBandView): FlowQueueView {
      const cursor = band.policyState as Cursor;
      const flows = band.flows;
      let i = 0;
      if (cursor.last !== undefined) {
        // Still where it was: the flow after it is next. Gone, or moved to the back (it emptied
        // and started waiting again): the flows after it moved down one place, so its old place
        // holds the next in turn.
        const at = flows[cursor.lastIndex]?.key.id === cursor.last ? cursor.lastIndex : -1;
        i = at >= 0 ? (at + 1) % flows.length : cursor.lastIndex % flows.length;
      }
      const chosen = flows[i];
      cursor.last = chosen.key.id;
      cursor.lastIndex = i;
      return chosen;
    },
  };
}

export const roundRobinFairnessPlugin = definePlugin({
  type: ROUND_ROBIN_FAIRNESS_TYPE,
  parameters: z.strictObject({}),
  create: (name) => createRoundRobinFairness(name),
});
