// Integration: the whole EPP in standalone mode, as users run it.
// Real components started: the EPP (startEpp: config loader, scheduler, request control, metrics
// collector with its worker thread, ext_proc + health gRPC servers, Prometheus endpoint), real
// HTTP servers on 127.0.0.2-127.0.0.4 serving vLLM-format /metrics with values each test chooses,
// and a real gRPC ext_proc client built from Envoy's protos. The last test runs the `tokenroute`
// CLI as a child process.
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../epp/src/main.js';
import { vllmMetricsPage, type ServerSignals } from '../fixtures/sample-exposition.js';
import { startFakeModelServer, type FakeModelServer } from '../epp/datalayer/helpers.js';
import { StreamDriver, bodyMsg, completeRoutedStream, headersMsg, immediateStatus, newExtProcClient, respBodyMsg, respHeadersMsg, servedMetadata, setHeadersOf, waitFor, type ExtProcClient } from '../epp/extproc/harness.js';
import { structToJson } from '../../epp/src/protocol/struct.js';
import type { ProcessingResponse } from '../../epp/src/protocol/types.js';

const CHAT = JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'hello there' }] });
const HEADERS = { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' };

interface Pool {
  servers: FakeModelServer[];
  keys: string[];
  set(i: number, s: Partial<ServerSignals>): void;
}

async function startPool(n: number): Promise<Pool> {
  const servers: FakeModelServer[] = [];
  for (let i = 0; i < n; i++) servers.push(await startFakeModelServer(`127.0.0.${i + 2}`, vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0 })));
  return {
    servers,
    keys: servers.map((s) => `${s.host}:${s.port}`),
    set(i, s) {
      servers[i].body = vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0, ...s });
    },
  };
}

async function startStandalone(pool: Pool, configText?: string): Promise<RunningEpp> {
  return startEpp(
    embeddedEppOptions({
      configText,
      staticEndpoints: pool.servers.map((s) => ({ address: s.host, port: s.port })),
      refreshMetricsIntervalMs: 20,
      refreshPrometheusMetricsIntervalMs: 200,
      maxRequestBodyBytes: 1 << 20,
    }),
  );
}

/** Runs `fn` against a fresh pool of `n` metrics servers and a standalone EPP over them. */
async function withStandalone(n: number, configText: string | undefined, fn: (pool: Pool, epp: RunningEpp, client: ExtProcClient) => Promise<void>): Promise<void> {
  const pool = await startPool(n);
  try {
    const epp = await startStandalone(pool, configText);
    const client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
    try {
      await fn(pool, epp, client);
    } finally {
      client.close();
      await epp.close();
    }
  } finally {
    await Promise.all(pool.servers.map((s) => s.close()));
  }
}

/** Waits until the EPP has scraped the values a test just set (kv usage is the marker). */
async function settled(epp: RunningEpp, key: string, want: Partial<ServerSignals>): Promise<void> {
  await waitFor(() => {
    const m = epp.datastore.get(key)?.metrics;
    return !!m && m.waitingRequests === (want.waiting ?? 0) && Math.abs(m.kvCacheUsage - (want.kvUsage ?? 0)) < 1e-9;
  }, 5000, `metrics of ${key}`);
}

/** Sends one full-duplex request; returns the headers reply (or immediate response) and the driver. */
async function route(client: ExtProcClient, opts: { body?: string; headers?: Record<string, string>; extra?: object; metadata?: grpc.Metadata } = {}) {
  const d = new StreamDriver(client, opts.metadata);
  d.send(headersMsg({ ...HEADERS, ...(opts.headers ?? {}) }, false, opts.extra as never));
  d.send(bodyMsg(opts.body ?? CHAT, true));
  const first = await d.next();
  return { d, first };
}

function destination(r: ProcessingResponse): { header: string; metadata: string } {
  const header = setHeadersOf(r.request_headers?.response?.header_mutation).get('x-gateway-destination-endpoint') ?? '';
  const md = structToJson(r.dynamic_metadata) as Record<string, Record<string, string>>;
  return { header, metadata: md?.['envoy.lb']?.['x-gateway-destination-endpoint'] ?? '' };
}

describe('standalone EPP with real metrics servers', () => {
  let pool: Pool;
  let epp: RunningEpp;
  let client: ExtProcClient;

  beforeAll(async () => {
    pool = await startPool(3);
    epp = await startStandalone(pool);
    client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await epp.close();
    await Promise.all(pool.servers.map((s) => s.close()));
  });

  test('the endpoint with the shortest queue wins; header and envoy.lb metadata agree', async () => {
    pool.set(0, { waiting: 9, kvUsage: 0.3 });
    pool.set(1, { waiting: 0, kvUsage: 0.3 });
    pool.set(2, { waiting: 4, kvUsage: 0.3 });
    await settled(epp, pool.keys[0], { waiting: 9, kvUsage: 0.3 });
    await settled(epp, pool.keys[1], { waiting: 0, kvUsage: 0.3 });
    await settled(epp, pool.keys[2], { waiting: 4, kvUsage: 0.3 });
    for (let i = 0; i < 5; i++) {
      const { d, first } = await route(client);
      const dest = destination(first);
      assert.equal(dest.header, pool.keys[1]);
      assert.equal(dest.metadata, dest.header);
      assert.equal(first.request_headers?.response?.clear_route_cache, true);
      await completeRoutedStream(d);
    }
  });

  test('an endpoint whose KV cache is full is avoided when queues are equal', async () => {
    pool.set(0, { waiting: 1, kvUsage: 0.98 });
    pool.set(1, { waiting: 1, kvUsage: 0.97 });
    pool.set(2, { waiting: 1, kvUsage: 0.1 });
    for (let i = 0; i < 3; i++) await settled(epp, pool.keys[i], { waiting: 1, kvUsage: [0.98, 0.97, 0.1][i] });
    const { d, first } = await route(client);
    assert.equal(destination(first).header, pool.keys[2]);
    await completeRoutedStream(d);
  });

  test('400 for malformed JSON and for a body without model', async () => {
    for (const body of ['{"model": ', JSON.stringify({ messages: [] })]) {
      const { d, first } = await route(client, { body });
      assert.equal(Number(first.immediate_response?.status?.code === undefined ? 0 : immediateStatus(first)), 400, body);
      assert.match(Buffer.from(first.immediate_response?.body ?? '').toString(), /^inference error: BadRequest - /);
      d.end();
      await d.status;
    }
  });

  test('subset hint restricts the candidates; an empty or unmatched hint is 503', async () => {
    const hint = (list: string[]) => ({
      metadata_context: {
        filter_metadata: {
          'envoy.lb.subset_hint': { fields: { 'x-gateway-destination-endpoint-subset': { listValue: { values: list.map((s) => ({ stringValue: s })) } } } },
        },
      },
    });
    const { d, first } = await route(client, { extra: hint([pool.keys[0]]) });
    assert.equal(destination(first).header, pool.keys[0]);
    await completeRoutedStream(d);
    for (const list of [[], ['10.9.9.9:8000']]) {
      const r = await route(client, { extra: hint(list) });
      assert.equal(immediateStatus(r.first), 503, JSON.stringify(list));
      r.d.end();
      await r.d.status;
    }
  });

  test('in-flight load is counted while a request runs and moves to the endpoint that served it', async () => {
    const { d, first } = await route(client);
    const chosen = destination(first).header;
    assert.equal(epp.datastore.get(chosen)?.inflight.requests, 1);
    const other = pool.keys.find((k) => k !== chosen)!;
    while (!(await d.next()).request_body?.response?.body_mutation?.streamed_response?.end_of_stream);
    d.send(respHeadersMsg({ ':status': '200' }, false, servedMetadata(other)));
    await d.next();
    assert.equal(epp.datastore.get(chosen)?.inflight.requests, 0);
    assert.equal(epp.datastore.get(other)?.inflight.requests, 1);
    d.send(respBodyMsg('{}', true));
    await d.next();
    d.end();
    await d.status;
    assert.equal(epp.datastore.get(other)?.inflight.requests, 0);
  });

  test('a client that cancels mid-request leaves no in-flight load behind', async () => {
    const { d, first } = await route(client);
    const chosen = destination(first).header;
    d.cancel();
    await d.status;
    await waitFor(() => epp.datastore.get(chosen)?.inflight.requests === 0, 2000, 'in-flight released');
  });

  test('a bodiless request is answered at its headers with one of the pool', async () => {
    const d = new StreamDriver(client);
    d.send(headersMsg({ ':method': 'GET', ':path': '/v1/models' }, true));
    const r = await d.next();
    assert.ok(pool.keys.includes(destination(r).header));
    d.end();
  });

  test('client-sent routing headers are removed, never trusted', async () => {
    pool.set(0, { waiting: 50, kvUsage: 0.9 });
    await settled(epp, pool.keys[0], { waiting: 50, kvUsage: 0.9 });
    const { d, first } = await route(client, {
      headers: { 'x-gateway-destination-endpoint': pool.keys[0], 'x-gateway-destination-endpoint-served': pool.keys[0], 'x-tokenroute-profile': 'x' },
    });
    assert.notEqual(destination(first).header, pool.keys[0]);
    const removed = first.request_headers?.response?.header_mutation?.remove_headers ?? [];
    assert.ok(removed.includes('x-gateway-destination-endpoint-served'));
    assert.ok(removed.includes('x-tokenroute-profile'));
    await completeRoutedStream(d);
  });

  test('Prometheus endpoint exports GIE metric names with the requests seen', async () => {
    // A prompt long enough to fill prefix blocks, so the default profile's prefix index has entries.
    const long = JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'tell me about routing. '.repeat(40) }] });
    const { d } = await route(client, { body: long });
    await completeRoutedStream(d);
    const text = await (await fetch(`http://127.0.0.1:${epp.metricsPort}/metrics`)).text();
    assert.match(text, /inference_objective_request_total\{model_name="llama",target_model_name="llama",priority="0"\} [1-9]/);
    assert.match(text, /inference_extension_scheduler_e2e_duration_seconds_count [1-9]/);
    assert.match(text, /inference_extension_plugin_duration_seconds_count\{extension_point="Scorer",plugin_type="queue-scorer",plugin_name="queue-scorer"\} [1-9]/);
    assert.match(text, /^inference_extension_prefix_indexer_size [1-9]/m);
    assert.match(text, /^tokenroute_prefix_index_bytes\{plugin="prefix-cache-scorer"\} [1-9]/m);
    await waitFor(() => true, 10);
    const later = await (await fetch(`http://127.0.0.1:${epp.metricsPort}/metrics`)).text();
    assert.match(later, /inference_pool_ready_pods\{name="standalone"\} 3/);
  });
});

describe('config-driven behaviour', () => {
  test('stale endpoints are filtered out by the utilization-detector filter', async () => {
    await withStandalone(2, `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: utilization-detector
  parameters: {metricsStalenessThreshold: 300ms}
- type: queue-scorer
schedulingProfiles:
- name: default
  plugins: [{pluginRef: utilization-detector}, {pluginRef: queue-scorer}]
`, async (pool, epp, client) => {
    pool.set(0, { waiting: 0 });
    pool.set(1, { waiting: 3 });
    await settled(epp, pool.keys[0], { waiting: 0 });
    await settled(epp, pool.keys[1], { waiting: 3 });
    let r = await route(client);
    assert.equal(destination(r.first).header, pool.keys[0]);
    await completeRoutedStream(r.d);
    // The best endpoint stops answering scrapes: its last metrics still look best, but they go stale.
    pool.servers[0].mode = { kind: 'status', status: 500 };
    await new Promise((res) => setTimeout(res, 600));
    r = await route(client);
    assert.equal(destination(r.first).header, pool.keys[1]);
    await completeRoutedStream(r.d);
    });
  });

  test('maxNumOfEndpoints > 1 returns a fallback list, best first', async () => {
    await withStandalone(3, `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: max-score-picker
  parameters: {maxNumOfEndpoints: 3}
`, async (pool, epp, client) => {
    [5, 0, 2].forEach((w, i) => pool.set(i, { waiting: w }));
    for (const [i, w] of [5, 0, 2].entries()) await settled(epp, pool.keys[i], { waiting: w });
    const { d, first } = await route(client);
    const dest = destination(first);
    assert.equal(dest.header, [pool.keys[1], pool.keys[2], pool.keys[0]].join(','));
    assert.equal(dest.metadata, dest.header);
    await completeRoutedStream(d);
    });
  });

  test('a route selects its own profile: by xds.route_name attribute and by per-route gRPC metadata', async () => {
    await withStandalone(2, `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
schedulingProfiles:
- name: by-queue
  plugins: [{pluginRef: queue-scorer}]
- name: by-kv
  plugins: [{pluginRef: kv-cache-utilization-scorer}]
profileSelection:
  default: by-queue
  routes:
  - {route: long-context, profile: by-kv}
`, async (pool, epp, client) => {
    pool.set(0, { waiting: 0, kvUsage: 0.9 });
    pool.set(1, { waiting: 5, kvUsage: 0.1 });
    await settled(epp, pool.keys[0], { waiting: 0, kvUsage: 0.9 });
    await settled(epp, pool.keys[1], { waiting: 5, kvUsage: 0.1 });
    let r = await route(client);
    assert.equal(destination(r.first).header, pool.keys[0], 'default profile: shortest queue');
    await completeRoutedStream(r.d);
    const attr = { attributes: { 'envoy.filters.http.ext_proc': { fields: { 'xds.route_name': { stringValue: 'long-context' } } } } };
    r = await route(client, { extra: attr });
    assert.equal(destination(r.first).header, pool.keys[1], 'route long-context: lowest KV usage');
    await completeRoutedStream(r.d);
    const md = new grpc.Metadata();
    md.set('x-tokenroute-profile', 'by-kv');
    r = await route(client, { metadata: md });
    assert.equal(destination(r.first).header, pool.keys[1], 'per-route gRPC metadata');
    await completeRoutedStream(r.d);
    // A client header naming a profile changes nothing.
    r = await route(client, { headers: { 'x-tokenroute-profile': 'by-kv' } });
    assert.equal(destination(r.first).header, pool.keys[0]);
    await completeRoutedStream(r.d);
    });
  });

  test('an invalid config refuses to start and names the field', async () => {
    const pool = await startPool(1);
    try {
      await assert.rejects(
        startStandalone(pool, `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: max-score-picker
  parameters: {maxNumOfEndpoints: "three"}
`),
        (err: Error & { messages?: string[] }) => /plugins\[0\]\.parameters\.maxNumOfEndpoints/.test(String(err.messages ?? err.message)),
      );
    } finally {
      await Promise.all(pool.servers.map((s) => s.close()));
    }
  });
});

// A module hook (node --import) that reports on stderr every module resolved inside
// @kubernetes/client-node: a standalone EPP must not load the Kubernetes client (its generated
// models are ~70 MiB of resident memory; epp/src/main.ts imports the Kubernetes mode lazily).
const K8S_CLIENT_MARK = 'RESOLVED-KUBERNETES-CLIENT';
const watchK8sClient = (() => {
  const resolve = `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/@kubernetes/client-node/')) process.stderr.write('${K8S_CLIENT_MARK}\\n'); return r; }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(resolve)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
})();

test('the module hook sees the Kubernetes client when the Kubernetes mode is imported (control for the standalone test below)', async () => {
  const mode = new URL('../../epp/src/k8s/mode.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--import', watchK8sClient, '--input-type=module', '-e', `await import(${JSON.stringify(mode)})`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0, err.slice(-2000));
  assert.ok(err.includes(K8S_CLIENT_MARK), 'the hook saw no module of @kubernetes/client-node');
});

test('`tokenroute epp --static-endpoints ... --secure-serving=false` answers a real client with the least-loaded endpoint, without loading the Kubernetes client', async () => {
  const pool = await startPool(2);
  pool.set(0, { waiting: 7 });
  pool.set(1, { waiting: 1 });
  const cli = new URL('../../cli/tokenroute.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [
    '--import', watchK8sClient,
    cli, 'epp', '--static-endpoints', pool.keys.join(','), '--secure-serving=false',
    '--grpc-port', '0', '--grpc-health-port', '0', '--metrics-port', '-1', '--host', '127.0.0.1',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let log = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    await waitFor(() => /"msg":"tokenroute EPP serving"/.test(log), 10_000, 'EPP start');
    const port = Number(/"grpcPort":(\d+)/.exec(log)![1]);
    const client = newExtProcClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    // Wait past a few scrapes (50 ms interval) so both endpoints have metrics.
    await new Promise((r) => setTimeout(r, 400));
    const { d, first } = await route(client);
    const dest = destination(first);
    assert.equal(dest.header, pool.keys[1]);
    assert.equal(dest.metadata, pool.keys[1]);
    await completeRoutedStream(d);
    client.close();
    assert.ok(!stderr.includes(K8S_CLIENT_MARK), 'a standalone EPP loaded @kubernetes/client-node');
  } finally {
    if (child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    await Promise.all(pool.servers.map((s) => s.close()));
  }
});

