// decode-filter — llm-d's role filter for the decode stage: keeps endpoints labelled
// `llm-d.ai/role` decode, prefill-decode, both or encode-prefill-decode, and unlabelled ones
// (aggregated serving), as llm-d-inference-scheduler `pkg/plugins/filter/roles.go` (v0.7.1).
// Put it first in the decode profile. No parameters.
import { roleFilterPlugin } from './roles.js';

export const decodeFilterPlugin = roleFilterPlugin('decode');
