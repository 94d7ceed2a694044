// always-disagg-multimodal-decider — llm-d's encode decider for E/P/D: run the encode stage on an
// encoder endpoint whenever a chat request carries an image, video or audio part
// (`image_url`, `video_url`, `input_audio` content blocks), never for text-only requests
// (llm-d-inference-scheduler `pkg/plugins/profile/always_disagg_mm_decider.go` and
// `multimodal_helpers.go`, v0.7.1). Use it as disagg-profile-handler's `deciders.encode`; the
// encoders go to the decode side in x-encoder-hosts-ports. No parameters.
import type { DisaggDecider } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE = 'always-disagg-multimodal-decider';

/** A chat request with at least one image, video or audio content block (counted by the parser). */
export function hasMultimodalContent(req: InferenceRequest): boolean {
  return req.body.kind === 'chat-completions' && req.body.content.mediaBlocks > 0;
}

export const alwaysDisaggMultimodalDeciderPlugin = definePlugin({
  type: ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE,
  parameters: noParameters,
  create(name): DisaggDecider {
    return { type: ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE, name, disaggregate: (req) => hasMultimodalContent(req) };
  },
});
