// global-strict-fairness-policy (GIE/llm-d's default fairness): inside a priority band, the flow
// whose next request comes first by the band's ordering policy dispatches — one queue for the whole
// band as far as order goes (with FCFS ordering: the oldest request of the band), while flows stay
// separate for their limits and metrics. Source: llm-d-router `pkg/epp/framework/plugins/
// flowcontrol/fairness/globalstrict` ("BestHead"). Cost: O(flows with requests waiting).
import { z } from 'zod';
import type { FairnessPolicy, FlowQueueView, PriorityBandView } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';

export const GLOBAL_STRICT_FAIRNESS_TYPE = 'global-strict-fairness-policy';

export function createGlobalStrictFairness(name: string): FairnessPolicy {
  return {
    type: GLOBAL_STRICT_FAIRNESS_TYPE,
    name,
    newState: () => undefined,
    pickFlow(band: PriorityBandView): FlowQueueView {
      const flows = band.flows;
      let best = flows[0];
      let bestHead = best.head();
      for (let i = 1; i < flows.length; i++) {
        const head = flows[i].head();
        if (best.ordering.less(head, bestHead)) {
          best = flows[i];
          bestHead = head;
        }
      }
      return best;
    },
  };
}

export const globalStrictFairnessPlugin = definePlugin({
  type: GLOBAL_STRICT_FAIRNESS_TYPE,
  parameters: z.strictObject({}),
  create: (name) => createGlobalStrictFairness(name),
});
