// Pure rules that turn Kubernetes objects into EPP endpoints: the pool's selector and target
// ports, which pods count (Ready, not terminating, with an IP — GIE's pod reconciler rule), one
// endpoint per pod IP × target port, and the checks that find pools the API server accepted but
// the EPP cannot fully use. No I/O here, so it is unit-tested without an API server.
import type { Endpoint } from '../framework/endpoint.js';
import { formatEndpointAddress } from '../protocol/endpoint-address.js';
import { DEFAULT_ENGINE_LABEL_KEY } from '../datalayer/engines.js';
import type { Issue } from './issues.js';
import type { InferencePool, Pod } from './api-types.js';

/** What the EPP needs of a pool: which pods, which ports. */
export interface PoolView {
  readonly name: string;
  readonly namespace: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly targetPorts: readonly number[];
}

export function poolView(pool: InferencePool): { view: PoolView | undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  const name = pool.metadata?.name ?? '';
  const namespace = pool.metadata?.namespace ?? '';
  const selector = pool.spec?.selector?.matchLabels ?? {};
  const ports: number[] = [];
  for (const p of pool.spec?.targetPorts ?? []) {
    const n = p?.number;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 && !ports.includes(n)) ports.push(n);
  }
  if (Object.keys(selector).length === 0) {
    issues.push({ reason: 'EmptySelector', message: 'spec.selector.matchLabels is empty; the EPP selects no pods (it never selects the whole namespace)' });
  }
  if (ports.length === 0) issues.push({ reason: 'NoTargetPorts', message: 'spec.targetPorts has no valid port; no endpoint can be built' });
  if (issues.length > 0) return { view: undefined, issues };
  return { view: { name, namespace, selector, targetPorts: ports }, issues };
}

export function selectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  const keys = Object.keys(selector);
  if (keys.length === 0) return false;
  const l = labels ?? {};
  return keys.every((k) => l[k] === selector[k]);
}

/** GIE's rule: not being deleted, condition Ready=True, and an IP to send traffic to. */
export function isPodRoutable(pod: Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  if (!pod.status?.podIP) return false;
  const ready = pod.status.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True';
}

/** The endpoints of one pod in the pool: one per target port on the pod's primary IP. */
export function podEndpoints(pod: Pod, pool: PoolView, defaultEngine: string): Endpoint[] {
  if (!selectorMatches(pool.selector, pod.metadata?.labels) || !isPodRoutable(pod)) return [];
  const address = pod.status!.podIP!;
  const labels = { ...(pod.metadata?.labels ?? {}) };
  const podName = pod.metadata?.name ?? address;
  const namespace = pod.metadata?.namespace ?? pool.namespace;
  const engine = labels[DEFAULT_ENGINE_LABEL_KEY] || defaultEngine;
  return pool.targetPorts.map((port) => ({ key: formatEndpointAddress(address, port), address, port, podName, namespace, labels, engine }));
}

/** All endpoints of the pool from the pods in cache; a duplicate ip:port keeps the first pod. */
export function poolEndpoints(pods: readonly Pod[], pool: PoolView, defaultEngine: string): Endpoint[] {
  const out = new Map<string, Endpoint>();
  for (const pod of pods) {
    for (const ep of podEndpoints(pod, pool, defaultEngine)) if (!out.has(ep.key)) out.set(ep.key, ep);
  }
  return [...out.values()];
}

export interface PoolCheckOptions {
  /** Name of the Service in front of this EPP (--endpoint-picker-service), when known. */
  readonly eppServiceName?: string;
}

/** Issues of a usable pool that depend on its pods and references (logged once, as metrics). */
export function poolIssues(pool: InferencePool, view: PoolView, pods: readonly Pod[], opts: PoolCheckOptions = {}): Issue[] {
  const issues: Issue[] = [];
  const matched = pods.filter((p) => selectorMatches(view.selector, p.metadata?.labels));
  if (matched.length === 0) {
    issues.push({
      reason: 'SelectorMatchesNoPods',
      message: `no pod in namespace ${view.namespace} has labels ${Object.entries(view.selector).map(([k, v]) => `${k}=${v}`).join(',')}`,
    });
  } else {
    // Containers need not declare ports, so only a pool whose pods all declare ports, none of
    // them a target port, is reported: traffic would go to ports nothing says it listens on.
    const declaring = matched.filter((p) => declaredPorts(p).size > 0);
    if (declaring.length === matched.length && declaring.every((p) => !view.targetPorts.some((t) => declaredPorts(p).has(t)))) {
      issues.push({
        reason: 'TargetPortsNotDeclared',
        message: `none of the ${matched.length} selected pods declares a containerPort in targetPorts [${view.targetPorts.join(',')}]`,
      });
    }
  }
  const ref = pool.spec?.endpointPickerRef;
  if (!ref) {
    issues.push({ reason: 'EndpointPickerRefMissing', message: 'spec.endpointPickerRef is not set: gateways will not call this EPP for the pool' });
  } else {
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Service';
    if (group !== '' || kind !== 'Service') {
      issues.push({ reason: 'EndpointPickerRefNotService', message: `spec.endpointPickerRef is ${kind}.${group || 'core'} ${ref.name}, not a Service of this EPP` });
    } else if (opts.eppServiceName && ref.name !== opts.eppServiceName) {
      issues.push({
        reason: 'EndpointPickerRefOtherEPP',
        message: `spec.endpointPickerRef names Service ${ref.name}, but this EPP is behind Service ${opts.eppServiceName}: another EPP serves this pool`,
      });
    }
  }
  return issues;
}

function declaredPorts(pod: Pod): Set<number> {
  const out = new Set<number>();
  for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if ((p.protocol ?? 'TCP') === 'TCP') out.add(p.containerPort);
  return out;
}

/**
 * Parses GIE's --endpoint-selector: `k=v,k2==v2` (equality only, as labels.ConvertSelectorToLabelsMap).
 * Throws with the offending part.
 */
export function parseEndpointSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^([^=!\s]+)\s*==?\s*([^=\s]*)$/.exec(part);
    if (!m) throw new Error(`--endpoint-selector: "${part}" is not key=value`);
    out[m[1]] = m[2];
  }
  if (Object.keys(out).length === 0) throw new Error('--endpoint-selector: no key=value given');
  return out;
}

/** Parses --endpoint-target-ports: 1-8 comma-separated distinct ports. */
export function parseTargetPorts(text: string): number[] {
  const ports: number[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const n = Number(part);
    if (!/^\d+$/.test(part) || n < 1 || n > 65535) throw new Error(`--endpoint-target-ports: "${part}" is not a port number 1-65535`);
    if (ports.includes(n)) throw new Error(`--endpoint-target-ports: port ${n} listed twice`);
    ports.push(n);
  }
  if (ports.length < 1 || ports.length > 8) throw new Error('--endpoint-target-ports: give 1 to 8 ports');
  return ports;
}

export function labelSelectorString(selector: Readonly<Record<string, string>>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
