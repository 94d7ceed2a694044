// Integration tests of the scrape worker's logic, run in-process (no thread) so each posted
// message can be inspected. Starts: real HTTP servers on 127.0.0.x (FakeModelServer) and a
// ScrapeWorker talking to them over real keep-alive sockets.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BUILTIN_ENGINE_CONFIGS } from '../../../epp/src/datalayer/engines.js';
import type { FromWorker, WorkerInit } from '../../../epp/src/datalayer/protocol.js';
import { vllmMetricsPage } from '../../fixtures/sample-exposition.js';
import { metricsUrl, DEFAULT_SOURCE_CONFIG } from '../../../epp/src/datalayer/source.js';
import { ScrapeWorker } from '../../../epp/src/datalayer/worker.js';
import { sleep, startFakeModelServer, waitFor, type FakeModelServer } from './helpers.js';

type Batch = Extract<FromWorker, { t: 'batch' }>;

function harness(init: Partial<WorkerInit> = {}) {
  const messages: FromWorker[] = [];
  const worker = new ScrapeWorker(
    { intervalMs: 50, timeoutMs: 1000, insecureSkipVerify: true, maxResponseBytes: 1 << 20, engines: BUILTIN_ENGINE_CONFIGS, ...init },
    (m) => messages.push(structuredClone(m)),
  );
  const batches = () => messages.filter((m): m is Batch => m.t === 'batch');
  const target = (s: FakeModelServer) => ({ key: s.endpoint().key, url: metricsUrl(s.endpoint(), DEFAULT_SOURCE_CONFIG), engine: 'vllm' });
  return { worker, messages, batches, target };
}

const page = (waiting: number) => vllmMetricsPage({ waiting, running: 1, kvUsage: 0.5 });

test('one batch per tick carries every endpoint that finished, as plain tuples', async (t) => {
  const servers = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((h, i) => startFakeModelServer(h, page(i + 1))));
  const h = harness({ intervalMs: 100, phases: 1 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await Promise.all(servers.map((s) => s.close()));
  });
  h.worker.handle({ t: 'targets', upsert: servers.map(h.target), remove: [] });
  await sleep(450);
  const batches = h.batches();
  // ~4-5 ticks in 450 ms; fewer when the machine is loaded, but one batch per endpoint per tick
  // (the behaviour this guards against) would give ~13.
  assert.ok(batches.length >= 2 && batches.length <= 6, `~one batch per 100 ms tick, got ${batches.length}`);
  const keys = servers.map((s) => s.endpoint().key).sort();
  let complete = 0;
  for (const b of batches) {
    const inBatch = b.updates.map((u) => u[0]).sort();
    assert.equal(new Set(inBatch).size, inBatch.length, 'an endpoint at most once per batch');
    if (JSON.stringify(inBatch) === JSON.stringify(keys)) complete++;
    assert.deepEqual(b.errors, []);
  }
  // A scrape that outlasts its tick (a loaded machine) lands in the next batch; most batches
  // still carry all three endpoints that were scraped in the same tick.
  assert.ok(complete * 2 >= batches.length, `batches holding all three endpoints: ${complete} of ${batches.length}`);
  const u = batches[0]?.updates.find((x) => x[0] === servers[1]?.endpoint().key);
  assert.ok(u);
  const [, scrapedAt, mask, waiting, running, kv, maxLoras, blockSize, numBlocks, active, waitingLoras] = u;
  assert.ok(Math.abs(Date.now() - scrapedAt) < 5000);
  assert.equal(typeof mask, 'number');
  assert.deepEqual([waiting, running, kv, maxLoras, blockSize, numBlocks, active, waitingLoras], [2, 1, 0.5, 0, 16, 27404, [], []]);
  for (const s of servers) assert.equal(s.connections, 1, 'keep-alive: one connection per endpoint');
});

test('endpoints are spread over the phases of the interval', async (t) => {
  const hosts = ['127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15'];
  const servers = await Promise.all(hosts.map((host) => startFakeModelServer(host, page(1))));
  const h = harness({ intervalMs: 200, phases: 4 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await Promise.all(servers.map((s) => s.close()));
  });
  h.worker.handle({ t: 'targets', upsert: servers.map(h.target), remove: [] });
  await sleep(30); // the initial scrapes of all four, posted together
  const first = h.batches().length;
  await sleep(600);
  const later = h.batches().slice(first);
  // Spread: each batch carries the one endpoint of its phase. All four in the same phase (the
  // behaviour this guards against) makes every batch carry four. A loaded machine may delay a
  // tick so that two phases land together, so the check is on the typical batch, not on each.
  const sizes = later.map((b) => b.updates.length).sort((x, y) => x - y);
  assert.ok(sizes.length >= 4, `a batch per 50 ms phase, got ${sizes.length}`);
  assert.equal(sizes[Math.floor(sizes.length / 2)], 1, `median updates per batch: ${sizes.join(',')}`);
  // Each endpoint once per 200 ms interval: ~3-4 scrapes in ~630 ms; never once per phase (~13).
  for (const s of servers) assert.ok(s.requests >= 2 && s.requests <= 6, `each endpoint every 200 ms, got ${s.requests}`);
});

test('a hung endpoint holds one request until the deadline and delays nobody', async (t) => {
  const good = await startFakeModelServer('127.0.0.5', page(3));
  const hung = await startFakeModelServer('127.0.0.6', page(4));
  hung.mode = { kind: 'hang' };
  const h = harness({ intervalMs: 50, timeoutMs: 600 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await Promise.all([good.close(), hung.close()]);
  });
  h.worker.handle({ t: 'targets', upsert: [h.target(good), h.target(hung)], remove: [] });
  await sleep(450);
  const goodBatches = h.batches().filter((b) => b.updates.some((u) => u[0] === good.endpoint().key));
  assert.ok(goodBatches.length >= 6, `healthy endpoint updated every tick, got ${goodBatches.length} batches`);
  assert.equal(hung.requests, 1, 'no second request while the first is in flight');
  const timeouts = () => h.batches().flatMap((b) => b.errors).filter((e) => e[0] === hung.endpoint().key && e[1] === 'timeout').length;
  await waitFor('timeout error', () => timeouts() > 0, 1500);
  await sleep(250);
  // Scrapes started (or queued) on every tick would each time out in turn.
  assert.equal(timeouts(), 1, 'one scrape, hence one timeout, per deadline');
  await waitFor('a new request after the deadline', () => hung.requests >= 2, 1000);
  assert.equal(hung.maxConcurrent, 1);
  assert.ok(!h.batches().some((b) => b.updates.some((u) => u[0] === hung.endpoint().key)));
});

test('HTTP 500 is an error that keeps the keep-alive connection', async (t) => {
  const s = await startFakeModelServer('127.0.0.7', page(1));
  s.mode = { kind: 'status', status: 500 };
  const h = harness({ intervalMs: 30 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await s.close();
  });
  h.worker.handle({ t: 'targets', upsert: [h.target(s)], remove: [] });
  await waitFor('several 500s', () => s.requests >= 5);
  const errors = h.batches().flatMap((b) => b.errors);
  assert.ok(errors.length >= 4);
  assert.ok(errors.every((e) => e[1] === 'http_status' && e[2] === 'HTTP 500'));
  assert.equal(s.connections, 1);
});

test('a page cut off mid-body is a connection error, not a page', async (t) => {
  const server = net.createServer((sock) => {
    sock.once('data', () => {
      sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5000\r\n\r\nvllm:num_requests_waiting 3\nvllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.5\n');
      setTimeout(() => sock.destroy(), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.16', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const h = harness({ intervalMs: 1000 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await new Promise((resolve) => server.close(resolve));
  });
  h.worker.handle({ t: 'targets', upsert: [{ key: `127.0.0.16:${port}`, url: `http://127.0.0.16:${port}/metrics`, engine: 'vllm' }], remove: [] });
  await waitFor('error', () => h.batches().some((b) => b.errors.length > 0));
  assert.equal(h.batches().flatMap((b) => b.errors)[0]?.[1], 'connection');
  assert.ok(!h.batches().some((b) => b.updates.length > 0), 'no values from a truncated page');
});

test('oversized pages are cut off', async (t) => {
  const s = await startFakeModelServer('127.0.0.8', page(1));
  const h = harness({ maxResponseBytes: 4096 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await s.close();
  });
  h.worker.handle({ t: 'targets', upsert: [h.target(s)], remove: [] });
  await waitFor('too_large error', () => h.batches().some((b) => b.errors.some((e) => e[1] === 'too_large')));
  assert.ok(!h.batches().some((b) => b.updates.length > 0));
});

test('removing an endpoint aborts its scrape silently; absent optional specs are noted once', async (t) => {
  const hung = await startFakeModelServer('127.0.0.9', page(1));
  const good = await startFakeModelServer('127.0.0.10', page(2));
  hung.mode = { kind: 'hang' };
  const h = harness({ intervalMs: 30 });
  t.onTestFinished(async () => {
    h.worker.stop();
    await Promise.all([hung.close(), good.close()]);
  });
  h.worker.handle({ t: 'targets', upsert: [h.target(hung), h.target(good)], remove: [] });
  await waitFor('hung request arrived', () => hung.requests === 1);
  h.worker.handle({ t: 'targets', upsert: [], remove: [hung.endpoint().key] });
  // Several scrapes of the good endpoint (a loaded machine may take a while to do the first).
  await waitFor('the good endpoint scraped', () => h.batches().flatMap((b) => b.notes).length > 0, 10_000);
  await sleep(200);
  assert.equal(hung.requests, 1);
  assert.ok(!h.batches().some((b) => b.errors.some((e) => e[0] === hung.endpoint().key)), 'no error for a removed endpoint');
  const notes = h.batches().flatMap((b) => b.notes);
  assert.deepEqual(notes, [[good.endpoint().key, 'loraSpec']], 'the page has no LoRA info: one note, not one per scrape');
});

test('stop() posts stopped and nothing after it', async (t) => {
  const s = await startFakeModelServer('127.0.0.11', page(1));
  t.onTestFinished(() => s.close());
  const h = harness({ intervalMs: 20 });
  h.worker.handle({ t: 'targets', upsert: [h.target(s)], remove: [] });
  await waitFor('first batch', () => h.batches().length > 0);
  h.worker.stop();
  const count = h.messages.length;
  assert.deepEqual(h.messages.at(-1), { t: 'stopped' });
  const requests = s.requests;
  await sleep(100);
  assert.equal(h.messages.length, count);
  assert.ok(s.requests <= requests + 1);
});
