// The request's ModelRewriter backed by the pool's InferenceModelRewrites: find the winning rule
// for the request's model (precedence in ModelRewriteStore), then choose one target with
// probability weight / Σ weights; when no target has a weight, uniformly (GIE's selection). A
// rule with no targets leaves the model as it is.
import type { ModelRewriteStore, RewriteTarget } from './model-rewrites.js';

/** Chooses a target model for the client's model name (InferenceModelRewrite); undefined = keep. */
export type ModelRewriter = (model: string) => { target: string; ruleName: string } | undefined;

export function modelRewriter(store: ModelRewriteStore, random: () => number = Math.random): ModelRewriter {
  return (model) => {
    const rule = store.ruleFor(model);
    if (!rule || rule.targets.length === 0) return undefined;
    return { target: chooseTarget(rule.targets, random), ruleName: rule.rewriteName };
  };
}

export function chooseTarget(targets: readonly RewriteTarget[], random: () => number): string {
  let total = 0;
  for (const t of targets) total += Math.max(0, t.weight);
  if (total <= 0) return targets[Math.min(targets.length - 1, Math.floor(random() * targets.length))].model;
  let x = random() * total;
  for (const t of targets) {
    const w = Math.max(0, t.weight);
    if (x < w) return t.model;
    x -= w;
  }
  // random() is < 1, so only rounding can get here: the last weighted target.
  for (let i = targets.length - 1; i >= 0; i--) if (targets[i].weight > 0) return targets[i].model;
  return targets[targets.length - 1].model;
}
