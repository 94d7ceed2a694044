// gateway (protocol, integration): the development gateway against an Endpoint Picker that is NOT tokenroute's — a
// scripted ext_proc server written here that behaves like GIE's Go EPP (defers its headers reply
// until the body has arrived, streams the body back, buffers non-SSE responses to the end and
// passes SSE chunks through) or misbehaves on purpose — and plain HTTP upstreams.
// Real components started: the gateway (gateway/: HTTP/1.1 server, ext_proc gRPC client over
// one HTTP/2 channel built from Envoy's protos, upstream HTTP client), a real gRPC server
// (@grpc/grpc-js with Envoy's ext_proc service definition) and node:http upstream servers on
// 127.0.0.1. No filter, no model servers: what the gateway does with any GIE-protocol EPP.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { extProcServiceDefinition } from '../../epp/src/protocol/proto.js';
import { structToJson, jsonToStruct } from '../../epp/src/protocol/struct.js';
import type { ProcessingRequest, ProcessingResponse } from '../../epp/src/protocol/types.js';
import { generateSelfSignedCertificate } from '../../epp/src/server/tls.js';
import { startGateway, type GatewayOptions, type RequestRecord, type RunningGateway } from '../../gateway/index.js';
import { freePort } from '../../e2e/lib/sims.js';

// ---- a scripted ext_proc server ----------------------------------------------------------------

class FakeStream {
  readonly received: ProcessingRequest[] = [];
  private queue: (ProcessingRequest | undefined)[] = [];
  private waiter: ((m: ProcessingRequest | undefined) => void) | undefined;
  ended = false;
  constructor(readonly call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) {
    call.on('data', (m: ProcessingRequest) => {
      this.received.push(m);
      this.push(m);
    });
    call.on('end', () => this.push(undefined));
    call.on('error', () => this.push(undefined));
    call.on('cancelled', () => this.push(undefined));
  }
  private push(m: ProcessingRequest | undefined): void {
    if (m === undefined) this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w(m);
    else this.queue.push(m);
  }
  recv(): Promise<ProcessingRequest | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => (this.waiter = r));
  }
  send(r: ProcessingResponse): void {
    this.call.write(r);
  }
  end(): void {
    this.call.end();
  }
  fail(code: grpc.status, details: string): void {
    this.call.emit('error', { code, details });
  }
}

type Script = (s: FakeStream) => Promise<void>;

interface FakeEpp {
  readonly port: number;
  readonly streams: FakeStream[];
  script: Script;
  close(): Promise<void>;
}

async function startFakeEpp(script: Script, creds = grpc.ServerCredentials.createInsecure()): Promise<FakeEpp> {
  const server = new grpc.Server();
  const fake: FakeEpp = {
    port: 0,
    streams: [],
    script,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
  server.addService(extProcServiceDefinition(), {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
      const s = new FakeStream(call);
      fake.streams.push(s);
      fake.script(s).catch((err: Error) => s.fail(grpc.status.INTERNAL, err.message));
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))));
  (fake as { port: number }).port = port;
  return fake;
}

const raw = (k: string, v: string) => ({ header: { key: k, raw_value: Buffer.from(v) } });

interface GieOptions {
  destination: string;
  /** Where the destination goes (default both, as the protocol requires). */
  via?: 'header' | 'metadata' | 'both';
  rewrite?: (body: Buffer) => Buffer;
  removeHeaders?: string[];
  extraSet?: { header: { key: string; value?: string; raw_value?: Buffer } }[];
}

/** Behaves like GIE's Go EPP (pkg/epp/handlers): one headers reply after the body, body streamed back, etc. */
function gieLike(o: GieOptions): Script {
  return async (s) => {
    const first = await s.recv();
    if (!first?.request_headers) throw new Error('expected request_headers first');
    const chunks: Buffer[] = [];
    if (!first.request_headers.end_of_stream) {
      for (;;) {
        const m = await s.recv();
        if (!m?.request_body) throw new Error('expected request_body');
        if (m.request_body.body) chunks.push(Buffer.from(m.request_body.body));
        if (m.request_body.end_of_stream) break;
      }
    }
    const body = o.rewrite ? o.rewrite(Buffer.concat(chunks)) : Buffer.concat(chunks);
    const via = o.via ?? 'both';
    const set = [...(via !== 'metadata' ? [raw('x-gateway-destination-endpoint', o.destination)] : []), ...(o.extraSet ?? [])];
    s.send({
      request_headers: { response: { header_mutation: { set_headers: set, remove_headers: o.removeHeaders ?? [] }, clear_route_cache: true } },
      ...(via !== 'header' ? { dynamic_metadata: jsonToStruct({ 'envoy.lb': { 'x-gateway-destination-endpoint': o.destination } }) } : {}),
    });
    if (!first.request_headers.end_of_stream) {
      const half = Math.floor(body.length / 2);
      s.send({ request_body: { response: { body_mutation: { streamed_response: { body: body.subarray(0, half), end_of_stream: false } } } } });
      s.send({ request_body: { response: { body_mutation: { streamed_response: { body: body.subarray(half), end_of_stream: true } } } } });
    }
    const rh = await s.recv();
    if (!rh?.response_headers) return s.end();
    s.send({ response_headers: { response: { header_mutation: { set_headers: [raw('x-fake-epp', 'yes')] } } } });
    if (rh.response_headers.end_of_stream) return s.end();
    const sse = (rh.response_headers.headers?.headers ?? []).some((h) => h.key === 'content-type' && Buffer.from(h.raw_value ?? '').toString().includes('event-stream'));
    const held: Buffer[] = [];
    for (;;) {
      const m = await s.recv();
      if (!m) return;
      if (!m.response_body) continue;
      const c = Buffer.from(m.response_body.body ?? Buffer.alloc(0));
      const eos = m.response_body.end_of_stream === true;
      if (sse) s.send({ response_body: { response: { body_mutation: { streamed_response: { body: c, end_of_stream: eos } } } } });
      else held.push(c);
      if (eos) {
        if (!sse) s.send({ response_body: { response: { body_mutation: { streamed_response: { body: Buffer.concat(held), end_of_stream: true } } } } });
        return s.end();
      }
    }
  };
}

// ---- upstreams ---------------------------------------------------------------------------------

interface Upstream {
  readonly key: string;
  readonly seen: { headers: IncomingMessage['headers']; body: Buffer }[];
  close(): Promise<void>;
}

async function startUpstream(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ headers: req.headers, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    key: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const echo = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
  const out = JSON.stringify({ path: req.url, body: body.toString(), contentLength: req.headers['content-length'] ?? null });
  res.writeHead(200, { 'content-type': 'application/json' }).end(out);
};

const SSE_EVENTS = 6;
const SSE_GAP_MS = 60;
const sse = (_req: IncomingMessage, _body: Buffer, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let i = 0;
  const tick = () => {
    if (i < SSE_EVENTS) {
      res.write(`data: {"n":${i++}}\n\n`);
      setTimeout(tick, SSE_GAP_MS);
    } else res.end('data: [DONE]\n\n');
  };
  tick();
};

// ---- client ------------------------------------------------------------------------------------

interface ClientResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  chunkTimes: number[];
  error?: string;
  ms: number;
}

/** POSTs `parts` as separate writes (a few ms apart), so the gateway sees several body chunks. */
function post(url: string, parts: string[], headers: Record<string, string> = {}, path = '/v1/chat/completions'): Promise<ClientResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const u = new URL(url);
    // A response that arrived before the request failed (the gateway answers 413 and closes while the
    // client is still sending: the next write meets a reset) is still the answer the client got.
    let answered: { status: number; headers: IncomingMessage['headers'] } | undefined;
    const chunks: Buffer[] = [];
    const chunkTimes: number[] = [];
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers } }, (res) => {
      answered = { status: res.statusCode ?? 0, headers: res.headers };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        chunkTimes.push(performance.now() - t0);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), chunkTimes, ms: performance.now() - t0 }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), chunkTimes, error: e.message, ms: performance.now() - t0 }));
    });
    req.on('error', (e) => resolve({ status: answered?.status ?? 0, headers: answered?.headers ?? {}, body: Buffer.concat(chunks).toString(), chunkTimes, error: e.message, ms: performance.now() - t0 }));
    let i = 0;
    const next = () => {
      if (i < parts.length) {
        req.write(parts[i++]);
        setTimeout(next, 15);
      } else req.end();
    };
    next();
  });
}

// ---- the tests ---------------------------------------------------------------------------------

let ok: Upstream;
let ok2: Upstream;
let fivexx: Upstream;
let stream: Upstream;
let down: string;
let epp: FakeEpp;
const gateways: RunningGateway[] = [];
const records: RequestRecord[] = [];

async function gateway(o: Partial<GatewayOptions> = {}): Promise<RunningGateway> {
  const gw = await startGateway({ epp: `127.0.0.1:${epp.port}`, failureMode: 'FailClose', messageTimeoutMs: 2000, onRequest: (r) => records.push(r), ...o });
  gateways.push(gw);
  return gw;
}

const lastRecord = () => records[records.length - 1];

beforeAll(async () => {
  ok = await startUpstream(echo);
  ok2 = await startUpstream(echo);
  fivexx = await startUpstream((_q, _b, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded'));
  stream = await startUpstream(sse);
  down = `127.0.0.1:${await freePort()}`;
  epp = await startFakeEpp(gieLike({ destination: ok.key }));
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await epp.close();
  await Promise.all([ok, ok2, fivexx, stream].map((u) => u.close()));
});

describe('the development gateway with a GIE-protocol EPP that is not tokenroute', () => {
  it('speaks FULL_DUPLEX_STREAMED, applies the mutations, walks the fallback list and reports the served endpoint', async () => {
    epp.script = gieLike({
      destination: `not-an-endpoint, ${down}, ${fivexx.key}, ${ok.key}`,
      rewrite: (b) => Buffer.from(b.toString().toUpperCase()),
      removeHeaders: ['x-strip-me'],
      extraSet: [{ header: { key: 'x-added', value: 'by-the-epp' } }],
    });
    const gw = await gateway();
    const parts = ['{"model":"m",', '"messages":[{"role":"user",', '"content":"hello"}]}'];
    const r = await post(gw.url, parts, { 'x-strip-me': '1', 'x-gateway-destination-endpoint': fivexx.key });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-fake-epp'], 'yes', 'response header mutation applied');
    assert.equal(r.headers['x-gateway-destination-endpoint-served'], ok.key);
    assert.equal(r.headers['x-tokenroute-gateway-pick'], 'epp');
    const echoed = JSON.parse(r.body) as { body: string; contentLength: string };
    assert.equal(echoed.body, parts.join('').toUpperCase(), 'the upstream got the body the EPP streamed back');
    assert.equal(echoed.contentLength, String(parts.join('').length));
    const seen = ok.seen[ok.seen.length - 1];
    assert.equal(seen.headers['x-strip-me'], undefined, 'remove_headers applied');
    assert.equal(seen.headers['x-added'], 'by-the-epp', 'set_headers with `value` applied');
    assert.equal(fivexx.seen.length, 1, 'the 5xx endpoint was tried once, then the next');

    const s = epp.streams[epp.streams.length - 1];
    const first = s.received[0];
    assert.deepEqual(
      { req: first.protocol_config?.request_body_mode, resp: first.protocol_config?.response_body_mode },
      { req: 'FULL_DUPLEX_STREAMED', resp: 'FULL_DUPLEX_STREAMED' },
    );
    assert.equal(first.request_headers?.end_of_stream ?? false, false);
    const names = new Set((first.request_headers?.headers?.headers ?? []).map((h) => h.key));
    for (const n of [':method', ':path', ':authority', ':scheme', 'x-request-id', 'content-type']) assert.ok(names.has(n), `request_headers carries ${n}`);
    const bodies = s.received.filter((m) => m.request_body);
    assert.ok(bodies.length >= 2, `body chunks as the client sent them (got ${bodies.length} message(s))`);
    assert.equal(Buffer.concat(bodies.map((m) => Buffer.from(m.request_body!.body ?? Buffer.alloc(0)))).toString(), parts.join(''));
    assert.equal(bodies[bodies.length - 1].request_body?.end_of_stream, true);
    const rh = s.received.find((m) => m.response_headers)!;
    assert.equal((structToJson(rh.metadata_context!.filter_metadata!['envoy.lb']) as Record<string, string>)['x-gateway-destination-endpoint-served'], ok.key);
    assert.deepEqual(
      lastRecord().attempts.map((a) => [a.endpoint, a.outcome]),
      [[down, 'connect-error'], [fivexx.key, 'retry-5xx'], [ok.key, 'response']],
    );
  });

  it('routes on the envoy.lb dynamic metadata when the EPP sets no header', async () => {
    epp.script = gieLike({ destination: ok2.key, via: 'metadata' });
    const gw = await gateway();
    const r = await post(gw.url, ['{"model":"m","prompt":"x"}'], {}, '/v1/completions');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-gateway-destination-endpoint-served'], ok2.key);
  });

  it('streams SSE chunk by chunk through the EPP, without buffering', async () => {
    epp.script = gieLike({ destination: stream.key });
    const gw = await gateway();
    const r = await post(gw.url, ['{"model":"m","stream":true,"prompt":"x"}'], {}, '/v1/completions');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /event-stream/);
    assert.equal((r.body.match(/data: \{/g) ?? []).length, SSE_EVENTS);
    assert.ok(r.chunkTimes.length >= SSE_EVENTS - 1, `client got ${r.chunkTimes.length} chunks`);
    const spread = r.chunkTimes[r.chunkTimes.length - 1] - r.chunkTimes[0];
    assert.ok(spread >= (SSE_EVENTS - 2) * SSE_GAP_MS, `chunks arrived over ${spread.toFixed(0)} ms (buffered?)`);
  });

  it('answers with the EPP\'s immediate_response and never contacts an upstream', async () => {
    epp.script = async (s) => {
      await s.recv();
      await s.recv();
      s.send({ immediate_response: { status: { code: 429 }, headers: { set_headers: [raw('x-reason', 'shed')] }, body: Buffer.from('inference error: ResourceExhausted - no capacity') } });
      s.end();
    };
    const before = ok.seen.length + ok2.seen.length;
    const gw = await gateway();
    const r = await post(gw.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r.status, 429);
    assert.equal(r.headers['x-reason'], 'shed');
    assert.equal(r.body, 'inference error: ResourceExhausted - no capacity');
    assert.equal(ok.seen.length + ok2.seen.length, before);
    assert.equal(lastRecord().answeredBy, 'epp');
  });

  it('FailClose answers 503 at once when the EPP is unreachable; FailOpen routes round-robin over the pool', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const closed = await gateway({ epp: nowhere, failureMode: 'FailClose', fallbackEndpoints: [ok.key, ok2.key] });
    const r1 = await post(closed.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r1.status, 503);
    assert.match(r1.body, /^TR_ERR_GATEWAY_EPP_UNAVAILABLE: endpoint picker unavailable/);
    assert.equal(r1.headers['x-tokenroute-error-code'], 'TR_ERR_GATEWAY_EPP_UNAVAILABLE');
    assert.ok(r1.ms < 1500, `503 after ${r1.ms.toFixed(0)} ms`);
    const r2 = await post(closed.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r2.status, 503);
    assert.ok(r2.ms < 500, `a known-down channel fails at once (${r2.ms.toFixed(0)} ms)`);

    const open = await gateway({ epp: nowhere, failureMode: 'FailOpen', fallbackEndpoints: [ok.key, ok2.key] });
    const served = [];
    for (let i = 0; i < 4; i++) {
      const r = await post(open.url, ['{"model":"m","prompt":"x"}'], { 'x-gateway-destination-endpoint': ok.key });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-tokenroute-gateway-pick'], 'fail-open');
      served.push(r.headers['x-gateway-destination-endpoint-served']);
    }
    assert.deepEqual(new Set(served), new Set([ok.key, ok2.key]), 'round-robin; the client\'s routing header is ignored');
  });

  it('applies the failure mode when a reply misses the message timeout or breaks the protocol', async () => {
    epp.script = async (s) => {
      while (await s.recv());
    }; // reads everything, never answers
    const closed = await gateway({ failureMode: 'FailClose', messageTimeoutMs: 300 });
    const r1 = await post(closed.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r1.status, 503);
    assert.ok(r1.ms >= 250 && r1.ms < 2000, `${r1.ms.toFixed(0)} ms`);
    assert.match(lastRecord().eppFailure ?? '', /^timeout/);
    const open = await gateway({ failureMode: 'FailOpen', messageTimeoutMs: 300, fallbackEndpoints: [ok2.key] });
    const r2 = await post(open.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r2.status, 200);
    assert.equal(r2.headers['x-gateway-destination-endpoint-served'], ok2.key);

    epp.script = async (s) => {
      await s.recv();
      s.send({ request_body: { response: {} } }); // a body reply before the headers reply
      await s.recv();
    };
    const r3 = await post(closed.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r3.status, 503);
    assert.match(lastRecord().eppFailure ?? '', /^protocol/);
  });

  it('resets the client stream when the EPP fails after response bytes went to it, and never hangs', async () => {
    epp.script = async (s) => {
      const inner = gieLike({ destination: stream.key });
      // Run the GIE-like exchange but fail the stream after the first response chunk.
      const origSend = s.send.bind(s);
      let bodyReplies = 0;
      s.send = (r: ProcessingResponse) => {
        origSend(r);
        if (r.response_body && ++bodyReplies === 1) s.fail(grpc.status.INTERNAL, 'picker crashed');
      };
      await inner(s);
    };
    const gw = await gateway({ failureMode: 'FailOpen' });
    const r = await post(gw.url, ['{"model":"m","stream":true,"prompt":"x"}'], {}, '/v1/completions');
    assert.equal(r.status, 200, 'headers had been sent');
    assert.ok(r.error !== undefined || !r.body.includes('[DONE]'), 'the response was cut short');
    assert.ok(r.ms < 3000);
    assert.match(lastRecord().error ?? '', /endpoint picker failed mid-response/);
  });

  it('answers 503 when no endpoint of the list accepts a connection, through the EPP\'s response path', async () => {
    epp.script = gieLike({ destination: down });
    const gw = await gateway();
    const r = await post(gw.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r.status, 503);
    assert.match(r.body, /upstream connect error/);
    assert.equal(r.headers['x-tokenroute-error-code'], 'TR_ERR_GATEWAY_UPSTREAM_UNREACHABLE');
    assert.equal(r.headers['x-fake-epp'], 'yes', 'the local reply went through the EPP\'s response path');
    const s = epp.streams[epp.streams.length - 1];
    assert.equal(s.received.find((m) => m.response_headers)?.metadata_context, undefined, 'no served endpoint reported');
  });

  it('without an EPP, routes round-robin over the fallback endpoints', async () => {
    const gw = await gateway({ epp: undefined, fallbackEndpoints: [ok.key, ok2.key] });
    const served = [];
    for (let i = 0; i < 4; i++) served.push((await post(gw.url, ['{"model":"m","prompt":"x"}'])).headers['x-gateway-destination-endpoint-served']);
    assert.deepEqual(served, [ok.key, ok2.key, ok.key, ok2.key]);
    assert.equal(lastRecord().pickedBy, 'round-robin');
  });

  it('speaks TLS to an EPP with a self-signed certificate (GIE\'s default) with --epp-tls', async () => {
    const { cert, key } = await generateSelfSignedCertificate();
    const tls = await startFakeEpp(gieLike({ destination: ok.key }), grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(cert), private_key: Buffer.from(key) }]));
    try {
      const gw = await gateway({ epp: `127.0.0.1:${tls.port}`, eppTls: true });
      const r = await post(gw.url, ['{"model":"m","prompt":"x"}']);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['x-tokenroute-gateway-pick'], 'epp');
      const plain = await gateway({ epp: `127.0.0.1:${tls.port}`, eppTls: false, failureMode: 'FailClose' });
      assert.equal((await post(plain.url, ['{"model":"m","prompt":"x"}'])).status, 503, 'plaintext to a TLS EPP fails (closed)');
    } finally {
      await tls.close();
    }
  });

  it('answers 413 for a body over the buffer limit', async () => {
    epp.script = gieLike({ destination: ok.key });
    const gw = await gateway({ bufferLimitBytes: 1024 });
    const r = await post(gw.url, ['{"model":"m","prompt":"', 'x'.repeat(2000), '"}']);
    assert.equal(r.status, 413);
    assert.equal(r.headers['x-tokenroute-error-code'], 'TR_ERR_GATEWAY_BODY_TOO_LARGE');
    assert.match(r.body, /^TR_ERR_GATEWAY_BODY_TOO_LARGE: Payload Too Large \(over 1024 bytes\)/);
  });

  it('FailOpen without fallback endpoints answers 503 TR_ERR_GATEWAY_NO_FALLBACK when the EPP is down', async () => {
    const gw = await gateway({ epp: `127.0.0.1:${await freePort()}`, failureMode: 'FailOpen', fallbackEndpoints: [] });
    const r = await post(gw.url, ['{"model":"m","prompt":"x"}']);
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-tokenroute-error-code'], 'TR_ERR_GATEWAY_NO_FALLBACK');
  });
});
