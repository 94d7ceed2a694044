// lora-affinity-scorer: prefers endpoints that already serve the request's LoRA adapter (the
// target model name), so adapters are not loaded on every replica. Scores, first match wins:
//   1.0  the adapter is active (vllm:lora_requests_info running_lora_adapters);
//   0.8  it is not active but there is room to load it (active + waiting < max_lora);
//   0.6  it is waiting to be loaded;
//   0.0  otherwise.
// Note the room check comes before "waiting", exactly as in GIE v1.5.0
// framework/plugins/scheduling/scorer/loraaffinity/lora_affinity.go. No parameters.
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const LORA_AFFINITY_SCORER_TYPE = 'lora-affinity-scorer';

export const loraAffinityScorerPlugin = definePlugin({
  type: LORA_AFFINITY_SCORER_TYPE,
  parameters: noParameters,
  create(name): Scorer {
    return {
      type: LORA_AFFINITY_SCORER_TYPE,
      name,
      score(req, candidates, _state, out) {
        const adapter = req.targetModel;
        for (let i = 0; i < candidates.length; i++) {
          const m = candidates[i].metrics;
          if (m.activeLoras.includes(adapter)) out[i] = 1.0;
          else if (m.activeLoras.length + m.waitingLoras.length < m.maxLoras) out[i] = 0.8;
          else if (m.waitingLoras.includes(adapter)) out[i] = 0.6;
          else out[i] = 0;
        }
      },
    };
  },
});
