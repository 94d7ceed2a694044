// flow-rate-limit-policy (tokenroute's; issue 14): per-tenant rate limits in front of flow control,
// as AIBrix's gateway enforces per-user RPM/TPM: each flow (fairness id) has a bucket of requests
// and one of tokens, each refilled continuously at its per-minute rate and holding at most one
// minute's worth. A request needs one request and its estimated prompt tokens; generated tokens are
// charged when the model server reports them (the bucket may go below zero: the tenant then waits
// for the refill). Over a limit the request is refused at once — 429, x-llm-d-request-dropped-
// reason: rejected-rate-limited, retry-after: seconds until the bucket holds what it needs — and
// never queued. Referenced by flowControl.rateLimitPolicyPluginRef (tokenroute's key).
// Parameters (defaults): requestsPerMinute (0 = no request limit), tokensPerMinute (0 = no token
// limit), overrides ([{fairnessId, requestsPerMinute?, tokensPerMinute?}]: per-tenant limits).
// Memory: a bucket per tenant seen; full buckets (idle tenants) are dropped once more than
// MAX_BUCKETS are held.
import { z } from 'zod';
import type { FlowKey, RateLimitPolicy } from '../../framework/flow-control.js';
import { definePlugin } from '../../framework/registry.js';
import { nonNegativeInt } from '../../framework/params.js';

export const FLOW_RATE_LIMIT_TYPE = 'flow-rate-limit-policy';
export const MAX_BUCKETS = 10_000;

const limits = {
  requestsPerMinute: nonNegativeInt(0),
  tokensPerMinute: nonNegativeInt(0),
};

export const flowRateLimitParameters = z.strictObject({
  ...limits,
  overrides: z
    .array(
      z.strictObject({
        fairnessId: z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty fairness id' }),
        requestsPerMinute: limits.requestsPerMinute.optional(),
        tokensPerMinute: limits.tokensPerMinute.optional(),
      }),
      { error: 'expected a list' },
    )
    .default([]),
});
export type FlowRateLimitParameters = z.output<typeof flowRateLimitParameters>;

interface Limits {
  readonly rpm: number;
  readonly tpm: number;
}

/** A flow's two buckets, as of `at`. */
interface Buckets {
  requests: number;
  tokens: number;
  at: number;
}

export function createFlowRateLimit(name: string, params: FlowRateLimitParameters): RateLimitPolicy {
  const base: Limits = { rpm: params.requestsPerMinute, tpm: params.tokensPerMinute };
  const perFlow = new Map<string, Limits>(
    params.overrides.map((o) => [o.fairnessId, { rpm: o.requestsPerMinute ?? base.rpm, tpm: o.tokensPerMinute ?? base.tpm }]),
  );
  const buckets = new Map<string, Buckets>();
  const limitsOf = (id: string) => perFlow.get(id) ?? base;

  /** The flow's buckets refilled up to `now` (created full). */
  const refill = (id: string, l: Limits, now: number): Buckets => {
    let b = buckets.get(id);
    if (!b) {
      if (buckets.size >= MAX_BUCKETS) forgetFull(now);
      b = { requests: l.rpm, tokens: l.tpm, at: now };
      buckets.set(id, b);
      return b;
    }
    const minutes = Math.max(0, now - b.at) / 60_000;
    b.requests = Math.min(l.rpm, b.requests + minutes * l.rpm);
    b.tokens = Math.min(l.tpm, b.tokens + minutes * l.tpm);
    b.at = now;
    return b;
  };

  const forgetFull = (now: number) => {
    for (const [id, b] of buckets) {
      const l = limitsOf(id);
      const minutes = (now - b.at) / 60_000;
      if (b.requests + minutes * l.rpm >= l.rpm && b.tokens + minutes * l.tpm >= l.tpm) buckets.delete(id);
    }
  };

  return {
    type: FLOW_RATE_LIMIT_TYPE,
    name,
    acquire(flow: FlowKey, promptTokens: number, now: number): number {
      const l = limitsOf(flow.id);
      if (l.rpm === 0 && l.tpm === 0) return 0;
      const b = refill(flow.id, l, now);
      // ms until each bucket holds what this request needs (a request needing more tokens than a
      // minute's worth waits for a full bucket).
      const needTokens = Math.min(promptTokens, l.tpm);
      const waitRequests = l.rpm > 0 && b.requests < 1 ? ((1 - b.requests) / l.rpm) * 60_000 : 0;
      const waitTokens = l.tpm > 0 && b.tokens < needTokens ? ((needTokens - b.tokens) / l.tpm) * 60_000 : 0;
      const wait = Math.max(waitRequests, waitTokens);
      if (wait > 0) return wait;
      if (l.rpm > 0) b.requests -= 1;
      if (l.tpm > 0) b.tokens -= promptTokens;
      return 0;
    },
    served(flow: FlowKey, outputTokens: number, now: number): void {
      const l = limitsOf(flow.id);
      if (l.tpm === 0) return;
      refill(flow.id, l, now).tokens -= outputTokens;
    },
  };
}

export const flowRateLimitPlugin = definePlugin({
  type: FLOW_RATE_LIMIT_TYPE,
  parameters: flowRateLimitParameters,
  create: (name, params) => createFlowRateLimit(name, params),
});
