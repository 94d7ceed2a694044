// Header names request control reads or guards. GIE's and llm-d's names come from
// protocol/keys.ts (the one place they are spelled); added here: the rule for internal headers.
import { DATA_PARALLEL_ENDPOINT_HEADER, DESTINATION_ENDPOINT_KEY, ENCODER_ENDPOINTS_HEADER, PREFILL_ENDPOINT_HEADER } from '../protocol/keys.js';

export {
  DESTINATION_ENDPOINT_KEY as DESTINATION_HEADER,
  OBJECTIVE_HEADER,
  FAIRNESS_ID_HEADER,
  MODEL_NAME_REWRITE_HEADER as MODEL_REWRITE_HEADER,
  DEFAULT_FAIRNESS_ID,
  SUBSET_HINT_NAMESPACE,
  SUBSET_HINT_KEY,
} from '../protocol/keys.js';

/** Routing headers a client must never be able to set for the upstream. */
export function isInternalHeader(name: string): boolean {
  return (
    name.startsWith(DESTINATION_ENDPOINT_KEY) ||
    name === PREFILL_ENDPOINT_HEADER ||
    name === ENCODER_ENDPOINTS_HEADER ||
    name === DATA_PARALLEL_ENDPOINT_HEADER ||
    name.startsWith('x-tokenroute-')
  );
}
