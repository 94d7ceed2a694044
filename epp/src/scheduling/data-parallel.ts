// llm-d's data-parallel rewrite, shared by data-parallel-profile-handler and pd-profile-handler's
// `primaryPort`: vLLM data-parallel ranks listen on one port each (the pool's targetPorts), but
// the proxy sends the request to the pod's primary port, where llm-d's sidecar forwards it to the
// rank named in x-data-parallel-host-port (llm-d-inference-scheduler v0.7.1
// `pkg/plugins/profile/dp_profile_handler.go` and `pd_profile_handler.go` ProcessResults).
import type { Candidate } from '../framework/endpoint.js';
import { setUpstreamHeader, type PreRequestPlugin, type SchedulingResult } from '../framework/plugins.js';
import { formatEndpointAddress } from '../protocol/endpoint-address.js';
import { DATA_PARALLEL_ENDPOINT_HEADER } from '../protocol/keys.js';

/** The candidate as the proxy must address it: same pod, another port. */
export function onPort(c: Candidate, port: number): Candidate {
  const key = formatEndpointAddress(c.endpoint.address, port);
  return { ...c, endpoint: { ...c.endpoint, port, key } };
}

export interface DataParallelRewrite {
  /** The result with `profile`'s targets moved to the primary port (undefined: no target). */
  rewrite(result: SchedulingResult, profile: string): SchedulingResult | undefined;
  /** Names the rank the rewritten result really chose, for the sidecar. */
  readonly preRequest: PreRequestPlugin['preRequest'];
}

export function dataParallelRewrite(primaryPort: number): DataParallelRewrite {
  /** The rank each rewritten result really chose. */
  const rankOf = new WeakMap<SchedulingResult, string>();
  return {
    rewrite(result, profile) {
      const run = result.profileResults.get(profile);
      const chosen = run?.targets[0];
      if (!run || !chosen) return undefined;
      const profileResults = new Map(result.profileResults);
      profileResults.set(profile, { ...run, targets: run.targets.map((t) => onPort(t, primaryPort)) });
      const rewritten: SchedulingResult = { ...result, profileResults };
      rankOf.set(rewritten, chosen.endpoint.key);
      return rewritten;
    },
    preRequest(_req, result, state) {
      const rank = rankOf.get(result);
      if (rank !== undefined) setUpstreamHeader(state, DATA_PARALLEL_ENDPOINT_HEADER, rank);
    },
  };
}
