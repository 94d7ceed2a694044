// token-fairness-policy (tokenroute's; issue 14): fairness by tokens, not by requests. Inside a
// priority band the flow (tenant) that has received the least service goes next, service being
// counted in tokens — prompt tokens × inputTokenWeight when a request is dispatched, generated
// tokens × outputTokenWeight when it completes — so a tenant sending 32K-token prompts cannot
// starve one sending 200-token prompts, as it can when every request counts as one (round-robin)
// or when the oldest goes first (global-strict). This is the Virtual Token Counter of Sheng et al.,
// "Fairness in Serving Large Language Models" (OSDI 2024), which AIBrix ships as `vtc-basic`; a
// flow that starts waiting has its counter lifted to the smallest counter of the flows already
// waiting, so an idle tenant cannot bank credit and then monopolise the pool (the paper's rule).
// Parameters (defaults): inputTokenWeight (1), outputTokenWeight (2 — the paper's weights: a
// generated token costs the server about twice a prompt token).
// Cost per pick: O(flows waiting in the band). Counters of tenants no longer waiting are dropped
// once they are no ahead of the waiting ones (they would be lifted anyway), so memory follows the
// tenants that are active, capped at MAX_COUNTERS.
import { z } from 'zod';
import type { FairnessPolicy, FlowKey, FlowQueueView, PriorityBandView } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeNumber } from '../../framework/params.js';

export const TOKEN_FAIRNESS_TYPE = 'token-fairness-policy';

/** Counters kept per band at most; beyond it the smallest counters of idle tenants go first. */
export const MAX_COUNTERS = 10_000;

export const tokenFairnessParameters = z.strictObject({
  inputTokenWeight: nonNegativeNumber(1),
  outputTokenWeight: nonNegativeNumber(2),
});
export type TokenFairnessParameters = z.output<typeof tokenFairnessParameters>;

/** Per band: tokens of service per tenant, and who was waiting at the last pick. */
export interface TokenFairnessState {
  readonly counters: Map<string, number>;
  waiting: Set<string>;
  /** The least-served waiting tenant's counter at the last pick: a newcomer's floor when nobody waited. */
  lastFloor: number;
}

export function createTokenFairness(name: string, params: TokenFairnessParameters): FairnessPolicy {
  const charge = (state: unknown, id: string, tokens: number) => {
    const s = state as TokenFairnessState;
    s.counters.set(id, (s.counters.get(id) ?? 0) + tokens);
  };
  return {
    type: TOKEN_FAIRNESS_TYPE,
    name,
    newState: (): TokenFairnessState => ({ counters: new Map(), waiting: new Set(), lastFloor: 0 }),
    pick(band: PriorityBandView): FlowQueueView {
      const s = band.policyState as TokenFairnessState;
      const flows = band.flows;
      // The least-served of the tenants that were already waiting: what newcomers are lifted to.
      let floor = Infinity;
      for (const f of flows) if (s.waiting.has(f.key.id)) floor = Math.min(floor, s.counters.get(f.key.id) ?? 0);
      if (floor === Infinity) floor = s.lastFloor;
      const now = new Set<string>();
      let best: FlowQueueView | undefined;
      let bestCount = Infinity;
      for (const f of flows) {
        const id = f.key.id;
        let c = s.counters.get(id) ?? 0;
        if (!s.waiting.has(id) && c < floor) s.counters.set(id, (c = floor));
        now.add(id);
        if (c < bestCount || (c === bestCount && best !== undefined && f.head().seq < best.head().seq)) {
          best = f;
          bestCount = c;
        }
      }
      s.waiting = now;
      s.lastFloor = bestCount;
      if (s.counters.size > 2 * now.size + 64) forgetIdle(s, bestCount);
      return best as FlowQueueView;
    },
    dispatched(state, flow: FlowKey, promptTokens: number) {
      charge(state, flow.id, promptTokens * params.inputTokenWeight);
    },
    served(state, flow: FlowKey, outputTokens: number) {
      charge(state, flow.id, outputTokens * params.outputTokenWeight);
    },
  };
}

/**
 * Drops the counters of tenants not waiting that are at or below `floor` (they would be lifted
 * to the floor when they come back), then, past MAX_COUNTERS, the smallest of the idle ones.
 */
function forgetIdle(s: TokenFairnessState, floor: number): void {
  for (const [id, c] of s.counters) if (!s.waiting.has(id) && c <= floor) s.counters.delete(id);
  if (s.counters.size <= MAX_COUNTERS) return;
  const idle = [...s.counters].filter(([id]) => !s.waiting.has(id)).sort((a, b) => a[1] - b[1]);
  for (let i = 0; i < idle.length && s.counters.size > MAX_COUNTERS; i++) s.counters.delete(idle[i][0]);
}

export const tokenFairnessPlugin = definePlugin({
  type: TOKEN_FAIRNESS_TYPE,
  parameters: tokenFairnessParameters,
  create: (name, params) => createTokenFairness(name, params),
});
