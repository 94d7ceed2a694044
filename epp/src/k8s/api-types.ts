// The Kubernetes API shapes the EPP reads (InferencePool v1, InferenceObjective and
// InferenceModelRewrite v1alpha2, core Pods, coordination Leases), as plain TypeScript types of
// the JSON the API server returns, and where they live (group, version, plural). The CRDs
// themselves are manifests/crds/*.yaml; docs/kubernetes.md describes every field the EPP reads.
import type { KubernetesObject, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';

export const POOL_GROUP = 'inference.networking.k8s.io';
export const POOL_VERSION = 'v1';
export const POOL_KIND = 'InferencePool';
export const POOL_PLURAL = 'inferencepools';

export const ALPHA_GROUP = 'inference.networking.x-k8s.io';
export const ALPHA_VERSION = 'v1alpha2';
export const OBJECTIVE_KIND = 'InferenceObjective';
export const OBJECTIVE_PLURAL = 'inferenceobjectives';
export const REWRITE_KIND = 'InferenceModelRewrite';
export const REWRITE_PLURAL = 'inferencemodelrewrites';

/**
 * Object metadata. Typed as client-node's V1ObjectMeta, but objects that arrive through a watch
 * are raw JSON: timestamps may be RFC 3339 strings rather than Dates (see creationMs).
 */
export type ObjectMeta = V1ObjectMeta;

export interface InferencePool extends KubernetesObject {
  metadata?: ObjectMeta;
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    targetPorts?: { number?: number }[];
    appProtocol?: string;
    endpointPickerRef?: {
      group?: string;
      kind?: string;
      name?: string;
      port?: { number?: number };
      failureMode?: 'FailOpen' | 'FailClose' | string;
    };
  };
  status?: {
    parents?: {
      parentRef: { group?: string; kind?: string; name: string; namespace?: string };
      controllerName?: string;
      conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[];
    }[];
  };
}

export interface PoolObjectReference {
  group?: string;
  kind?: string;
  name?: string;
}

export interface InferenceObjective extends KubernetesObject {
  metadata?: ObjectMeta;
  spec?: { priority?: number; poolRef?: PoolObjectReference };
}

export interface InferenceModelRewrite extends KubernetesObject {
  metadata?: ObjectMeta;
  spec?: {
    poolRef?: PoolObjectReference;
    rules?: {
      matches?: { model?: { type?: string; value?: string } }[];
      targets?: { modelRewrite?: string; weight?: number }[];
    }[];
  };
}

export type Pod = V1Pod;

/** API path of a namespaced collection: /api/v1/... for the core group, /apis/g/v/... otherwise. */
export function collectionPath(group: string, version: string, namespace: string, plural: string): string {
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

/** "name" or "namespace/name" for logs and metrics. */
export function objectName(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

/** creationTimestamp as epoch ms (client-node may hand us a Date or an RFC 3339 string). */
export function creationMs(obj: { metadata?: { creationTimestamp?: unknown } }): number {
  const t = obj.metadata?.creationTimestamp as string | Date | undefined;
  if (t === undefined) return Number.POSITIVE_INFINITY;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
}
