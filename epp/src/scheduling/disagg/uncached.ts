// The prompt tokens a decode endpoint would have to prefill itself: prompt tokens − matched blocks
// on that endpoint × block size, from a prefix plugin's published match (prefix-cache-scorer or
// precise-prefix-cache-scorer). Both P/D deciders read it and note it in the decision trace.
import type { Candidate } from '../../framework/endpoint.js';
import type { CycleState } from '../../framework/plugins.js';
import { readMatch } from '../../prefix/plugin-support.js';

export interface UncachedPrompt {
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly uncachedTokens: number;
  /** Counted by a tokenizer (edge filter, EPP) rather than estimated (characters ÷ 4). */
  readonly exact: boolean;
}

/** Undefined when no prefix plugin published a match for this request. */
export function uncachedPrompt(state: CycleState, decode: Candidate, prefixPluginName: string | undefined): UncachedPrompt | undefined {
  const info = readMatch(state, prefixPluginName);
  if (!info) {
    state.note('disaggReason', 'no prefix match info (no prefix plugin ran)');
    return undefined;
  }
  const cachedTokens = info.matched([decode])[0] * info.blockSize;
  state.note('disaggPromptTokens', info.promptTokens);
  state.note('disaggCachedTokens', cachedTokens);
  state.note('disaggTokensExact', info.tokensExact);
  return { promptTokens: info.promptTokens, cachedTokens, uncachedTokens: info.promptTokens - cachedTokens, exact: info.tokensExact };
}
