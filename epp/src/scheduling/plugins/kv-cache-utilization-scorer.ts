// kv-cache-utilization-scorer: scores endpoints by free KV-cache, 1 − usage (usage is the
// fraction in [0, 1] scraped from vllm:kv_cache_usage_perc and equivalents). An endpoint with
// room for more KV blocks can batch the request without preempting others.
// Formula: GIE v1.5.0 framework/plugins/scheduling/scorer/kvcacheutilization. No parameters.
// A non-finite usage (broken scrape) scores 0; usage above 1 is clamped to 0 by the framework.
import type { Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const KV_CACHE_UTILIZATION_SCORER_TYPE = 'kv-cache-utilization-scorer';

export const kvCacheUtilizationScorerPlugin = definePlugin({
  type: KV_CACHE_UTILIZATION_SCORER_TYPE,
  parameters: noParameters,
  create(name): Scorer {
    return {
      type: KV_CACHE_UTILIZATION_SCORER_TYPE,
      name,
      score(_req, candidates, _state, out) {
        for (let i = 0; i < candidates.length; i++) {
          const usage = candidates[i].metrics.kvCacheUsage;
          out[i] = Number.isFinite(usage) ? 1 - usage : 0;
        }
      },
    };
  },
});
