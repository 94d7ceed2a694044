// encode-filter — llm-d's role filter for the encode stage (multimodal E/P/D): keeps endpoints
// labelled `llm-d.ai/role` encode, encode-prefill or encode-prefill-decode; never unlabelled ones
// (llm-d-inference-scheduler `pkg/plugins/filter/roles.go`, v0.7.1). No parameters.
import { roleFilterPlugin } from './roles.js';

export const encodeFilterPlugin = roleFilterPlugin('encode');
