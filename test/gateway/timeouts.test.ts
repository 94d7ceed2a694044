// The development gateway's timeouts, against real sockets on 127.0.0.1 (gateway without an EPP,
// routing round-robin over --fallback-endpoints): a model server that accepts and never answers
// is left for the next endpoint after the response timeout, and is a 504 when it is the last; a
// server that stops mid-body has its stream reset after the idle timeout; a client that never
// finishes its headers (slowloris) is disconnected after the headers timeout.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startGateway, type RunningGateway } from '../../gateway/index.js';

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

async function listen<T extends Server | HttpServer>(server: T): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => sockets.add(s));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Accepts connections and reads, never answers. */
const hung = () => listen(createServer((s) => s.on('data', () => undefined)));
/** Answers 200 with a body. */
const healthy = () => listen(createHttpServer((_req, res) => res.end('{"ok":true}')));

async function gateway(fallback: string[], extra: Partial<Parameters<typeof startGateway>[0]> = {}): Promise<RunningGateway> {
  const gw = await startGateway({ host: '127.0.0.1', port: 0, fallbackEndpoints: fallback, responseTimeoutMs: 300, upstreamIdleTimeoutMs: 300, ...extra });
  closers.push(() => gw.close());
  return gw;
}

const post = (url: string) => fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","prompt":"x"}', signal: AbortSignal.timeout(20_000) });

describe('gateway timeouts', () => {
  it('a server that never answers: the next endpoint serves; alone, it is a 504 after the response timeout', async () => {
    const [dead, live] = [await hung(), await healthy()];
    const both = await gateway([dead, live]);
    // Round-robin starts at the hung server, then moves to the live one within the timeout.
    for (let i = 0; i < 2; i++) {
      const r = await post(both.url);
      assert.equal(r.status, 200, await r.text());
    }
    assert.ok(both.stats.upstreamTimeouts >= 1, 'the hung server timed out at least once');
    const alone = await gateway([dead]);
    const t0 = performance.now();
    const r = await post(alone.url);
    assert.equal(r.status, 504);
    assert.match(await r.text(), /upstream request timeout/);
    assert.ok(performance.now() - t0 < 10_000, 'answered promptly');
  });

  it('a server that stops mid-body: the client stream is cut after the idle timeout', async () => {
    const stalls = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n'); // ... and nothing more, connection kept open
      }),
    );
    const gw = await gateway([stalls]);
    const r = await post(gw.url);
    assert.equal(r.status, 200);
    const t0 = performance.now();
    await assert.rejects(r.text(), 'the body ends in an error, not a clean end');
    assert.ok(performance.now() - t0 < 10_000);
    assert.ok(gw.stats.upstreamResets >= 1);
  });

  it('a client that never finishes its headers is disconnected (slowloris)', async () => {
    const gw = await gateway([await healthy()], { clientHeadersTimeoutMs: 400 });
    const port = Number(new URL(gw.url).port);
    const sockets = await Promise.all(
      Array.from({ length: 20 }, () => new Promise<Socket>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ');
          resolve(s);
        });
        s.on('error', () => undefined);
        s.resume(); // read what the gateway answers, so its close reaches us
      })),
    );
    const t0 = performance.now();
    // The gateway ends each connection (after a 400): the socket's readable side ends.
    await Promise.all(sockets.map((s) => new Promise<void>((r) => (s.readableEnded || s.destroyed ? r() : (s.once('end', () => r()), s.once('close', () => r()))))));
    const ms = performance.now() - t0;
    assert.ok(ms < 10_000, `all 20 closed after ${ms.toFixed(0)} ms`);
    for (const s of sockets) s.destroy();
    // The gateway still serves.
    assert.equal((await post(gw.url)).status, 200);
  });
});
