// Header names request control reads or guards. GIE's names come from protocol/keys.ts (the one
// place they are spelled); added here: llm-d's P/D header and the rule for internal headers.
import { DESTINATION_ENDPOINT_KEY } from '../protocol/keys.js';

export {
  DESTINATION_ENDPOINT_KEY as DESTINATION_HEADER,
  OBJECTIVE_HEADER,
  FAIRNESS_ID_HEADER,
  MODEL_NAME_REWRITE_HEADER as MODEL_REWRITE_HEADER,
  DEFAULT_FAIRNESS_ID,
  SUBSET_HINT_NAMESPACE,
  SUBSET_HINT_KEY,
} from '../protocol/keys.js';

/** llm-d's header naming the prefill endpoint(s) chosen for a disaggregated (P/D) request. */
export const PREFILL_HEADER = 'x-gateway-prefill-endpoints';

/** Routing headers a client must never be able to set for the upstream. */
export function isInternalHeader(name: string): boolean {
  return name.startsWith(DESTINATION_ENDPOINT_KEY) || name === PREFILL_HEADER || name.startsWith('x-tokenroute-');
}
