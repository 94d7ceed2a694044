// InferenceModelRewrite rules of the served pool, indexed for the request path with GIE's
// precedence (GIE `api/v1alpha2/inferencemodelrewrite_types.go`, v1.5.0): a rule with an exact match on the model beats a generic rule (no
// matches); among equals the oldest resource wins (creationTimestamp, then name, so the order is
// total); within one resource the first rule in list order wins. The watcher replaces the set.

export interface RewriteTarget {
  readonly model: string;
  /** 0 when unset (GIE's int32 zero value). */
  readonly weight: number;
}

export interface RewriteRule {
  /** Name of the InferenceModelRewrite the rule came from (the metric's model_rewrite_name). */
  readonly rewriteName: string;
  readonly targets: readonly RewriteTarget[];
}

export interface RewriteSpec {
  readonly name: string;
  /** creationTimestamp, epoch ms. */
  readonly createdMs: number;
  readonly rules: readonly { readonly models: readonly string[]; readonly targets: readonly RewriteTarget[] }[];
}

interface Ranked extends RewriteRule {
  readonly createdMs: number;
  readonly ruleIndex: number;
}

function byPrecedence(a: Ranked, b: Ranked): number {
  if (a.createdMs !== b.createdMs) return a.createdMs - b.createdMs;
  if (a.rewriteName !== b.rewriteName) return a.rewriteName < b.rewriteName ? -1 : 1;
  return a.ruleIndex - b.ruleIndex;
}

export class ModelRewriteStore {
  private exact: ReadonlyMap<string, RewriteRule> = new Map();
  private generic: RewriteRule | undefined;

  replace(rewrites: readonly RewriteSpec[]): void {
    const exact = new Map<string, Ranked[]>();
    const generic: Ranked[] = [];
    for (const rw of rewrites) {
      rw.rules.forEach((rule, ruleIndex) => {
        const ranked: Ranked = { rewriteName: rw.name, targets: rule.targets, createdMs: rw.createdMs, ruleIndex };
        if (rule.models.length === 0) {
          generic.push(ranked);
          return;
        }
        for (const model of new Set(rule.models)) {
          const list = exact.get(model) ?? [];
          list.push(ranked);
          exact.set(model, list);
        }
      });
    }
    const winners = new Map<string, RewriteRule>();
    for (const [model, list] of exact) winners.set(model, list.sort(byPrecedence)[0]);
    this.exact = winners;
    this.generic = generic.sort(byPrecedence)[0];
  }

  /** The highest-precedence rule for `model`, or undefined when none applies. */
  ruleFor(model: string): RewriteRule | undefined {
    return this.exact.get(model) ?? this.generic;
  }
}
