// The generic prefix scorer of llm-d-router's split: `prefix-cache-scorer` with
// `prefixMatchInfoProducerName` owns no index; it scores each endpoint by the match another plugin
// published for this request (approx-prefix-cache-producer, precise-prefix-cache-producer, or a
// prefix scorer): matched (weighted) blocks ÷ request blocks, capped at 1. The named plugin must
// exist and publish matches (checked once the config is loaded).
import { isPrepareDataPlugin, type ReferencingPlugin, type Scorer } from '../framework/plugins.js';
import { readMatch, PREFIX_MATCH } from './plugin-support.js';

export function matchInfoScorer(type: string, name: string, producerName: string): Scorer & ReferencingPlugin & { readonly prefixMatchInfoProducerName: string } {
  return {
    type,
    name,
    prefixMatchInfoProducerName: producerName,
    resolveReferences(lookup) {
      const p = lookup.plugin(producerName);
      if (!p) return [{ path: ['prefixMatchInfoProducerName'], kind: 'undefined', name: producerName, message: `plugin ${JSON.stringify(producerName)} is not declared in plugins` }];
      if (!isPrepareDataPlugin(p) || !(p.produces ?? []).some((k) => k.name === PREFIX_MATCH.name)) {
        return [{ path: ['prefixMatchInfoProducerName'], kind: 'wrong-kind', message: `plugin ${JSON.stringify(producerName)} (type ${p.type}) does not produce prefix match info` }];
      }
      return [];
    },
    score(_req, candidates, state, out) {
      const info = readMatch(state, producerName);
      if (!info || info.totalBlocks === 0) return;
      const matched = info.matched(candidates);
      for (let i = 0; i < candidates.length; i++) out[i] = Math.min(1, matched[i] / info.totalBlocks);
    },
  };
}
