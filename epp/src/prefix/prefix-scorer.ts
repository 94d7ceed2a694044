// What the approximate and the precise prefix scorers have in common, once: both consume the
// block keys token-producer wrote for them (PREFIX_INPUTS), look them up in their own index for
// the request's candidates (memoized per candidate list, so a filter and the scorer share one
// lookup), publish the match for prefix-cache-affinity-filter (PREFIX_MATCH), score matched ÷
// request blocks, and after the decision tell their index which endpoints will hold the prompt
// (the primary target and, with P/D, the `prefill` profile's). Each scorer supplies only its
// index: the lookup, the score's cap, what recording means, and its index's figures. The chosen
// endpoint's match is observed in GIE's inference_extension_prefix_indexer_hit_ratio (matched ÷
// request blocks) and _hit_bytes (GIE's estimate: 4 characters per token; gateway-api-inference-
// extension v1.5.0 `pkg/epp/metrics/metrics.go` RecordPrefixCacheMatch).
import type { Candidate } from '../framework/endpoint.js';
import type { CycleState, PrefixIndexPlugin, PrefixIndexStats, KvEventStats, PrepareDataPlugin, PreRequestPlugin, Scorer, SchedulingResult } from '../framework/plugins.js';
import { stateKey } from '../framework/cycle-state.js';
import type { InferenceRequest } from '../framework/request.js';
import type { PluginHistogram, PluginMetrics } from '../framework/registry.js';
import type { KeyNeed, PrefixInputs } from './keys/prefix-inputs.js';
import { memoMatch, publishMatch, PREFIX_MATCH } from './plugin-support.js';
import { PREFIX_INPUTS, type PrefixKeyConsumer, type TokenProducer } from './token-producer.js';

export interface PrefixIndexBinding {
  readonly type: string;
  readonly name: string;
  /** Block size and count to ask token-producer for (may follow the candidates: autoTune). */
  keyNeed(candidates: readonly Candidate[]): KeyNeed;
  /** Matched (weighted) blocks per candidate, same index. */
  lookup(inputs: PrefixInputs, candidates: readonly Candidate[]): Float64Array;
  /** The score for `matched` of `total` blocks (approximate: the fraction; precise: capped at 1). */
  score(matched: number, total: number): number;
  /** Blocks the index holds per candidate, when it tracks what the servers hold (PrefixMatchInfo.heldBlocks). */
  held?(candidates: readonly Candidate[]): Float64Array;
  /** The prompt's blocks will be on `endpoint` (called for the target and the prefill endpoint). */
  record(inputs: PrefixInputs, endpoint: Candidate): void;
  prefixIndexStats(): PrefixIndexStats;
  kvEventStats(): KvEventStats | undefined;
  readonly keySources: Readonly<Record<string, unknown>> | undefined;
  readonly tokenProducerName: string | undefined;
  producerBound?(producer: TokenProducer): void;
}

/** A prefix plugin that publishes its match for others (llm-d-router's *-prefix-cache-producer). */
export type PrefixMatchProducerPlugin = PrepareDataPlugin & PreRequestPlugin & PrefixKeyConsumer & PrefixIndexPlugin;
/** A prefix plugin that also scores with its own match. */
export type PrefixScorerPlugin = PrefixMatchProducerPlugin & Scorer;

interface Matched {
  readonly inputs: PrefixInputs;
  readonly matched: (candidates: readonly Candidate[]) => Float64Array;
}

/** The producer half: match, publish, record. */
export function prefixMatchProducer(binding: PrefixIndexBinding, metrics?: PluginMetrics): PrefixMatchProducerPlugin {
  return build(binding, metrics).producer;
}

/** Producer and scorer in one plugin (prefix-cache-scorer, precise-prefix-cache-scorer). */
export function prefixScorer(binding: PrefixIndexBinding, metrics?: PluginMetrics): PrefixScorerPlugin {
  const { producer, score } = build(binding, metrics);
  return { ...producer, score };
}

/** GIE's average characters per token, behind its byte estimate of a match. */
const CHARS_PER_TOKEN = 4;

interface HitHistograms {
  readonly ratio: PluginHistogram;
  readonly bytes: PluginHistogram;
}

function hitHistograms(metrics: PluginMetrics | undefined): HitHistograms | undefined {
  if (!metrics) return undefined;
  return {
    ratio: metrics.histogram('inference_extension_prefix_indexer_hit_ratio', 'Ratio of prefix length matched to total prefix length in the cache lookup.', [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]),
    bytes: metrics.histogram('inference_extension_prefix_indexer_hit_bytes', 'Length of the prefix match in number of bytes in the cache lookup.', [0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]),
  };
}

function build(binding: PrefixIndexBinding, metrics: PluginMetrics | undefined): { producer: PrefixMatchProducerPlugin; score: Scorer['score'] } {
  const MATCH = stateKey<Matched>(`${binding.type}/${binding.name}/match`);
  const hits = hitHistograms(metrics);
  const held = binding.held ? (c: readonly Candidate[]) => binding.held!(c) : undefined;
  const producer: PrefixMatchProducerPlugin = {
    type: binding.type,
    name: binding.name,
    keySources: binding.keySources,
    tokenProducerName: binding.tokenProducerName,
    consumes: [PREFIX_INPUTS],
    produces: [PREFIX_MATCH],
    keyNeed: (candidates) => binding.keyNeed(candidates),
    producerBound: (p) => binding.producerBound?.(p),
    prefixIndexStats: () => binding.prefixIndexStats(),
    kvEventStats: () => binding.kvEventStats(),
    prepareRequestData(_req: InferenceRequest, _candidates: readonly Candidate[], state: CycleState) {
      const inputs = state.read(PREFIX_INPUTS)?.get(binding.name);
      if (!inputs) return;
      const matched = memoMatch((c) => binding.lookup(inputs, c));
      state.write(MATCH, { inputs, matched });
      publishMatch(state, {
        plugin: binding.name,
        blockSize: inputs.blockSize,
        totalBlocks: inputs.blocks,
        promptTokens: inputs.promptTokens,
        tokensExact: (inputs.source === 'filter' || inputs.source === 'epp-tokenizer') && !inputs.tokensEstimated,
        matched,
        heldBlocks: held,
      });
    },
    preRequest(_req: InferenceRequest, result: SchedulingResult, state: CycleState) {
      const m = state.read(MATCH);
      if (!m || m.inputs.n === 0) return;
      const target = result.profileResults.get(result.primaryProfile)?.targets[0];
      if (target && hits) {
        // Before recording: the match the chosen endpoint had, not the one it is about to have.
        const matchedBlocks = Math.min(m.matched([target])[0], m.inputs.blocks);
        hits.ratio.observe(matchedBlocks / m.inputs.blocks);
        hits.bytes.observe(matchedBlocks * m.inputs.blockSize * CHARS_PER_TOKEN);
      }
      if (target) binding.record(m.inputs, target);
      const prefill = result.primaryProfile !== 'prefill' ? result.profileResults.get('prefill')?.targets[0] : undefined;
      if (prefill) binding.record(m.inputs, prefill);
    },
  };
  const score: Scorer['score'] = (_req, candidates, state, out) => {
    const m = state.read(MATCH);
    if (!m || m.inputs.n === 0) return;
    const matched = m.matched(candidates);
    for (let i = 0; i < candidates.length; i++) out[i] = binding.score(matched[i], m.inputs.blocks);
  };
  return { producer, score };
}
