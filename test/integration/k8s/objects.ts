// Helpers that create and change real API objects on the test API server: Pods (there is no
// kubelet, so a test sets podIP and the Ready condition itself through the status subresource),
// InferencePools, InferenceObjectives and InferenceModelRewrites, plus a Role/RoleBinding-style
// grant for the non-admin EPP identity.
import { expectStatus, type KubeApiServer } from './harness.js';

export interface PodSpec {
  readonly labels: Record<string, string>;
  /** Pod IP (use 127.0.0.x); omit for a pod without an IP yet. */
  readonly ip?: string;
  readonly ready?: boolean;
  /** Declared container ports. */
  readonly ports?: number[];
  /** Keeps the pod around as "terminating" after delete until removeFinalizers(). */
  readonly finalizer?: boolean;
}

const FINALIZER = 'test.tokenroute.dev/hold';

export async function createPod(s: KubeApiServer, ns: string, name: string, spec: PodSpec): Promise<void> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: spec.labels, ...(spec.finalizer ? { finalizers: [FINALIZER] } : {}) },
    spec: {
      containers: [{ name: 'server', image: 'model-server:test', ...(spec.ports ? { ports: spec.ports.map((p) => ({ containerPort: p })) } : {}) }],
    },
  };
  expectStatus(await s.request('POST', `/api/v1/namespaces/${ns}/pods`, pod), [201], `create pod ${name}`);
  if (spec.ip !== undefined) await setPodStatus(s, ns, name, { ip: spec.ip, ready: spec.ready ?? true });
}

/** Sets status.podIP and the Ready condition (what the kubelet would do). */
export async function setPodStatus(s: KubeApiServer, ns: string, name: string, st: { ip?: string; ready: boolean }): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const status: Record<string, unknown> = {
    phase: 'Running',
    conditions: [
      { type: 'Ready', status: st.ready ? 'True' : 'False', lastTransitionTime: now },
      { type: 'ContainersReady', status: st.ready ? 'True' : 'False', lastTransitionTime: now },
    ],
  };
  if (st.ip) {
    status.podIP = st.ip;
    status.podIPs = [{ ip: st.ip }];
  }
  expectStatus(
    await s.request('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status }, { contentType: 'application/merge-patch+json' }),
    [200],
    `set status of pod ${name}`,
  );
}

export async function setPodReady(s: KubeApiServer, ns: string, name: string, ready: boolean): Promise<void> {
  await setPodStatus(s, ns, name, { ready });
}

export async function patchPodLabels(s: KubeApiServer, ns: string, name: string, labels: Record<string, string | null>): Promise<void> {
  expectStatus(
    await s.request('PATCH', `/api/v1/namespaces/${ns}/pods/${name}`, { metadata: { labels } }, { contentType: 'application/merge-patch+json' }),
    [200],
    `label pod ${name}`,
  );
}

export async function deletePod(s: KubeApiServer, ns: string, name: string): Promise<void> {
  expectStatus(await s.request('DELETE', `/api/v1/namespaces/${ns}/pods/${name}?gracePeriodSeconds=0`), [200, 202], `delete pod ${name}`);
}

export async function removeFinalizers(s: KubeApiServer, ns: string, name: string): Promise<void> {
  expectStatus(
    await s.request('PATCH', `/api/v1/namespaces/${ns}/pods/${name}`, { metadata: { finalizers: null } }, { contentType: 'application/merge-patch+json' }),
    [200],
    `remove finalizers of ${name}`,
  );
}

export interface PoolSpecInput {
  readonly selector: Record<string, string>;
  readonly ports: number[];
  readonly eppService?: string;
}

export function poolObject(ns: string, name: string, p: PoolSpecInput): Record<string, unknown> {
  return {
    apiVersion: 'inference.networking.k8s.io/v1',
    kind: 'InferencePool',
    metadata: { name, namespace: ns },
    spec: {
      selector: { matchLabels: p.selector },
      targetPorts: p.ports.map((number) => ({ number })),
      endpointPickerRef: { name: p.eppService ?? `${name}-epp`, port: { number: 9002 } },
    },
  };
}

const POOLS = (ns: string) => `/apis/inference.networking.k8s.io/v1/namespaces/${ns}/inferencepools`;
const ALPHA = (ns: string, plural: string) => `/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/${ns}/${plural}`;

export async function createPool(s: KubeApiServer, ns: string, name: string, p: PoolSpecInput): Promise<void> {
  expectStatus(await s.request('POST', POOLS(ns), poolObject(ns, name, p)), [201], `create pool ${name}`);
}

export async function patchPool(s: KubeApiServer, ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  expectStatus(
    await s.request('PATCH', `${POOLS(ns)}/${name}`, { spec }, { contentType: 'application/merge-patch+json' }),
    [200],
    `patch pool ${name}`,
  );
}

export async function deletePool(s: KubeApiServer, ns: string, name: string): Promise<void> {
  expectStatus(await s.request('DELETE', `${POOLS(ns)}/${name}`), [200], `delete pool ${name}`);
}

export async function createObjective(s: KubeApiServer, ns: string, name: string, pool: string, priority?: number, poolGroup?: string): Promise<void> {
  const body = {
    apiVersion: 'inference.networking.x-k8s.io/v1alpha2',
    kind: 'InferenceObjective',
    metadata: { name, namespace: ns },
    spec: { ...(priority !== undefined ? { priority } : {}), poolRef: { name: pool, ...(poolGroup !== undefined ? { group: poolGroup } : {}) } },
  };
  expectStatus(await s.request('POST', ALPHA(ns, 'inferenceobjectives'), body), [201], `create objective ${name}`);
}

export async function deleteObjective(s: KubeApiServer, ns: string, name: string): Promise<void> {
  expectStatus(await s.request('DELETE', `${ALPHA(ns, 'inferenceobjectives')}/${name}`), [200], `delete objective ${name}`);
}

export interface RuleInput {
  readonly models?: string[];
  readonly targets: { model: string; weight?: number }[];
}

export async function createRewrite(s: KubeApiServer, ns: string, name: string, pool: string, rules: RuleInput[]): Promise<void> {
  const body = {
    apiVersion: 'inference.networking.x-k8s.io/v1alpha2',
    kind: 'InferenceModelRewrite',
    metadata: { name, namespace: ns },
    spec: {
      poolRef: { name: pool },
      rules: rules.map((r) => ({
        ...(r.models ? { matches: r.models.map((value) => ({ model: { value } })) } : {}),
        targets: r.targets.map((t) => ({ modelRewrite: t.model, ...(t.weight !== undefined ? { weight: t.weight } : {}) })),
      })),
    },
  };
  expectStatus(await s.request('POST', ALPHA(ns, 'inferencemodelrewrites'), body), [201], `create rewrite ${name}`);
}

export async function deleteRewrite(s: KubeApiServer, ns: string, name: string): Promise<void> {
  expectStatus(await s.request('DELETE', `${ALPHA(ns, 'inferencemodelrewrites')}/${name}`), [200], `delete rewrite ${name}`);
}
