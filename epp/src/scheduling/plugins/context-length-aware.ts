// context-length-aware — llm-d's filter and scorer for pools whose servers are sized for
// different prompt lengths: each endpoint may carry a label (`llm-d.ai/context-length-range`,
// "min-max" tokens). As a scorer it prefers endpoints whose range holds the prompt — narrower
// ranges and more headroom score higher — and scores others lower the further the prompt is from
// their range; unlabelled endpoints score 0.5, a malformed label 0. With `enableFiltering` it also
// drops endpoints whose range does not hold the prompt (unlabelled ones stay)
// (llm-d-inference-scheduler `pkg/plugins/multi/context_length_aware.go`, v0.7.1, same formula).
// The prompt length is counted when a tokenizer gave it (token-producer through a prefix plugin's
// match); otherwise llm-d's estimate: message and prompt characters × 0.25.
// Parameters: label ("llm-d.ai/context-length-range"), enableFiltering (false).
import { z } from 'zod';
import type { Candidate } from '../../framework/endpoint.js';
import type { CycleState, Filter, Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { definePlugin } from '../../framework/registry.js';
import { readMatch } from '../../prefix/plugin-support.js';

export const CONTEXT_LENGTH_AWARE_TYPE = 'context-length-aware';

export const contextLengthAwareParameters = z.strictObject({
  label: z.string().min(1, { error: "'label' must be specified" }).default('llm-d.ai/context-length-range'),
  enableFiltering: z.boolean().default(false),
});

interface Range {
  readonly min: number;
  readonly max: number;
}

/** "min-max" → the range, or undefined when malformed (as llm-d's parseContextRange). */
export function parseContextRange(text: string): Range | undefined {
  const parts = text.split('-');
  if (parts.length !== 2) return undefined;
  const [min, max] = parts.map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : NaN));
  if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) return undefined;
  return { min, max };
}

/** llm-d's calculateRangeScore. */
export function rangeScore(length: number, r: Range): number {
  const fallback = 0.3;
  if (length >= r.min && length <= r.max) {
    const width = r.max - r.min;
    if (width === 0) return 1;
    const raw = 0.7 * (1 / (1 + width / 10_000)) + 0.3 * ((r.max - length) / width);
    return fallback + raw * (1 - fallback);
  }
  const distance = length > r.max ? length - r.max : r.min - length;
  return fallback / (1 + distance / 1000);
}

/** Counted tokens when a tokenizer gave them, else llm-d's estimate (characters × 0.25). */
function promptLength(req: InferenceRequest, state: CycleState): number {
  const match = readMatch(state, undefined);
  if (match?.tokensExact) return match.promptTokens;
  // The parser counted the messages' string contents and a string prompt (req.body.content).
  const chars = req.body.content.textChars;
  return Math.floor(chars * 0.25);
}

export const contextLengthAwarePlugin = definePlugin({
  type: CONTEXT_LENGTH_AWARE_TYPE,
  parameters: contextLengthAwareParameters,
  create(name, params): Filter & Scorer {
    const rangeOf = (c: Candidate): Range | 'none' | undefined => {
      const text = c.endpoint.labels[params.label];
      return text === undefined ? 'none' : parseContextRange(text);
    };
    return {
      type: CONTEXT_LENGTH_AWARE_TYPE,
      name,
      filter(req, candidates, state) {
        if (!params.enableFiltering) return candidates;
        const length = promptLength(req, state);
        return candidates.filter((c) => {
          const r = rangeOf(c);
          return r === 'none' || (r !== undefined && length >= r.min && length <= r.max);
        });
      },
      score(req, candidates, state, out) {
        const length = promptLength(req, state);
        for (let i = 0; i < candidates.length; i++) {
          const r = rangeOf(candidates[i]);
          out[i] = r === 'none' ? 0.5 : r === undefined ? 0 : rangeScore(length, r);
        }
      },
    };
  },
});
