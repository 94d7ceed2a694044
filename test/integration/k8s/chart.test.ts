// Integration: the Helm chart charts/tokenroute, linted and rendered by the real `helm`
// (helm.sh/helm/v3, scripts/deps/helm.sh) and every rendered object of every variant applied as a
// server-side dry run with strict field validation against a real kube-apiserver (harness.ts)
// that serves the real CRDs: ours (manifests/crds), Gateway API, Istio, Envoy Gateway and the
// Prometheus operator's, from the Go modules that publish them (scripts/deps/crds.sh).
// Variants: provider none / istio / envoy-gateway × a minimal and a full set of values (HA,
// ServiceMonitor or PodMonitor, dashboard, alerts, objectives, HTTPRoute), filter on and off.
// The EPP's rendered EndpointPickerConfig loads in tokenroute's config loader; the filter's key is
// the same in the Secret the EPP reads and in the gateway attachment. The kind e2e's own objects
// (e2e/kind/manifests, and the chart rendered with e2e/kind/values.yaml for both providers) pass
// the same dry run, and e2e/kind/run.sh passes shellcheck.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { loadEndpointPickerConfig } from '../../../epp/src/config/index.js';
import { builtinRegistry } from '../../../epp/src/main.js';
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { apiResolver, binDir, createNamespace, dryApply, installCrds, repoRoot, startKubeApiServer, upstreamCrdFiles, type KubeApiServer } from './harness.js';

const CHART = join(repoRoot(), 'charts', 'tokenroute');
const NS = 'llm';
const KIND = join(repoRoot(), 'e2e', 'kind');
const KIND_NS = 'tokenroute-e2e';
let server: KubeApiServer;
let work: string;

beforeAll(async () => {
  server = await startKubeApiServer();
  await installCrds(server, ['gateway-api', 'istio', 'envoy-gateway', 'prometheus-operator'].flatMap(upstreamCrdFiles));
  await createNamespace(server, NS);
  await createNamespace(server, KIND_NS);
  work = mkdtempSync(join(tmpdir(), 'tokenroute-chart-'));
}, 300_000);
afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function helm(args: string[]): string {
  return execFileSync(join(binDir(), 'helm'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

let seq = 0;
function render(values: Record<string, unknown>, opts: { release?: string; namespace?: string; valuesFiles?: string[] } = {}): Record<string, any>[] {
  const file = join(work, `values-${++seq}.yaml`);
  writeFileSync(file, stringify(values));
  const files = [...(opts.valuesFiles ?? []), file].flatMap((f) => ['-f', f]);
  // The API server of the tests is v1.34; helm's own default (v1.20) is below the chart's kubeVersion.
  const out = helm(['template', opts.release ?? 'rel', CHART, '--namespace', opts.namespace ?? NS, '--kube-version', '1.34.0', ...files]);
  return parseAllDocuments(out).map((d) => d.toJS()).filter((o) => o);
}

const MINIMAL = { inferencePool: { modelServers: { matchLabels: { app: 'vllm-qwen3' } } }, filter: { models: { 'Qwen/Qwen3-8B': 'qwen3' } } };
const FULL = {
  ...MINIMAL,
  inferenceExtension: {
    replicas: 3,
    monitoring: { prometheus: { enabled: true }, grafanaDashboard: { enabled: true }, alerts: { enabled: true } },
    pluginsCustomConfig: { 'custom.yaml': 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\n' },
    pluginsConfigFile: 'custom.yaml',
  },
  inferencePool: { modelServers: { matchLabels: { app: 'vllm-qwen3' } }, targetPorts: [{ number: 8000 }, { number: 8001 }] },
  experimentalHttpRoute: { enabled: true },
  inferenceObjectives: [{ name: 'interactive', priority: 5 }, { name: 'batch', priority: -1 }],
};

const VARIANTS: [string, Record<string, unknown>][] = [];
for (const provider of ['none', 'istio', 'envoy-gateway']) {
  VARIANTS.push([`${provider}, minimal`, { ...MINIMAL, provider: { name: provider } }]);
  VARIANTS.push([`${provider}, full`, { ...FULL, provider: { name: provider } }]);
}
VARIANTS.push(['istio, no filter, plaintext EPP, PodMonitor', { ...FULL, provider: { name: 'istio' }, filter: { enabled: false }, inferenceExtension: { ...FULL.inferenceExtension, secureServing: false, monitoring: { prometheus: { enabled: true, kind: 'PodMonitor' } } } }]);
VARIANTS.push(['envoy-gateway, no filter', { ...MINIMAL, provider: { name: 'envoy-gateway' }, filter: { enabled: false } }]);

describe('charts/tokenroute', () => {
  test('helm lint passes', () => {
    const file = join(work, 'lint.yaml');
    writeFileSync(file, stringify(FULL));
    assert.match(helm(['lint', CHART, '-f', file, '--kube-version', '1.34.0']), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  for (const [name, values] of VARIANTS) {
    test(`${name}: every rendered object passes a strict server-side dry run`, async () => {
      const objs = render(values);
      const resolve = apiResolver(server);
      const kinds: string[] = [];
      for (const obj of objs) {
        const res = await dryApply(server, resolve, obj, NS);
        assert.ok(res.status === 200 || res.status === 201, `${obj.kind}/${obj.metadata.name}: HTTP ${res.status} ${res.message}`);
        kinds.push(obj.kind);
      }
      const provider = (values.provider as { name: string }).name;
      const filter = (values.filter as { enabled?: boolean }).enabled !== false;
      for (const must of ['Deployment', 'Service', 'ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'InferencePool']) assert.ok(kinds.includes(must), `${must} rendered`);
      if (provider === 'istio' && filter) assert.ok(kinds.includes('EnvoyFilter'));
      if (provider === 'envoy-gateway' && filter) for (const k of ['EnvoyExtensionPolicy', 'EnvoyPatchPolicy', 'EnvoyProxy', 'ClientTrafficPolicy']) assert.ok(kinds.includes(k), k);
      if ((values as typeof FULL).inferenceExtension?.replicas === 3) assert.ok(kinds.includes('PodDisruptionBudget'));
    });
  }

  test('a typo is caught by the strict dry run (the check can fail)', async () => {
    const objs = render({ ...MINIMAL, provider: { name: 'envoy-gateway' } });
    const policy = objs.find((o) => o.kind === 'EnvoyExtensionPolicy')!;
    policy.spec.wasm[0].failopen = true;
    const res = await dryApply(server, apiResolver(server), policy, NS);
    assert.ok(res.status >= 400, `HTTP ${res.status}`);
    assert.match(res.message, /failopen/);
  });

  test('the rendered EndpointPickerConfigs load; the EPP and the filter share one HMAC key', () => {
    const objs = render({ ...FULL, provider: { name: 'envoy-gateway' }, inferenceExtension: { ...FULL.inferenceExtension, pluginsConfigFile: 'default-plugins.yaml' } });
    const config = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'rel-epp-config')!;
    const secret = objs.find((o) => o.kind === 'Secret')!;
    const key = Buffer.from(secret.data.key, 'base64').toString();
    assert.equal(Buffer.from(key, 'base64').length, 32, 'a 32-byte key');
    const policy = objs.find((o) => o.kind === 'EnvoyExtensionPolicy')!;
    assert.equal(policy.spec.wasm[0].config.hmacKey, key);
    process.env.TOKENROUTE_FILTER_HMAC_KEY = key;
    const ctx = { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now };
    for (const [file, text] of Object.entries(config.data as Record<string, string>)) {
      const loaded = loadEndpointPickerConfig(text, builtinRegistry(), ctx);
      assert.ok(loaded.plugins.size > 0, file);
    }
    const dep = objs.find((o) => o.kind === 'Deployment')!;
    const args: string[] = dep.spec.template.spec.containers[0].args;
    assert.ok(args.includes('--ha-enable-leader-election'), 'replicas 3: leader election');
    assert.ok(args.includes('--config-file=/config/default-plugins.yaml'));
    // The Istio attachment carries the same configuration, with the flag WasmPlugin cannot set.
    const istio = render({ ...MINIMAL, provider: { name: 'istio' }, filter: { ...MINIMAL.filter, hmacKey: key } });
    const ef = istio.find((o) => o.kind === 'EnvoyFilter')!;
    const wasm = ef.spec.configPatches[0].patch.value.typed_config.config;
    assert.equal(wasm.allow_on_headers_stop_iteration, true);
    assert.deepEqual(JSON.parse(wasm.configuration.value), { models: { 'Qwen/Qwen3-8B': { tokenizer: 'qwen3' } }, blockSize: 16, hmacKey: key });
    assert.equal(ef.spec.configPatches[1].patch.operation, 'INSERT_FIRST', 'before the InferencePool ext_proc');
  });

  test('the kind e2e: its manifests and the chart with its values pass the dry run; run.sh passes shellcheck', async () => {
    const resolve = apiResolver(server);
    const objs: Record<string, any>[] = [];
    for (const f of readdirSync(join(KIND, 'manifests')).filter((n) => n.endsWith('.yaml'))) {
      objs.push(...parseAllDocuments(readFileSync(join(KIND, 'manifests', f), 'utf8')).map((d) => d.toJS()).filter((o) => o));
    }
    for (const provider of ['istio', 'envoy-gateway']) {
      objs.push(...render({ provider: { name: provider }, filter: { image: 'oci://kind-registry:5000/tokenroute/filter:kind' } }, { release: 'kind', namespace: KIND_NS, valuesFiles: [join(KIND, 'values.yaml')] }));
    }
    const kinds = new Set<string>();
    for (const obj of objs) {
      const res = await dryApply(server, resolve, obj, KIND_NS);
      assert.ok(res.status === 200 || res.status === 201, `${obj.kind}/${obj.metadata.name}: HTTP ${res.status} ${res.message}`);
      kinds.add(obj.kind);
    }
    for (const k of ['Deployment', 'Gateway', 'GatewayClass', 'InferencePool', 'HTTPRoute', 'EnvoyFilter', 'EnvoyExtensionPolicy', 'EnvoyProxy']) assert.ok(kinds.has(k), k);
    // The Gateway of the envoy-gateway run takes the EnvoyProxy the chart renders for release "kind".
    const gw = objs.find((o) => o.kind === 'Gateway' && o.spec.gatewayClassName === 'envoy-gateway')!;
    assert.ok(objs.some((o) => o.kind === 'EnvoyProxy' && o.metadata.name === gw.spec.infrastructure.parametersRef.name));
    execFileSync('shellcheck', ['-S', 'warning', '-x', join(KIND, 'run.sh')], { stdio: 'pipe' });
  });

  test('bad values fail the render with a message naming the value', () => {
    const fails = (values: Record<string, unknown>, message: RegExp) => assert.throws(() => render(values), (e: Error & { stderr?: string }) => message.test(String(e.stderr)));
    fails({ filter: MINIMAL.filter }, /inferencePool.modelServers.matchLabels is required/);
    fails({ ...MINIMAL, provider: { name: 'nginx' } }, /provider.name must be none, istio or envoy-gateway/);
    fails({ ...MINIMAL, filter: { models: {} } }, /filter.models/);
  });
});
