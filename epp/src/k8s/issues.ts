// Resources the API server accepts but the EPP cannot (fully) use — a pool whose selector matches
// no pod, target ports no pod declares, an endpointPickerRef naming another EPP, an objective or
// rewrite bound to another pool group — are reported here: logged once when the issue appears
// (with its reason), logged again when it clears, and kept as a gauge series while it lasts.
// The EPP itself keeps serving whatever is usable.
import type { Logger } from '../observability/logger.js';
import type { K8sMetrics } from './metrics.js';

export interface Issue {
  /** CamelCase reason, like a Kubernetes condition reason. */
  readonly reason: string;
  readonly message: string;
}

export class IssueReporter {
  /** `${kind}/${name}` → reason → message */
  private readonly current = new Map<string, Map<string, string>>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: K8sMetrics,
  ) {}

  /** Replaces the issues of one object; logs only what appeared or cleared. */
  set(kind: string, name: string, issues: readonly Issue[]): void {
    const key = `${kind}/${name}`;
    const before = this.current.get(key) ?? new Map<string, string>();
    const after = new Map(issues.map((i) => [i.reason, i.message]));
    for (const [reason, message] of after) {
      if (before.has(reason)) continue;
      this.logger.warn({ kind, name, reason }, `${kind} ${name} cannot be fully used: ${message}`);
      this.metrics.resourceIssues.set({ kind, name, reason }, 1);
    }
    for (const reason of before.keys()) {
      if (after.has(reason)) continue;
      this.logger.info({ kind, name, reason }, `${kind} ${name}: issue ${reason} resolved`);
      this.metrics.resourceIssues.remove({ kind, name, reason });
    }
    if (after.size === 0) this.current.delete(key);
    else this.current.set(key, after);
  }

  /** Clears every issue of objects of `kind` not in `keep` (e.g. deleted objectives). */
  retain(kind: string, keep: ReadonlySet<string>): void {
    for (const key of [...this.current.keys()]) {
      if (!key.startsWith(`${kind}/`)) continue;
      const name = key.slice(kind.length + 1);
      if (!keep.has(name)) this.set(kind, name, []);
    }
  }

  list(): { kind: string; name: string; reason: string; message: string }[] {
    const out: { kind: string; name: string; reason: string; message: string }[] = [];
    for (const [key, m] of this.current) {
      const slash = key.indexOf('/');
      for (const [reason, message] of m) out.push({ kind: key.slice(0, slash), name: key.slice(slash + 1), reason, message });
    }
    return out;
  }
}
