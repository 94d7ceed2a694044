// Integration: our CRDs and manifests against a real API server.
// Real components started: etcd + kube-apiserver on 127.0.0.1 (harness.ts) with our CRDs and the
// Gateway API's real HTTPRoute CRD (sigs.k8s.io/gateway-api, scripts/deps/crds.sh) installed; the EPP's Kubernetes mode
// (informers + leader election) running as a non-admin identity bound only by
// manifests/epp/rbac.yaml.
//   - CRD validation: objects valid upstream are accepted, invalid ones rejected (OpenAPI + CEL).
//   - Every manifest under manifests/ is accepted by a server-side-apply dry run with strict
//     field validation (CRDs first), and every folder's kustomization.yaml lists its files.
//   - RBAC: the Role's verbs suffice, and removing any one of them breaks the EPP with an error
//     that names the missing permission.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Registry } from 'prom-client';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { startKubernetesMode } from '../../../epp/src/k8s/mode.js';
import { builtinRegistry } from '../../../epp/src/main.js';
import { loadEndpointPickerConfig } from '../../../epp/src/config/index.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { captureLogger } from '../../epp/datalayer/helpers.js';
import { apiResolver, createNamespace, dryApply, expectStatus, repoRoot, startKubeApiServer, upstreamCrdFiles, waitFor, type KubeApiServer } from './harness.js';
import { createObjective, createPod, createPool } from './objects.js';

const SA_NS = 'rbac';
const MANIFESTS = join(repoRoot(), 'manifests');
const VERBS = 11; // pods, pools, objectives, rewrites × list/watch; leases × get/create/update
/** The ServiceAccount identity of namespace `ns` (the token file maps a token to this name). */
const saUser = (ns: string) => `system:serviceaccount:${ns}:tokenroute-epp`;
const saGroups = (ns: string) => ['system:serviceaccounts', `system:serviceaccounts:${ns}`];

let server: KubeApiServer;

beforeAll(async () => {
  server = await startKubeApiServer({
    users: [SA_NS, ...Array.from({ length: VERBS }, (_, i) => `rbac-minus-${i}`)].map((ns) => ({ name: saUser(ns), groups: saGroups(ns) })),
    extraCrdFiles: upstreamCrdFiles('gateway-api').filter((f) => f.endsWith('_httproutes.yaml')),
  });
});
afterAll(async () => {
  await server?.stop();
});

/** Dry-run create; resolves the stored object, or rejects with the API server's message. */
async function dryCreate(obj: Record<string, any>): Promise<Record<string, any>> {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const plural = { InferencePool: 'inferencepools', InferenceObjective: 'inferenceobjectives', InferenceModelRewrite: 'inferencemodelrewrites' }[obj.kind as string]!;
  const res = await server.request('POST', `/apis/${group}/${version}/namespaces/default/${plural}?dryRun=All&fieldValidation=Strict`, obj);
  if (res.status !== 201) throw new Error(res.body?.message ?? JSON.stringify(res.body));
  return res.body;
}

const pool = (spec: unknown) => ({ apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: 'p' }, spec });
const objective = (spec: unknown) => ({ apiVersion: 'inference.networking.x-k8s.io/v1alpha2', kind: 'InferenceObjective', metadata: { name: 'o' }, spec });
const rewrite = (spec: unknown) => ({ apiVersion: 'inference.networking.x-k8s.io/v1alpha2', kind: 'InferenceModelRewrite', metadata: { name: 'r' }, spec });
const sel = { matchLabels: { app: 'vllm' } };
const ports = [{ number: 8000 }];

describe('CRD validation matches the upstream API', () => {
  test('InferencePool: valid objects are accepted and defaulted as upstream', async () => {
    const minimal = await dryCreate(pool({ selector: sel, targetPorts: ports }));
    assert.equal(minimal.spec.appProtocol, 'http');
    assert.equal(minimal.spec.endpointPickerRef, undefined, 'endpointPickerRef is optional (v1.6.0)');
    const full = await dryCreate(
      pool({
        selector: { matchLabels: { app: 'vllm', 'model.example.com/name': 'llama-3.1_8b', empty: '' } },
        targetPorts: [1, 2, 3, 4, 5, 6, 7, 65535].map((number) => ({ number })),
        appProtocol: 'kubernetes.io/h2c',
        endpointPickerRef: { name: 'epp', port: { number: 9002 } },
      }),
    );
    assert.deepEqual(full.spec.endpointPickerRef, { group: '', kind: 'Service', name: 'epp', port: { number: 9002 }, failureMode: 'FailClose' });
    await dryCreate(pool({ selector: sel, targetPorts: ports, endpointPickerRef: { group: 'example.com', kind: 'Backend', name: 'x', failureMode: 'FailOpen' } }));
  });

  test('InferencePool: invalid objects are rejected with the upstream rules', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['no targetPorts', { selector: sel, targetPorts: [] }, /targetPorts/],
      ['9 targetPorts', { selector: sel, targetPorts: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((number) => ({ number })) }, /must have at most 8 items/],
      ['duplicate port', { selector: sel, targetPorts: [{ number: 8000 }, { number: 8000 }] }, /port number must be unique/],
      ['port 0', { selector: sel, targetPorts: [{ number: 0 }] }, /should be greater than or equal to 1/],
      ['port 65536', { selector: sel, targetPorts: [{ number: 65536 }] }, /should be less than or equal to 65535/],
      ['Service ref without port', { selector: sel, targetPorts: ports, endpointPickerRef: { name: 'epp' } }, /port is required when kind is 'Service'/],
      ['ref without name', { selector: sel, targetPorts: ports, endpointPickerRef: { port: { number: 1 } } }, /name: Required value/],
      ['bad failureMode', { selector: sel, targetPorts: ports, endpointPickerRef: { name: 'e', port: { number: 1 }, failureMode: 'Sometimes' } }, /Unsupported value: "Sometimes"/],
      ['bad appProtocol', { selector: sel, targetPorts: ports, appProtocol: 'grpc' }, /Unsupported value: "grpc"/],
      ['empty matchLabels', { selector: { matchLabels: {} }, targetPorts: ports }, /should have at least 1 properties/],
      ['bad label value', { selector: { matchLabels: { app: 'not ok' } }, targetPorts: ports }, /should match/],
      ['no selector', { targetPorts: ports }, /selector: Required value/],
      ['matchExpressions', { selector: { matchLabels: { a: 'b' }, matchExpressions: [] }, targetPorts: ports }, /unknown field "spec.selector.matchExpressions"/],
    ];
    for (const [what, spec, message] of cases) await assert.rejects(dryCreate(pool(spec)), message, what);
    await assert.rejects(dryCreate({ ...pool(undefined), spec: undefined }), /spec: Required value/, 'no spec');
  });

  test('InferencePool status: parents with conditions validate as upstream', async () => {
    expectStatus(await server.request('POST', '/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools', pool({ selector: sel, targetPorts: ports })), [201], 'create');
    const base = (await server.request('GET', '/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools/p')).body;
    const cond = { type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' };
    const put = (status: unknown) => server.request('PUT', '/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools/p/status?dryRun=All&fieldValidation=Strict', { ...base, status });
    const ok = await put({ parents: [{ parentRef: { name: 'gw' }, controllerName: 'example.com/gateway', conditions: [cond, { ...cond, type: 'ResolvedRefs', reason: 'ResolvedRefs' }] }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.status.parents[0].parentRef, { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' });
    const bad: [unknown, RegExp][] = [
      [{ parents: [{ parentRef: { name: 'gw' }, conditions: [{ ...cond, status: 'Maybe' }] }] }, /Unsupported value: "Maybe"/],
      [{ parents: [{ parentRef: { name: 'gw' }, controllerName: 'no-slash' }] }, /controllerName/],
      [{ parents: [{ parentRef: { name: 'gw' }, conditions: [cond, cond] }] }, /Duplicate value/],
      [{ parents: [{ conditions: [] }] }, /parentRef: Required value/],
      [{ parents: Array.from({ length: 33 }, (_, i) => ({ parentRef: { name: `gw${i}` } })) }, /must have at most 32 items/],
    ];
    for (const [status, message] of bad) {
      const res = await put(status);
      assert.equal(res.status, 422, JSON.stringify(status));
      assert.match(res.body.message, message);
    }
  });

  test('InferenceObjective: priority and poolRef as upstream', async () => {
    const o = await dryCreate(objective({ priority: -5, poolRef: { name: 'pool' } }));
    assert.deepEqual(o.spec.poolRef, { group: 'inference.networking.k8s.io', kind: 'InferencePool', name: 'pool' });
    await dryCreate(objective({ poolRef: { name: 'pool', group: '' } }));
    const cases: [string, unknown, RegExp][] = [
      ['no poolRef', { priority: 1 }, /poolRef: Required value/],
      ['poolRef without name', { poolRef: {} }, /name: Required value/],
      ['string priority', { priority: 'high', poolRef: { name: 'p' } }, /priority: Invalid value: "string"/],
      ['bad kind', { poolRef: { name: 'p', kind: 'inference pool' } }, /kind/],
      ['bad group', { poolRef: { name: 'p', group: 'Upper.Case' } }, /group/],
      ['legacy criticality', { criticality: 'Critical', poolRef: { name: 'p' } }, /unknown field "spec.criticality"/],
    ];
    for (const [what, spec, message] of cases) await assert.rejects(dryCreate(objective(spec)), message, what);
  });

  test('InferenceModelRewrite: rules, matches and weighted targets as upstream (mixed weights are valid upstream too)', async () => {
    const r = await dryCreate(rewrite({ poolRef: { name: 'p' }, rules: [{ matches: [{ model: { value: 'llama' } }], targets: [{ modelRewrite: 'a', weight: 1 }, { modelRewrite: 'b', weight: 1000000 }] }] }));
    assert.equal(r.spec.rules[0].matches[0].model.type, 'Exact');
    await dryCreate(rewrite({ poolRef: { name: 'p' }, rules: [{ targets: [{ modelRewrite: 'a' }, { modelRewrite: 'b' }] }] }));
    await dryCreate(rewrite({ poolRef: { name: 'p' }, rules: [{ targets: [{ modelRewrite: 'a', weight: 3 }, { modelRewrite: 'b' }] }] }));
    await dryCreate(rewrite({ poolRef: { name: 'p' }, rules: [] }));
    await dryCreate(rewrite({ poolRef: { name: 'p' }, rules: [{ matches: [{ model: { value: 'x' } }] }] }));
    const cases: [string, unknown, RegExp][] = [
      ['no rules', { poolRef: { name: 'p' } }, /rules: Required value/],
      ['no poolRef', { rules: [] }, /poolRef: Required value/],
      ['empty targets', { poolRef: { name: 'p' }, rules: [{ targets: [] }] }, /should have at least 1 items/],
      ['weight 0', { poolRef: { name: 'p' }, rules: [{ targets: [{ modelRewrite: 'a', weight: 0 }] }] }, /greater than or equal to 1/],
      ['weight too big', { poolRef: { name: 'p' }, rules: [{ targets: [{ modelRewrite: 'a', weight: 1000001 }] }] }, /less than or equal to 1e\+06|less than or equal to 1000000/],
      ['prefix match', { poolRef: { name: 'p' }, rules: [{ matches: [{ model: { type: 'Prefix', value: 'l' } }], targets: [{ modelRewrite: 'a' }] }] }, /Unsupported value: "Prefix"/],
      ['empty match value', { poolRef: { name: 'p' }, rules: [{ matches: [{ model: { value: '' } }], targets: [{ modelRewrite: 'a' }] }] }, /at least 1 chars long/],
      ['match without model', { poolRef: { name: 'p' }, rules: [{ matches: [{}], targets: [{ modelRewrite: 'a' }] }] }, /model: Required value/],
      ['target without model', { poolRef: { name: 'p' }, rules: [{ targets: [{ weight: 1 }] }] }, /modelRewrite: Required value/],
    ];
    for (const [what, spec, message] of cases) await assert.rejects(dryCreate(rewrite(spec)), message, what);
  });
});

/** Every YAML file under manifests/, CRDs first. */
function manifestFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.yaml') && name !== 'kustomization.yaml') out.push(p);
    }
  };
  walk(MANIFESTS);
  return out.sort((a, b) => Number(!a.includes('/crds/')) - Number(!b.includes('/crds/')) || a.localeCompare(b));
}

describe('manifests', () => {
  test('every manifest is accepted by a server-side-apply dry run with strict field validation', async () => {
    const resolve = apiResolver(server);
    const applied: string[] = [];
    for (const file of manifestFiles()) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const obj = doc.toJS() as Record<string, any> | null;
        if (!obj) continue;
        const res = await dryApply(server, resolve, obj);
        assert.ok(res.status === 200 || res.status === 201, `${relative(MANIFESTS, file)} ${obj.kind}/${obj.metadata.name}: HTTP ${res.status} ${res.message}`);
        applied.push(`${obj.kind}/${obj.metadata.name}`);
      }
    }
    for (const must of ['CustomResourceDefinition/inferencepools.inference.networking.k8s.io', 'Role/tokenroute-epp', 'RoleBinding/tokenroute-epp', 'ServiceAccount/tokenroute-epp', 'Deployment/tokenroute-epp', 'Service/tokenroute-epp', 'ConfigMap/tokenroute-epp-config', 'InferencePool/vllm-llama3-8b-instruct', 'InferenceObjective/batch', 'InferenceModelRewrite/llama3-canary', 'HTTPRoute/llm-route']) {
      assert.ok(applied.includes(must), `${must} is among the manifests`);
    }
  });

  test('a typo in a manifest is rejected (the dry run is strict)', async () => {
    const resolve = apiResolver(server);
    const { base, plural } = await resolve('apps/v1', 'Deployment');
    const dep = parseAllDocuments(readFileSync(join(MANIFESTS, 'epp', 'deployment.yaml'), 'utf8'))[0].toJS();
    dep.spec.template.spec.containers[0].readinesProbe = structuredClone(dep.spec.template.spec.containers[0].readinessProbe);
    const res = await server.request('PATCH', `${base}/namespaces/default/${plural}/${dep.metadata.name}?dryRun=All&fieldManager=t&fieldValidation=Strict&force=true`, stringify(dep), { contentType: 'application/apply-patch+yaml' });
    // Server-side apply rejects an undeclared field of a built-in type (as 500 "field not declared
    // in schema" for built-ins; 422 for CRDs): either way not accepted, and named.
    assert.ok(res.status === 422 || res.status === 500, JSON.stringify(res.body));
    assert.match(res.body.message, /readinesProbe/);
  });

  test('each folder has a kustomization.yaml listing exactly its manifests; the ConfigMap holds a valid EndpointPickerConfig', () => {
    const folders = ['crds', 'epp', 'samples'];
    const top = parse(readFileSync(join(MANIFESTS, 'kustomization.yaml'), 'utf8'));
    assert.deepEqual([...top.resources].sort(), folders);
    for (const f of folders) {
      const k = parse(readFileSync(join(MANIFESTS, f, 'kustomization.yaml'), 'utf8'));
      assert.equal(k.kind, 'Kustomization');
      const files = readdirSync(join(MANIFESTS, f)).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml').sort();
      assert.deepEqual([...k.resources].sort(), files, `manifests/${f}/kustomization.yaml`);
    }
    const cm = parse(readFileSync(join(MANIFESTS, 'epp', 'configmap.yaml'), 'utf8'));
    const loaded = loadEndpointPickerConfig(cm.data['config.yaml'], builtinRegistry(), { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now });
    assert.deepEqual([...loaded.profiles.keys()], ['default']);
    const dep = parse(readFileSync(join(MANIFESTS, 'epp', 'deployment.yaml'), 'utf8'));
    const c = dep.spec.template.spec.containers[0];
    assert.deepEqual([c.readinessProbe.grpc, c.livenessProbe.grpc], [{ port: 9003, service: 'readiness' }, { port: 9003, service: 'liveness' }]);
    assert.ok(c.args.includes('--ha-enable-leader-election'));
  });
});

interface RoleRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function manifestRole(): { role: Record<string, any>; binding: Record<string, any> } {
  const docs = parseAllDocuments(readFileSync(join(MANIFESTS, 'epp', 'rbac.yaml'), 'utf8')).map((d) => d.toJS());
  return { role: docs.find((d) => d.kind === 'Role'), binding: docs.find((d) => d.kind === 'RoleBinding') };
}

async function applyRbac(ns: string, rules: RoleRule[]): Promise<void> {
  const { role, binding } = manifestRole();
  const put = async (path: string, obj: Record<string, any>) => {
    const res = await server.request('PATCH', `${path}?fieldManager=rbac-test&force=true`, stringify(obj), { contentType: 'application/apply-patch+yaml' });
    expectStatus(res, [200, 201], `apply ${obj.kind}`);
  };
  await put(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/${role.metadata.name}`, { ...role, metadata: { ...role.metadata, namespace: ns }, rules });
  // The manifest's subject, unchanged: the ServiceAccount tokenroute-epp of the namespace the
  // kustomization puts it in (here the test namespace).
  const subjects = binding.subjects.map((s: Record<string, string>) => ({ ...s, namespace: ns }));
  await put(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/${binding.metadata.name}`, { ...binding, metadata: { ...binding.metadata, namespace: ns }, subjects });
}

describe('RBAC: the manifests grant exactly what the EPP uses', () => {
  test('running as the manifests\' ServiceAccount, the watchers sync and leader election works with no permission error', async () => {
    await createNamespace(server, SA_NS);
    await applyRbac(SA_NS, manifestRole().role.rules);
    await createPool(server, SA_NS, 'pool', { selector: { app: 'm' }, ports: [8000] });
    await createPod(server, SA_NS, 'm-0', { labels: { app: 'm' }, ip: '127.0.0.120', ready: true });
    await createObjective(server, SA_NS, 'batch', 'pool', -1);
    const { logger, lines } = captureLogger('info');
    const ds = new Datastore();
    const mode = await startKubernetesMode({
      datastore: ds,
      logger,
      registry: new Registry(),
      kubeConfig: server.kubeConfig(saUser(SA_NS)),
      poolName: 'pool',
      poolNamespace: SA_NS,
      defaultEngine: '',
      leaderElection: true,
      leaseDurationMs: 2000,
      renewDeadlineMs: 1500,
      retryPeriodMs: 200,
    });
    try {
      await waitFor('ready as the ServiceAccount', () => mode.isReady(), 5000);
      assert.deepEqual(ds.candidates().map((c) => c.endpoint.key), ['127.0.0.120:8000']);
      assert.equal(ds.objectives.priority('batch'), -1);
      await new Promise((r) => setTimeout(r, 500)); // a few lease renewals
      assert.equal(mode.isLeader(), true);
      assert.deepEqual(lines.filter((l) => l.level === 'error' || /RBAC|forbidden/i.test(String(l.msg))), []);
      // And the identity really is limited: it cannot read Secrets or write pools.
      assert.equal((await server.request('GET', `/api/v1/namespaces/${SA_NS}/secrets`, undefined, { user: saUser(SA_NS) })).status, 403);
      assert.equal((await server.request('DELETE', `/apis/inference.networking.k8s.io/v1/namespaces/${SA_NS}/inferencepools/pool`, undefined, { user: saUser(SA_NS) })).status, 403);
    } finally {
      await mode.close();
    }
  });

  test('removing any single verb breaks the EPP with an error naming that permission', async () => {
    const full: RoleRule[] = manifestRole().role.rules;
    const grants: { group: string; resource: string; verb: string }[] = [];
    for (const r of full) for (const resource of r.resources) for (const verb of r.verbs) grants.push({ group: r.apiGroups[0], resource, verb });
    assert.equal(grants.length, VERBS, 'pods, pools, objectives, rewrites × list/watch; leases × get/create/update');
    for (const [i, missing] of grants.entries()) {
      const ns = `rbac-minus-${i}`;
      await createNamespace(server, ns);
      const rules = full
        .flatMap((r) => r.resources.map((resource) => ({ apiGroups: r.apiGroups, resources: [resource], verbs: r.verbs.filter((v) => !(resource === missing.resource && v === missing.verb)) })))
        .filter((r) => r.verbs.length > 0);
      await applyRbac(ns, rules);
      await createPool(server, ns, 'pool', { selector: { app: 'm' }, ports: [8000] });
      if (missing.resource === 'leases' && missing.verb === 'create') {
        // nothing: the EPP must create the lease
      } else if (missing.resource === 'leases') {
        // get/update are needed once a lease exists.
        const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'epp-x', namespace: ns }, spec: { holderIdentity: '', leaseDurationSeconds: 1 } };
        expectStatus(await server.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, lease), [201], 'lease');
      }
      const { logger, lines } = captureLogger('info');
      const mode = await startKubernetesMode({
        datastore: new Datastore(),
        logger,
        registry: new Registry(),
        kubeConfig: server.kubeConfig(saUser(ns)),
        poolName: 'pool',
        poolNamespace: ns,
        defaultEngine: '',
        leaderElection: true,
        leaseName: 'epp-x',
        leaseDurationMs: 2000,
        renewDeadlineMs: 1500,
        retryPeriodMs: 100,
        backoffInitialMs: 50,
      });
      try {
        const want = `"${missing.verb}" on "${missing.resource}" in API group "${missing.group}" in namespace "${ns}"`;
        await waitFor(`an error naming ${want}`, () => lines.some((l) => l.level === 'error' && String(l.msg).includes(`RBAC: missing permission ${want}`)), 5000, 10);
        const wrong = lines.filter((l) => l.level === 'error' && /RBAC/.test(String(l.msg)) && !String(l.msg).includes(want));
        assert.deepEqual(wrong, [], `only ${missing.verb} ${missing.resource} is reported missing`);
      } finally {
        await mode.close();
      }
    }
  });
});
