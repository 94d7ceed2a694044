// prefill-filter — llm-d's role filter for the prefill stage: keeps endpoints labelled
// `llm-d.ai/role` prefill, encode-prefill, prefill-decode, both or encode-prefill-decode; never
// unlabelled ones (llm-d-inference-scheduler `pkg/plugins/filter/roles.go`, v0.7.1). Put it first
// in the prefill profile of a disaggregated config. No parameters.
import { roleFilterPlugin } from './roles.js';

export const prefillFilterPlugin = roleFilterPlugin('prefill');
