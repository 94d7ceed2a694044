// InferenceObjectives of the served pool, by name: the request path looks up the priority named by
// the x-gateway-inference-objective header (unset priority = 0; unknown name = no objective, so
// the Director uses 0 too). The Kubernetes watcher is the only writer; it replaces the whole set.

export interface ObjectiveSpec {
  readonly name: string;
  /** spec.priority; undefined when unset (GIE: means 0). */
  readonly priority: number | undefined;
}

export class ObjectiveStore {
  private byName: ReadonlyMap<string, number> = new Map();

  /** Replaces the set (objectives already filtered to this pool). */
  replace(objectives: readonly ObjectiveSpec[]): void {
    const next = new Map<string, number>();
    for (const o of objectives) next.set(o.name, o.priority ?? 0);
    this.byName = next;
  }

  /** Priority of the objective `name`, or undefined when the pool has no such objective. */
  priority(name: string): number | undefined {
    return this.byName.get(name);
  }

  size(): number {
    return this.byName.size;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}
