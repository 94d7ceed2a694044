// Prometheus metrics of the Kubernetes integration, registered on the EPP's own registry next to
// GIE's metrics: watch health (errors, relists), unusable resources (one gauge series per issue
// while it lasts) and leadership. Names are tokenroute_* because GIE has no equivalents.
import { Counter, Gauge, type Registry } from 'prom-client';

export class K8sMetrics {
  readonly watchErrors: Counter<'resource' | 'reason'>;
  readonly relists: Counter<'resource'>;
  readonly resourceIssues: Gauge<'kind' | 'name' | 'reason'>;
  readonly isLeader: Gauge<'lease'>;
  readonly leaderTransitions: Counter<'lease'>;

  constructor(registry: Registry) {
    this.watchErrors = counterOn(registry, {
      name: 'tokenroute_k8s_watch_errors_total',
      help: 'Kubernetes list/watch failures by resource and reason (forbidden, not_found, gone, unavailable, other); each is retried with backoff.',
      labelNames: ['resource', 'reason'],
    });
    this.relists = counterOn(registry, {
      name: 'tokenroute_k8s_relists_total',
      help: 'Full lists of a watched resource (the first sync, then after 410 Gone or a broken watch).',
      labelNames: ['resource'],
    });
    this.resourceIssues = gaugeOn(registry, {
      name: 'tokenroute_k8s_resource_issues',
      help: 'Resources the API server accepted but the EPP cannot fully use: 1 per (kind, name, reason) while the issue lasts.',
      labelNames: ['kind', 'name', 'reason'],
    });
    this.isLeader = gaugeOn(registry, {
      name: 'tokenroute_k8s_leader',
      help: '1 while this replica holds the leader-election Lease (or election is off), else 0.',
      labelNames: ['lease'],
    });
    this.leaderTransitions = counterOn(registry, {
      name: 'tokenroute_k8s_leader_transitions_total',
      help: 'Times this replica gained or lost leadership.',
      labelNames: ['lease'],
    });
  }
}

function counterOn<L extends string>(registry: Registry, cfg: { name: string; help: string; labelNames: L[] }): Counter<L> {
  const existing = registry.getSingleMetric(cfg.name);
  return (existing as Counter<L> | undefined) ?? new Counter({ ...cfg, registers: [registry] });
}

function gaugeOn<L extends string>(registry: Registry, cfg: { name: string; help: string; labelNames: L[] }): Gauge<L> {
  const existing = registry.getSingleMetric(cfg.name);
  return (existing as Gauge<L> | undefined) ?? new Gauge({ ...cfg, registers: [registry] });
}
