// How the EPP reaches the API server (--kubeconfig, else $KUBECONFIG, else the in-cluster
// service account) and how API failures are described: a 403 names the exact permission that is
// missing (verb, resource, API group, namespace) so an operator can fix the Role, a 404 on a
// custom resource names the CRD that is not installed.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  const file = path || process.env.KUBECONFIG;
  if (file) {
    if (!existsSync(file)) throw new TokenrouteError(ERRORS.STARTUP_KUBERNETES, `kubeconfig ${file} does not exist`);
    kc.loadFromFile(file);
  } else if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    throw new TokenrouteError(ERRORS.STARTUP_KUBERNETES, 'no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod (in-cluster service account)');
  }
  if (!kc.getCurrentCluster()) throw new TokenrouteError(ERRORS.STARTUP_KUBERNETES, `kubeconfig${file ? ` ${file}` : ''} has no current cluster`);
  return kc;
}

/** One API permission, as a Role rule would grant it. */
export interface Permission {
  readonly verb: string;
  readonly resource: string;
  /** API group ("" = core). */
  readonly group: string;
  readonly namespace?: string;
}

export function describePermission(p: Permission): string {
  return `"${p.verb}" on "${p.resource}" in API group "${p.group}"${p.namespace ? ` in namespace "${p.namespace}"` : ''}`;
}

/** HTTP status of a client-node error (ApiException.code, Watch's statusCode), if any. */
export function statusOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** The API server's Status.message inside a client-node error, if it sent one. */
function serverMessage(err: unknown): string | undefined {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message;
    } catch {
      return body.length > 0 && body.length < 500 ? body : undefined;
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message;
  return undefined;
}

export type ApiFailure = 'forbidden' | 'unauthorized' | 'not_found' | 'gone' | 'conflict' | 'unavailable' | 'other';

export function classify(err: unknown): ApiFailure {
  const status = statusOf(err);
  if (status === 403) return 'forbidden';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 410) return 'gone';
  if (status === 409) return 'conflict';
  if (status === undefined || status >= 500 || status === 429) return 'unavailable';
  return 'other';
}

/** A one-line description of a failed API call that says what to fix. */
export function describeApiError(err: unknown, attempted: Permission): string {
  const kind = classify(err);
  const detail = serverMessage(err) ?? (err as Error)?.message ?? String(err);
  switch (kind) {
    case 'forbidden':
      return `RBAC: missing permission ${describePermission(attempted)} (grant it in the EPP's Role/ClusterRole): ${detail}`;
    case 'unauthorized':
      return `the API server rejected the EPP's credentials (401) while trying ${describePermission(attempted)}: ${detail}`;
    case 'not_found':
      return attempted.group !== ''
        ? `resource "${attempted.resource}.${attempted.group}" not found (is its CRD installed? see manifests/crds): ${detail}`
        : `${attempted.resource} not found: ${detail}`;
    default:
      return `${attempted.verb} ${attempted.resource}${attempted.group ? `.${attempted.group}` : ''} failed: ${detail}`;
  }
}
