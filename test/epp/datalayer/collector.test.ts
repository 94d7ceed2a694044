// Integration tests of the MetricsCollector. Starts: real HTTP/HTTPS servers on 127.0.0.x
// serving model-server /metrics pages (FakeModelServer), the real Datastore, EppMetrics
// (prom-client registry) and the collector's real worker threads.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { dataLayerSettings, isStale, MetricsCollector, type MetricsCollectorOptions } from '../../../epp/src/datalayer/collector.js';
import { coreMetricsExtractor, isCoreMetricsExtractor } from '../../../epp/src/datalayer/plugins/core-metrics-extractor.js';
import { metricsDataSource } from '../../../epp/src/datalayer/plugins/metrics-data-source.js';
import { sglangMetricsPage, trtllmServeMetricsPage, tritonTrtLlmMetricsPage, vllmMetricsPage, type ServerSignals } from '../../fixtures/sample-exposition.js';
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { EMPTY_METRICS, type EndpointMetrics } from '../../../epp/src/framework/endpoint.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import { captureLogger, sleep, startFakeModelServer, waitFor, type FakeModelServer } from './helpers.js';

const vllm = (s: Partial<ServerSignals> = {}) => vllmMetricsPage({ waiting: 0, running: 0, kvUsage: 0, ...s });

interface Rig {
  ds: Datastore;
  metrics: EppMetrics;
  collector: MetricsCollector;
  m: (s: FakeModelServer) => EndpointMetrics;
}

function rig(t: { onTestFinished: (fn: () => Promise<void> | void) => void }, opts: Partial<MetricsCollectorOptions> = {}): Rig {
  const ds = new Datastore();
  const metrics = new EppMetrics();
  const collector = new MetricsCollector({ datastore: ds, metrics, interval: 25, timeout: 500, logger: silentLogger(), poolName: 'pool-a', ...opts });
  t.onTestFinished(() => collector.stop());
  return { ds, metrics, collector, m: (s) => ds.get(s.endpoint().key)?.metrics ?? EMPTY_METRICS };
}

async function servers(t: { onTestFinished: (fn: () => Promise<void>) => void }, ...list: [host: string, body: string][]): Promise<FakeModelServer[]> {
  const out = await Promise.all(list.map(([h, b]) => startFakeModelServer(h, b)));
  t.onTestFinished(async () => {
    await Promise.all(out.map((s) => s.close()));
  });
  return out;
}

async function errorCount(metrics: EppMetrics, endpoint: string, reason: string): Promise<number> {
  const got = await metrics.scrapeErrors.get();
  return got.values.find((v) => v.labels.endpoint === endpoint && v.labels.reason === reason)?.value ?? 0;
}

/** Waits until updatedAt of `s` has advanced `times` times. */
async function advances(r: Rig, s: FakeModelServer, times = 2): Promise<void> {
  let last = r.m(s).updatedAt;
  let seen = 0;
  await waitFor(`${s.host} updated ${times} more times`, () => {
    const now = r.m(s).updatedAt;
    if (now !== last) {
      last = now;
      seen++;
    }
    return seen >= times;
  });
}

test('values reach the datastore within a few intervals and follow the served page', async (t) => {
  const [a, b] = await servers(t, ['127.0.0.2', vllm({ waiting: 3, running: 7, kvUsage: 0.25 })], ['127.0.0.3', vllm({ waiting: 1, running: 2, kvUsage: 0.9 })]);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint(), b!.endpoint()]);
  const started = Date.now();
  r.collector.start();
  await waitFor('first metrics', () => r.m(a!).updatedAt > 0 && r.m(b!).updatedAt > 0, 5000);
  // Worker start-up dominates on a loaded machine; what matters is seconds, not minutes.
  assert.ok(Date.now() - started < 3000, 'first values within the first few intervals');
  assert.deepEqual([r.m(a!).waitingRequests, r.m(a!).runningRequests, r.m(a!).kvCacheUsage], [3, 7, 0.25]);
  assert.deepEqual([r.m(b!).waitingRequests, r.m(b!).runningRequests, r.m(b!).kvCacheUsage], [1, 2, 0.9]);
  assert.deepEqual([r.m(a!).cacheBlockSize, r.m(a!).cacheNumBlocks], [16, 27404]);
  assert.ok(Math.abs(r.m(a!).updatedAt - Date.now()) < 2000, 'updatedAt is wall-clock ms');

  a!.body = vllm({ waiting: 12, running: 4, kvUsage: 0.5, lora: [{ maxLora: 2, running: ['sql-lora'], waiting: ['x'], at: 1.75e9 }] });
  await waitFor('new values', () => r.m(a!).waitingRequests === 12, 1000);
  assert.deepEqual([r.m(a!).runningRequests, r.m(a!).kvCacheUsage, r.m(a!).maxLoras], [4, 0.5, 2]);
  assert.deepEqual(r.m(a!).activeLoras, ['sql-lora']);
  assert.deepEqual(r.m(a!).waitingLoras, ['x']);
  await advances(r, a!, 3);
  assert.equal(a!.connections, 1, 'one keep-alive connection across all those scrapes');
});

test('endpoints added and removed later are picked up and dropped', async (t) => {
  const [a, b] = await servers(t, ['127.0.0.4', vllm({ waiting: 1 })], ['127.0.0.5', vllm({ waiting: 2 })]);
  const r = rig(t);
  r.collector.start();
  r.ds.setEndpoints([a!.endpoint()]);
  await waitFor('a scraped', () => r.m(a!).waitingRequests === 1);
  assert.equal(b!.requests, 0);
  r.ds.upsertEndpoint(b!.endpoint());
  await waitFor('b scraped', () => r.m(b!).waitingRequests === 2);
  r.ds.removeEndpoint(a!.endpoint().key);
  await sleep(100);
  const before = a!.requests;
  await sleep(300);
  assert.ok(a!.requests <= before, `no scrapes after removal (${before} → ${a!.requests})`);
  await advances(r, b!, 2);
});

test('a dead endpoint goes stale and keeps its last values while others keep updating', async (t) => {
  const [a, b] = await servers(t, ['127.0.0.6', vllm({ waiting: 5, kvUsage: 0.6 })], ['127.0.0.7', vllm({ waiting: 1 })]);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint(), b!.endpoint()]);
  r.collector.start();
  await waitFor('both scraped', () => r.m(a!).updatedAt > 0 && r.m(b!).updatedAt > 0);
  await a!.close();
  await sleep(100);
  const frozen = r.m(a!);
  await advances(r, b!, 5);
  assert.equal(r.m(a!), frozen, 'the dead endpoint\'s metrics object is untouched');
  assert.equal(r.m(a!).waitingRequests, 5);
  assert.equal(r.m(a!).kvCacheUsage, 0.6);
  assert.ok(isStale(r.m(a!), Date.now(), 100));
  assert.ok(!isStale(r.m(b!), Date.now(), 1000));
  assert.ok((await errorCount(r.metrics, a!.endpoint().key, 'connection')) >= 3);
  assert.equal(await errorCount(r.metrics, b!.endpoint().key, 'connection'), 0);
});

test('an endpoint hanging past the timeout goes stale; others are not delayed', async (t) => {
  const [a, b] = await servers(t, ['127.0.0.8', vllm({ waiting: 2 })], ['127.0.0.9', vllm({ waiting: 3 })]);
  const r = rig(t, { timeout: 1000 });
  r.ds.setEndpoints([a!.endpoint(), b!.endpoint()]);
  r.collector.start();
  await waitFor('both scraped', () => r.m(a!).updatedAt > 0 && r.m(b!).updatedAt > 0);
  a!.mode = { kind: 'hang' };
  await sleep(60);
  const frozenAt = r.m(a!).updatedAt;
  const requestsBefore = a!.requests;
  // b keeps its 25 ms cadence although a's scrapes hang: 10 updates in ~0.25 s. If a's hang
  // delayed b, each update would wait for a's 1 s timeout: ≥ 10 s.
  const t0 = Date.now();
  await advances(r, b!, 10);
  assert.ok(Date.now() - t0 < 5000, `b updated 10 times in ${Date.now() - t0} ms`);
  await waitFor('timeout counted', () => r.m(a!).updatedAt === frozenAt && a!.requests >= requestsBefore + 2, 8000);
  assert.equal(await errorCount(r.metrics, a!.endpoint().key, 'timeout') >= 1, true);
  assert.equal(a!.maxConcurrent, 1, 'never more than one scrape in flight per endpoint');
  assert.equal(r.m(a!).updatedAt, frozenAt);
  a!.mode = { kind: 'ok' };
  await waitFor('recovers', () => r.m(a!).updatedAt > frozenAt, 5000);
});

test('HTTP 500, malformed text and wrong content are counted; last values kept, no crash', async (t) => {
  const [a, b] = await servers(t, ['127.0.0.10', vllm({ waiting: 4, running: 6, kvUsage: 0.3 })], ['127.0.0.11', vllm({ waiting: 1 })]);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint(), b!.endpoint()]);
  r.collector.start();
  await waitFor('scraped', () => r.m(a!).waitingRequests === 4);
  const key = a!.endpoint().key;
  const check = async (what: string, reason: string) => {
    await sleep(60);
    const frozen = r.m(a!);
    const before = await errorCount(r.metrics, key, reason);
    await advances(r, b!, 4);
    assert.ok((await errorCount(r.metrics, key, reason)) >= before + 2, `${what}: ${reason} counted`);
    assert.equal(r.m(a!), frozen, `${what}: metrics untouched`);
    assert.deepEqual([r.m(a!).waitingRequests, r.m(a!).runningRequests, r.m(a!).kvCacheUsage], [4, 6, 0.3]);
  };
  a!.mode = { kind: 'status', status: 500 };
  await check('HTTP 500', 'http_status');
  a!.mode = { kind: 'ok' };
  a!.body = 'vllm:num_requests_waiting{model_name="m" 9\nvllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.5\n';
  await check('malformed line', 'parse');
  a!.body = '<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>';
  a!.contentType = 'text/html';
  await check('HTML page', 'missing_metric');
  a!.body = JSON.stringify({ num_requests_waiting: 9 });
  a!.contentType = 'application/json';
  await check('JSON page', 'missing_metric');
  a!.body = vllm({ waiting: 8, running: 6, kvUsage: 0.3 });
  a!.contentType = 'text/plain; version=0.0.4';
  await waitFor('recovered', () => r.m(a!).waitingRequests === 8);
});

test('a page missing one series updates the others and counts missing_metric', async (t) => {
  const [a] = await servers(t, ['127.0.0.12', 'vllm:num_requests_waiting 6\nvllm:num_requests_running 2\n']);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  await waitFor('scraped', () => r.m(a!).waitingRequests === 6);
  await advances(r, a!, 2);
  assert.equal(r.m(a!).kvCacheUsage, 0);
  assert.ok((await errorCount(r.metrics, a!.endpoint().key, 'missing_metric')) >= 2);
});

test('IPv6 endpoints are scraped through a bracketed URL', async (t) => {
  let s: FakeModelServer;
  try {
    s = await startFakeModelServer('::1', vllm({ waiting: 13 }));
  } catch {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  t.onTestFinished(() => s.close());
  const r = rig(t);
  r.ds.setEndpoints([s.endpoint()]);
  assert.equal(s.endpoint().key, `[::1]:${s.port}`);
  r.collector.start();
  await waitFor('scraped over IPv6', () => r.m(s).waitingRequests === 13);
});

test('an endpoint whose engine label changes is re-scraped with the new engine\'s specs', async (t) => {
  const [a] = await servers(t, ['127.0.0.34', vllm({ waiting: 2 })]);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint('vllm')]);
  r.collector.start();
  await waitFor('vllm values', () => r.m(a!).waitingRequests === 2);
  a!.body = sglangMetricsPage({ waiting: 9, running: 3, kvUsage: 0.7 });
  r.ds.setEndpoints([a!.endpoint('vllm', { 'inference.networking.k8s.io/engine-type': 'sglang' })]);
  await waitFor('sglang values', () => r.m(a!).waitingRequests === 9 && r.m(a!).kvCacheUsage === 0.7);
});

test('SGLang, trtllm-serve and Triton endpoints use their engine\'s names', async (t) => {
  const [sg, trt, tri, byLabel] = await servers(
    t,
    ['127.0.0.13', sglangMetricsPage({ waiting: 6, running: 11, kvUsage: 0.8, blockSize: 1, numBlocks: 600000 })],
    ['127.0.0.14', trtllmServeMetricsPage({ waiting: 2, running: 5, kvUsage: 0.33, blockSize: 64, numBlocks: 9000 })],
    ['127.0.0.15', tritonTrtLlmMetricsPage({ waiting: 3, running: 8, kvUsage: 0.3, blockSize: 128, numBlocks: 5000 })],
    ['127.0.0.16', sglangMetricsPage({ waiting: 9, running: 1, kvUsage: 0.1 })],
  );
  const r = rig(t);
  r.ds.setEndpoints([
    sg!.endpoint('sglang'),
    trt!.endpoint('trtllm-serve'),
    tri!.endpoint('triton-tensorrt-llm'),
    // The extractor's engine label wins over what the endpoint source filled in.
    byLabel!.endpoint('vllm', { 'inference.networking.k8s.io/engine-type': 'sglang' }),
  ]);
  r.collector.start();
  await waitFor('all scraped', () => [sg, trt, tri, byLabel].every((s) => r.m(s!).updatedAt > 0));
  const sig = (s: FakeModelServer) => [r.m(s).waitingRequests, r.m(s).runningRequests, r.m(s).kvCacheUsage, r.m(s).cacheBlockSize, r.m(s).cacheNumBlocks];
  assert.deepEqual(sig(sg!), [6, 11, 0.8, 1, 600000]);
  assert.deepEqual(sig(trt!), [2, 5, 0.33, 64, 9000]);
  assert.deepEqual(sig(tri!), [3, 8, 0.3, 128, 5000]);
  assert.deepEqual(sig(byLabel!).slice(0, 3), [9, 1, 0.1]);
});

test('engineConfigs override a built-in; an empty spec disables that metric', async (t) => {
  const page = [
    'vllm:num_requests_waiting{engine="0"} 1',
    'vllm:num_requests_waiting{engine="1"} 7',
    'vllm:num_requests_running{engine="0"} 2',
    'vllm:kv_cache_usage_perc{engine="0"} 0.75',
    '',
  ].join('\n');
  const [a] = await servers(t, ['127.0.0.17', page]);
  const plugin = coreMetricsExtractor.create(
    'x',
    coreMetricsExtractor.parameters.parse({
      engineConfigs: [{ name: 'vllm', queuedRequestsSpec: 'vllm:num_requests_waiting{engine!="0"}', runningRequestsSpec: 'vllm:num_requests_running', kvUsageSpec: '' }],
    }),
    { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now },
  );
  assert.ok(isCoreMetricsExtractor(plugin));
  const r = rig(t, { extractor: plugin.selection });
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  await waitFor('scraped', () => r.m(a!).updatedAt > 0);
  await advances(r, a!, 2);
  assert.equal(r.m(a!).waitingRequests, 7, 'the override selector picked engine="1"');
  assert.equal(r.m(a!).runningRequests, 2);
  assert.equal(r.m(a!).kvCacheUsage, 0, 'KV usage disabled: never read although served');
  assert.equal(await errorCount(r.metrics, a!.endpoint().key, 'missing_metric'), 0, 'a disabled metric is not missing');
});

test('port override, custom path and HTTPS (insecureSkipVerify true scrapes, false fails as tls)', async (t) => {
  const tlsServer = await startFakeModelServer('127.0.0.1', vllm({ waiting: 11 }), { tls: true, path: '/v2/metrics' });
  t.onTestFinished(() => tlsServer.close());
  // The endpoint serves inference on 8000; metrics live on the TLS server's port.
  const ep = { ...tlsServer.endpoint(), key: '127.0.0.1:8000', port: 8000 };
  const ok = rig(t, { source: { scheme: 'https', path: '/v2/metrics', port: tlsServer.port, insecureSkipVerify: true } });
  ok.ds.setEndpoints([ep]);
  ok.collector.start();
  await waitFor('scraped over TLS', () => ok.ds.get(ep.key)?.metrics.waitingRequests === 11);

  const strict = rig(t, { source: { scheme: 'https', path: '/v2/metrics', port: tlsServer.port, insecureSkipVerify: false } });
  strict.ds.setEndpoints([ep]);
  strict.collector.start();
  await waitFor('tls errors', () => strict.collector.counters.errors >= 2);
  assert.ok((await errorCount(strict.metrics, ep.key, 'tls')) >= 2);
  assert.equal(strict.ds.get(ep.key)?.metrics.updatedAt, 0);
});

test('several workers share the endpoints', async (t) => {
  const hosts = ['127.0.0.20', '127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24', '127.0.0.25'];
  const list = await servers(t, ...hosts.map((h, i) => [h, vllm({ waiting: i + 1 })] as [string, string]));
  const r = rig(t, { workers: 3 });
  r.ds.setEndpoints(list.map((s) => s.endpoint()));
  r.collector.start();
  await waitFor('all scraped', () => list.every((s, i) => r.m(s).waitingRequests === i + 1));
});

test('pool gauges average only fresh endpoints', async (t) => {
  const [a, b, c] = await servers(
    t,
    ['127.0.0.26', vllm({ waiting: 2, running: 4, kvUsage: 0.2 })],
    ['127.0.0.27', vllm({ waiting: 6, running: 8, kvUsage: 0.6 })],
    ['127.0.0.28', vllm({ waiting: 100, running: 100, kvUsage: 1 })],
  );
  const r = rig(t, { metricsStalenessThreshold: 150, refreshPrometheusMetricsInterval: 60_000 });
  r.ds.setEndpoints([a!.endpoint('', {}, 'pod-a'), b!.endpoint('', {}, 'pod-b'), c!.endpoint('', {}, 'pod-c')]);
  r.collector.start();
  await waitFor('scraped', () => [a, b, c].every((s) => r.m(s!).updatedAt > 0));
  await c!.close();
  await sleep(300);
  r.collector.refreshPoolGauges();
  const g = async (name: string) => {
    const m = (await r.metrics.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));
    return m;
  };
  assert.deepEqual(await g('inference_pool_average_kv_cache_utilization'), ['inference_pool_average_kv_cache_utilization{name="pool-a"} 0.4']);
  assert.deepEqual(await g('inference_pool_average_queue_size'), ['inference_pool_average_queue_size{name="pool-a"} 4']);
  assert.deepEqual(await g('inference_pool_average_running_requests'), ['inference_pool_average_running_requests{name="pool-a"} 6']);
  assert.deepEqual(await g('inference_pool_ready_pods'), ['inference_pool_ready_pods{name="pool-a"} 2']);
  assert.deepEqual((await g('inference_pool_per_pod_queue_size')).sort(), [
    'inference_pool_per_pod_queue_size{name="pool-a",model_server_pod="pod-a"} 2',
    'inference_pool_per_pod_queue_size{name="pool-a",model_server_pod="pod-b"} 6',
  ]);
});

test('pool gauges are refreshed on their own timer', async (t) => {
  const [a] = await servers(t, ['127.0.0.29', vllm({ waiting: 3 })]);
  const r = rig(t, { refreshPrometheusMetricsInterval: 100 });
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  const deadline = Date.now() + 2000;
  for (;;) {
    const v = (await r.metrics.poolAverageQueue.get()).values.find((x) => x.labels.name === 'pool-a');
    if (v?.value === 3) break;
    assert.ok(Date.now() < deadline, 'inference_pool_average_queue_size set by the timer');
    await sleep(20);
  }
});

test('failures are logged at most once per endpoint per errorLogInterval; recovery is logged', async (t) => {
  const [a] = await servers(t, ['127.0.0.30', vllm({ waiting: 1 })]);
  const { logger, lines } = captureLogger('info');
  const r = rig(t, { logger, errorLogInterval: 10_000 });
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  await waitFor('scraped', () => r.m(a!).updatedAt > 0);
  a!.mode = { kind: 'status', status: 503 };
  await waitFor('many failures', () => r.collector.counters.errors >= 8);
  const failed = lines.filter((l) => l.msg === 'metrics scrape failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.endpoint, a!.endpoint().key);
  assert.equal(failed[0]?.reason, 'http_status');
  a!.mode = { kind: 'ok' };
  await waitFor('recovery logged', () => lines.some((l) => l.msg === 'metrics scrape recovered'));
  assert.ok(lines.some((l) => l.msg === 'optional metrics not exposed by endpoint'), 'LoRA info absence noted');
});

test('removing an endpoint drops its error counter series', async (t) => {
  const [a] = await servers(t, ['127.0.0.31', 'nothing useful\n']);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  await waitFor('errors', () => r.collector.counters.errors >= 2);
  assert.ok((await errorCount(r.metrics, a!.endpoint().key, 'missing_metric')) > 0);
  r.ds.removeEndpoint(a!.endpoint().key);
  assert.equal(await errorCount(r.metrics, a!.endpoint().key, 'missing_metric'), 0);
});

test('a crashed worker is restarted and its endpoints resume', async (t) => {
  const [a] = await servers(t, ['127.0.0.32', vllm({ waiting: 1 })]);
  const r = rig(t);
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  await waitFor('scraped', () => r.m(a!).updatedAt > 0);
  const slot = (r.collector as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0];
  await slot!.worker.terminate();
  a!.body = vllm({ waiting: 2 });
  await waitFor('resumed after restart', () => r.m(a!).waitingRequests === 2, 4000);
});

test('updatedAt is expressed on the injected clock', async (t) => {
  const [a] = await servers(t, ['127.0.0.33', vllm({ waiting: 1 })]);
  const offset = 1_000_000;
  const r = rig(t, { now: () => Date.now() - offset });
  r.ds.setEndpoints([a!.endpoint()]);
  r.collector.start();
  await waitFor('scraped', () => r.m(a!).updatedAt > 0);
  assert.ok(Math.abs(r.m(a!).updatedAt - (Date.now() - offset)) < 5000, 'on the injected clock, not the wall clock (1e6 ms apart)');
});

test('dataLayerSettings: one metrics-data-source with one core-metrics-extractor, else a config error', () => {
  const ctx = { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now };
  const src = metricsDataSource.create('src', metricsDataSource.parameters.parse({ path: '/m', timeout: '2s' }), ctx);
  const ext = coreMetricsExtractor.create('ext', coreMetricsExtractor.parameters.parse({ defaultEngine: 'sglang' }), ctx);
  const got = dataLayerSettings({ sources: [{ plugin: src, extractors: [ext] }] });
  assert.equal(got?.source.path, '/m');
  assert.equal(got?.source.timeoutMs, 2000);
  assert.equal(got?.extractor.defaultEngine, 'sglang');
  assert.equal(dataLayerSettings({ sources: [] }), undefined);
  assert.throws(() => dataLayerSettings({ sources: [{ plugin: src, extractors: [ext] }, { plugin: src, extractors: [ext] }] }), /only one metrics-data-source/);
  assert.throws(() => dataLayerSettings({ sources: [{ plugin: ext, extractors: [ext] }] }), /sources\[0\].*core-metrics-extractor; tokenroute collects/);
  assert.throws(() => dataLayerSettings({ sources: [{ plugin: src, extractors: [] }] }), /exactly one core-metrics-extractor.*none/);
});

test('the collector takes its source and engines from resolved dataLayer plugins', async (t) => {
  const [a] = await servers(t, ['127.0.0.35', sglangMetricsPage({ waiting: 4, running: 1, kvUsage: 0.2 })]);
  const ctx = { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now };
  const src = metricsDataSource.create('src', metricsDataSource.parameters.parse({}), ctx);
  const ext = coreMetricsExtractor.create('ext', coreMetricsExtractor.parameters.parse({ defaultEngine: 'sglang' }), ctx);
  const r = rig(t, { dataLayer: { sources: [{ plugin: src, extractors: [ext] }] } });
  r.ds.setEndpoints([a!.endpoint('')]);
  r.collector.start();
  await waitFor('scraped with the sglang default engine', () => r.m(a!).waitingRequests === 4);
});

test('isStale: never scraped, older than the threshold, fresh', () => {
  assert.ok(isStale(EMPTY_METRICS, 1000, 2000));
  assert.ok(isStale({ ...EMPTY_METRICS, updatedAt: 1000 }, 3001, 2000));
  assert.ok(!isStale({ ...EMPTY_METRICS, updatedAt: 1000 }, 3000, 2000));
});

test('invalid options are rejected', () => {
  const ds = new Datastore();
  assert.throws(() => new MetricsCollector({ datastore: ds, workers: 0 }), /workers/);
  assert.throws(() => new MetricsCollector({ datastore: ds, interval: 0 }), /interval/);
  assert.throws(() => new MetricsCollector({ datastore: ds, timeout: -1 }), /timeout/);
});
