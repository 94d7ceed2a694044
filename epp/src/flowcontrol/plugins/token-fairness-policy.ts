// token-fairness-policy (tokenroute's; issue 14): fairness by tokens, not by requests. Inside a
// priority band the flow (tenant) that has received the least service goes next, service being
// counted in tokens — prompt tokens × inputTokenWeight when a request is dispatched, generated
// tokens × outputTokenWeight when it completes — so a tenant sending 32K-token prompts cannot
// starve one sending 200-token prompts, as it can when every request counts as one (round-robin)
// or when the oldest goes first (global-strict). This is the Virtual Token Counter of Sheng et al.,
// "Fairness in Serving Large Language Models" (OSDI 2024), which AIBrix ships as `vtc-basic`; a
// flow that starts waiting has its counter lifted to the smallest counter of the flows already
// waiting, so an idle tenant cannot bank credit and then monopolise the pool (the paper's rule).
// Ties (a newcomer lifted to the floor) go to the flow whose next request is smaller, then the
// older one: among tenants served alike, the short request first.
// Headroom for the under-served (`reservedCapacity`, ours, off by default): order alone cannot
// give a light tenant a fast first token when a heavy one keeps every slot busy — its request
// waits for a slot to free, i.e. for a long request to end. With a reserve, the tenant with the
// highest recent service rate (prompt tokens dispatched, decayed with a half-life of a quarter of
// `reserveWindow`) among those dispatched within `reserveWindow` may dispatch only up to its band's
// ceiling minus the reserve; the others may use the whole pool. (The virtual counters cannot tell
// who is heavy: a newcomer is lifted to the waiting tenants' level, so counters flip back and
// forth; a decayed rate does not.) Alone it uses everything: the reserve costs capacity only while
// another tenant is active, and that tenant is what uses it.
// Parameters (defaults): inputTokenWeight (1), outputTokenWeight (2 — the paper's weights: a
// generated token costs the server about twice a prompt token), reservedCapacity (0, a fraction
// of the pool's saturation scale in [0, 1)), reserveWindow ("10s").
// Cost per pick: O(flows waiting in the band). Counters of tenants no longer waiting are dropped
// once they are no ahead of the waiting ones (they would be lifted anyway), so memory follows the
// tenants that are active, capped at MAX_COUNTERS.
import { z } from 'zod';
import type { FairnessPolicy, FlowKey, FlowQueueView, PriorityBandView, QueuedItem } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';
import { duration, nonNegativeNumber } from '../../framework/params.js';

export const TOKEN_FAIRNESS_TYPE = 'token-fairness-policy';

/** Counters kept per band at most; beyond it the smallest counters of idle tenants go first. */
export const MAX_COUNTERS = 10_000;

export const tokenFairnessParameters = z.strictObject({
  inputTokenWeight: nonNegativeNumber(1),
  outputTokenWeight: nonNegativeNumber(2),
  reservedCapacity: z.number({ error: 'expected a number in [0, 1)' }).min(0, { error: 'expected a number in [0, 1)' }).lt(1, { error: 'expected a number in [0, 1)' }).default(0),
  reserveWindow: duration('10s'),
});
export type TokenFairnessParameters = z.output<typeof tokenFairnessParameters>;

/** Per band: tokens of service per tenant, and who was waiting at the last pick. */
export interface TokenFairnessState {
  readonly counters: Map<string, number>;
  /** Per tenant dispatched within the reserve's window: its decayed service rate and when last dispatched. */
  readonly recent: Map<string, { rate: number; at: number }>;
  waiting: Set<string>;
  /** The least-served waiting tenant's counter at the last pick: a newcomer's floor when nobody waited. */
  lastFloor: number;
}

/** A service rate decayed to time `t`. */
function decayed(r: { rate: number; at: number }, t: number, halfLife: number): number {
  return r.rate * Math.pow(0.5, (t - r.at) / halfLife);
}

export function createTokenFairness(name: string, params: TokenFairnessParameters, now: () => number = Date.now): FairnessPolicy {
  const halfLife = Math.max(1, params.reserveWindow / 4);
  const charge = (state: unknown, id: string, tokens: number) => {
    const s = state as TokenFairnessState;
    s.counters.set(id, (s.counters.get(id) ?? 0) + tokens);
  };
  return {
    type: TOKEN_FAIRNESS_TYPE,
    name,
    newState: (): TokenFairnessState => ({ counters: new Map(), recent: new Map(), waiting: new Set(), lastFloor: 0 }),
    pickFlow(band: PriorityBandView, eligible?: (flow: FlowQueueView) => boolean): FlowQueueView | undefined {
      const s = band.policyState as TokenFairnessState;
      const flows = band.flows;
      // The least-served of the tenants that were already waiting: what newcomers are lifted to.
      let floor = Infinity;
      for (const f of flows) if (s.waiting.has(f.key.id)) floor = Math.min(floor, s.counters.get(f.key.id) ?? 0);
      if (floor === Infinity) floor = s.lastFloor;
      const now = new Set<string>();
      let best: FlowQueueView | undefined;
      let bestCount = Infinity;
      let least = Infinity;
      for (const f of flows) {
        const id = f.key.id;
        let c = s.counters.get(id) ?? 0;
        if (!s.waiting.has(id) && c < floor) s.counters.set(id, (c = floor));
        now.add(id);
        least = Math.min(least, c);
        if (eligible && !eligible(f)) continue;
        if (c < bestCount || (c === bestCount && best !== undefined && before(f.head(), best.head()))) {
          best = f;
          bestCount = c;
        }
      }
      s.waiting = now;
      s.lastFloor = least;
      if (s.counters.size > 2 * now.size + 64) forgetIdle(s, least);
      return best;
    },
    dispatched(state, flow: FlowKey, promptTokens: number) {
      charge(state, flow.id, promptTokens * params.inputTokenWeight);
      if (params.reservedCapacity > 0) {
        const s = state as TokenFairnessState;
        const t = now();
        const r = s.recent.get(flow.id);
        s.recent.set(flow.id, { rate: (r ? decayed(r, t, halfLife) : 0) + promptTokens, at: t });
      }
    },
    ceiling(state, flow: FlowKey, bandCeiling: number) {
      if (params.reservedCapacity === 0) return bandCeiling;
      const s = state as TokenFairnessState;
      const t = now();
      const since = t - params.reserveWindow;
      const own = s.recent.get(flow.id);
      const mine = own && own.at >= since ? decayed(own, t, halfLife) : 0;
      let others = false;
      for (const [id, r] of s.recent) {
        if (r.at < since) {
          s.recent.delete(id);
          continue;
        }
        if (id === flow.id) continue;
        others = true;
        if (decayed(r, t, halfLife) >= mine) return bandCeiling; // someone is served as fast
      }
      return others ? bandCeiling - params.reservedCapacity : bandCeiling;
    },
    served(state, flow: FlowKey, outputTokens: number) {
      charge(state, flow.id, outputTokens * params.outputTokenWeight);
    },
  };
}

/** Equal service: the smaller request first, then the older. */
function before(a: QueuedItem, b: QueuedItem): boolean {
  return a.tokens !== b.tokens ? a.tokens < b.tokens : a.seq < b.seq;
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
  create: (name, params, ctx) => createTokenFairness(name, params, ctx.now),
});
