// Protocol abuse against the real ext_proc gRPC server (a real grpc-js client playing a broken or
// hostile proxy): out-of-order messages and duplicate phases, huge and tiny chunks, abandoned
// streams, cancels at every phase. After each case a normal request still routes, every routed
// request is ended exactly once, and the heap returns near its baseline once collected.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { StreamDriver, bodyMsg, deferred, headersMsg, newExtProcClient, respBodyMsg, respHeadersMsg, startWithClient, waitFor, type Started } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let s: Started;
beforeAll(async () => {
  s = await startWithClient(undefined, { extproc: { maxRequestBodyMessages: 10_000 } });
});
afterAll(async () => {
  await s?.close();
});

const BODY = JSON.stringify({ model: 'm', prompt: 'abuse test' });

/** A well-behaved request: routed, response streamed, closed. */
async function normalRequest(): Promise<void> {
  const d = new StreamDriver(s.client);
  d.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions' }));
  d.send(bodyMsg(BODY, true));
  const [h] = await d.take(2);
  assert.ok(h.request_headers?.response?.header_mutation, 'routed');
  d.send(respHeadersMsg({ ':status': '200' }));
  await d.next();
  d.send(respBodyMsg('{"ok":true}', true));
  await d.next();
  d.end();
  assert.equal((await d.status).code, grpc.status.OK);
}

async function heapMiB(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe('ext_proc protocol abuse', () => {
  it('out-of-order messages and duplicate phases fail the stream, and the server goes on', async () => {
    const cases = [
      [bodyMsg('x', true)],
      [headersMsg({ ':method': 'POST' }), headersMsg({ ':method': 'POST' })],
      [headersMsg({ ':method': 'POST' }), bodyMsg(BODY, true), respHeadersMsg({ ':status': '200' }), respHeadersMsg({ ':status': '200' })],
      [respBodyMsg('x', true)],
      [{}],
    ];
    for (const msgs of cases) {
      const d = new StreamDriver(s.client);
      for (const m of msgs) d.send(m);
      const st = await d.status;
      assert.ok(st.code === grpc.status.FAILED_PRECONDITION || st.code === grpc.status.INVALID_ARGUMENT, `${JSON.stringify(Object.keys(msgs.at(-1)!))}: ${st.code} ${st.details}`);
      await normalRequest();
    }
  });

  it('a huge single chunk and a body of thousands of tiny chunks are routed; past the message cap, a 400', async () => {
    const huge = new StreamDriver(s.client);
    huge.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions' }));
    huge.send(bodyMsg(JSON.stringify({ model: 'm', prompt: 'y'.repeat(8 << 20) }), true));
    assert.ok((await huge.next(20_000)).request_headers?.response, 'an 8 MiB body is routed');
    huge.cancel();
    const tiny = new StreamDriver(s.client);
    tiny.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions' }));
    const text = JSON.stringify({ model: 'm', prompt: 'z'.repeat(4000) });
    for (let i = 0; i < text.length; i++) tiny.send(bodyMsg(text[i], i === text.length - 1));
    assert.ok((await tiny.next(20_000)).request_headers?.response, `${text.length} one-byte messages are routed`);
    tiny.cancel();
    const flood = new StreamDriver(s.client);
    flood.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions' }));
    for (let i = 0; i < 10_050; i++) flood.send(bodyMsg(' ', false));
    assert.ok(['BadRequest', 400].includes((await flood.next(20_000)).immediate_response?.status?.code as never), 'past 10,000 messages: 400');
    await normalRequest();
  });

  it('cancels at every phase end each routed request exactly once', async () => {
    const gate = deferred<void>();
    let requestsBefore = 0;
    const phases: ((d: StreamDriver) => Promise<void>)[] = [
      async (d) => void d.send(headersMsg({ ':method': 'POST' })),
      async (d) => {
        d.send(headersMsg({ ':method': 'POST' }));
        d.send(bodyMsg('{"model":', false));
      },
      async (d) => {
        // While the controller is deciding (this request only: the next ones decide at once).
        const normal = s.controller.decideBody;
        s.controller.decideBody = async (input, ctl) => {
          await gate.promise;
          return ctl.route(input, ['10.0.0.1:8000']);
        };
        d.send(headersMsg({ ':method': 'POST' }));
        d.send(bodyMsg(BODY, true));
        await waitFor(() => s.controller.requests.length > requestsBefore, 3000, 'the controller deciding');
        s.controller.decideBody = normal;
      },
      async (d) => {
        d.send(headersMsg({ ':method': 'POST' }));
        d.send(bodyMsg(BODY, true));
        await d.take(2);
      },
      async (d) => {
        d.send(headersMsg({ ':method': 'POST' }));
        d.send(bodyMsg(BODY, true));
        await d.take(2);
        d.send(respHeadersMsg({ ':status': '200' }));
        await d.next();
        d.send(respBodyMsg('partial', false));
        await d.next();
      },
    ];
    const before = s.controller.handles.length;
    for (const phase of phases) {
      requestsBefore = s.controller.requests.length;
      const d = new StreamDriver(s.client);
      await phase(d);
      d.cancel();
      await d.status;
    }
    gate.resolve();
    await new Promise((r) => setTimeout(r, 50));
    const routed = s.controller.handles.slice(before);
    assert.equal(routed.length, 3, 'the three phases that reached a decision');
    await waitFor(() => routed.every((h) => h.ends.length === 1), 3000, 'every routed request ended');
    // The one cancelled while deciding never got an answer: cancelled. After the routing answer a
    // cancel can reach grpc-js as a half-close first; either way the request ends once.
    // (Its handle is created last: the decision came after the gate opened.)
    assert.deepEqual(routed.at(-1)!.ends, ['cancelled']);
    for (const h of routed.slice(0, -1)) assert.ok(h.ends[0] === 'cancelled' || h.ends[0] === 'complete', h.ends.join());
    await normalRequest();
  });

  it('a thousand abandoned streams leave no memory behind', async () => {
    await normalRequest();
    const base = await heapMiB();
    for (let round = 0; round < 4; round++) {
      // Each round on a connection of its own: nghttp2 limits stream resets per connection (a burst
      // of 1,000, then 33/s — the HTTP/2 rapid-reset defence) and answers more with GOAWAY, which
      // would take the suite's shared connection down with it, depending on how fast rounds run.
      const client = newExtProcClient(`127.0.0.1:${s.servers.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      const drivers = Array.from({ length: 250 }, () => {
        const d = new StreamDriver(client);
        d.send(headersMsg({ ':method': 'POST' }));
        d.send(bodyMsg(Buffer.alloc(64 * 1024, 0x20), false)); // 64 KiB each, never finished
        return d;
      });
      await new Promise((r) => setTimeout(r, 100));
      for (const d of drivers) d.cancel();
      await Promise.all(drivers.map((d) => d.status));
      client.close();
    }
    await normalRequest();
    const after = await heapMiB();
    // 1,000 × 64 KiB were held at some point; what stays must be a small fraction of it.
    assert.ok(after - base < 24, `heap ${base.toFixed(1)} → ${after.toFixed(1)} MiB`);
  });
});
