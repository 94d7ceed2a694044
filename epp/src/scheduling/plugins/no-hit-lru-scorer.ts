// no-hit-lru-scorer — llm-d's scorer for requests no endpoint has a prefix cache hit for ("cold"
// requests): it spreads them over the endpoints least recently given a cold request, so new
// cache contents grow evenly instead of piling onto one server; warm requests score 0.5
// everywhere and leave the decision to the prefix scorer (llm-d-inference-scheduler
// `pkg/plugins/scorer/no_hit_lru.go`, v0.7.1). Cold: endpoints never given a cold request first,
// in candidate order, then the others oldest first; score = 1 − rank ÷ (candidates − 1). After
// the decision the chosen endpoint (and the `prefill` profile's) becomes the most recent, in an LRU
// of `lruSize` endpoints. "Hit" is read from a prefix plugin's published match (prefix-cache-scorer
// or precise-prefix-cache-scorer); without one every request is cold, as in llm-d.
// Parameters: lruSize (1024), prefixPluginName (the prefix plugin whose match to read; llm-d's
// default "prefix-cache-scorer"), prefixPluginType (accepted).
import { z } from 'zod';
import type { PreRequestPlugin, Scorer } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { stateKey } from '../../framework/cycle-state.js';
import { readMatch } from '../../prefix/plugin-support.js';

export const NO_HIT_LRU_SCORER_TYPE = 'no-hit-lru-scorer';

export const noHitLruScorerParameters = z
  .strictObject({
    lruSize: z.number().int().default(1024),
    prefixPluginType: z.string().optional(),
    prefixPluginName: z.string().min(1).optional(),
  })
  .transform((p) => ({ lruSize: p.lruSize > 0 ? p.lruSize : 1024, prefixPluginName: p.prefixPluginName ?? p.prefixPluginType ?? 'prefix-cache-scorer' }));

export const noHitLruScorerPlugin = definePlugin({
  type: NO_HIT_LRU_SCORER_TYPE,
  parameters: noHitLruScorerParameters,
  create(name, params): Scorer & PreRequestPlugin {
    /** Endpoint keys in least- to most-recently-used order (Map keeps insertion order). */
    const lru = new Map<string, true>();
    const COLD = stateKey<boolean>(`${NO_HIT_LRU_SCORER_TYPE}/${name}/cold`);
    const touch = (key: string) => {
      lru.delete(key);
      lru.set(key, true);
      if (lru.size > params.lruSize) lru.delete(lru.keys().next().value as string);
    };
    return {
      type: NO_HIT_LRU_SCORER_TYPE,
      name,
      score(_req, candidates, state, out) {
        const info = readMatch(state, params.prefixPluginName) ?? readMatch(state, undefined);
        const cold = !info || info.totalBlocks === 0 || info.matched(candidates).every((m) => m === 0);
        state.write(COLD, cold);
        const n = candidates.length;
        if (!cold) {
          out.fill(0.5);
          return;
        }
        if (n === 1) {
          out[0] = 1;
          return;
        }
        const position = new Map<string, number>();
        let i = 0;
        for (const key of lru.keys()) position.set(key, i++);
        let neverUsed = 0;
        for (let c = 0; c < n; c++) if (!position.has(candidates[c].endpoint.key)) neverUsed++;
        let nextNew = 0;
        for (let c = 0; c < n; c++) {
          const pos = position.get(candidates[c].endpoint.key);
          const rank = pos === undefined ? nextNew++ : neverUsed + pos;
          out[c] = Math.max(0, 1 - rank / (n - 1));
        }
      },
      preRequest(_req, result, state) {
        if (!state.read(COLD)) return;
        const target = result.profileResults.get(result.primaryProfile)?.targets[0];
        if (target) touch(target.endpoint.key);
        const prefill = result.profileResults.get('prefill')?.targets[0];
        if (prefill && result.primaryProfile !== 'prefill') touch(prefill.endpoint.key);
      },
    };
  },
});
