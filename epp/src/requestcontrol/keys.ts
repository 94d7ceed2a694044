// Header names request control reads or guards (GIE's control headers, llm-d's P/D header, our
// own x-tokenroute-* protocol). Protocol keys of the ext_proc layer live in epp/src/protocol.

export const DESTINATION_HEADER = 'x-gateway-destination-endpoint';
export const OBJECTIVE_HEADER = 'x-gateway-inference-objective';
export const FAIRNESS_ID_HEADER = 'x-gateway-inference-fairness-id';
export const MODEL_REWRITE_HEADER = 'x-gateway-model-name-rewrite';
export const DEFAULT_FAIRNESS_ID = 'default-flow';
export const PREFILL_HEADER = 'x-gateway-prefill-endpoints';

export const SUBSET_HINT_NAMESPACE = 'envoy.lb.subset_hint';
export const SUBSET_HINT_KEY = 'x-gateway-destination-endpoint-subset';

/** Routing headers a client must never be able to set for the upstream. */
export function isInternalHeader(name: string): boolean {
  return name.startsWith(DESTINATION_HEADER) || name === PREFILL_HEADER || name.startsWith('x-tokenroute-');
}
