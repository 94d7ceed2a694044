// Integration tests of the ext_proc protocol. Real components started: the EPP gRPC servers
// (startEppGrpcServers, plaintext, 127.0.0.1, ephemeral ports) and a real grpc-js client built
// from Envoy's ext_proc protos; the RequestController is the scriptable TestController (the real
// scheduler is wired in elsewhere). Each test plays the proxy's side of one stream.
import { describe, it, beforeAll, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { httpStatusNumber } from '../../../epp/src/protocol/proto.js';
import { structToJson } from '../../../epp/src/protocol/struct.js';
import type { ProcessingResponse } from '../../../epp/src/protocol/types.js';
import {
  bodyMsg,
  counterValue,
  deferred,
  headersMsg,
  respBodyMsg,
  respHeadersMsg,
  servedMetadata,
  setHeadersOf,
  startWithClient,
  StreamDriver,
  TestController,
  waitFor,
  type Started,
} from './harness.js';

const DEST = 'x-gateway-destination-endpoint';

function bigBody(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (i % 26);
  return b;
}

function streamedChunks(rs: ProcessingResponse[]): { body: Buffer; eos: boolean }[] {
  return rs.map((r) => {
    assert.equal(r.response, 'request_body');
    const s = r.request_body?.response?.body_mutation?.streamed_response;
    assert.ok(s, 'expected a streamed_response body mutation');
    return { body: Buffer.from(s.body ?? []), eos: s.end_of_stream === true };
  });
}

describe('ext_proc over gRPC: full-duplex request path', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startWithClient();
  });
  afterAll(async () => {
    await s.close();
  });

  it('defers the headers reply until the body is complete, then sends headers and ordered ≤62,000-byte chunks', async () => {
    const c = s.controller;
    const start = c.handles.length;
    const body = bigBody(200_000);
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions', 'x-request-id': 'req-1', 'content-length': String(body.length) }));
    assert.equal(await d.silentFor(100), true, 'no reply to request_headers in full-duplex mode');
    for (let off = 0; off < body.length; off += 30_000) {
      const end = Math.min(off + 30_000, body.length);
      d.send(bodyMsg(body.subarray(off, end), end === body.length));
      if (end < body.length) assert.equal(await d.silentFor(20), true, 'no reply while the body is incomplete');
    }
    const first = await d.next();
    assert.equal(first.response, 'request_headers');
    const common = first.request_headers?.response;
    assert.equal(common?.clear_route_cache, true);
    const set = setHeadersOf(common?.header_mutation);
    assert.equal(set.get(DEST), '10.0.0.1:8000');
    assert.equal(set.has('content-length'), false, 'content-length only when the body changed');
    assert.deepEqual(structToJson(first.dynamic_metadata), { 'envoy.lb': { [DEST]: '10.0.0.1:8000' } });
    for (const o of common?.header_mutation?.set_headers ?? []) assert.equal(o.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');

    const nChunks = Math.ceil(body.length / 62_000);
    const chunks = streamedChunks(await d.take(nChunks));
    assert.equal(chunks.length, 4);
    for (const ch of chunks) assert.ok(ch.body.length <= 62_000 && ch.body.length > 0);
    assert.deepEqual(chunks.map((ch) => ch.eos), [false, false, false, true]);
    assert.ok(Buffer.concat(chunks.map((ch) => ch.body)).equals(body), 'body returned intact and in order');

    const input = c.requests.at(-1)!;
    assert.ok(input.body.equals(body));
    assert.equal(input.requestId, 'req-1');
    assert.equal(input.headers.get(':path'), '/v1/completions');
    assert.equal(c.handles.length, start + 1);

    d.end();
    assert.equal((await d.status).code, grpc.status.OK);
    await waitFor(() => c.handles.at(-1)!.ends.length === 1, 2000, 'onEnd');
    assert.deepEqual(c.handles.at(-1)!.ends, ['complete']);
  });

  it('sends a rewritten body with content-length and the extra headers/metadata of the decision', async () => {
    const c = s.controller;
    const rewritten = Buffer.from(JSON.stringify({ model: 'target-model', prompt: 'x'.repeat(70_000) }));
    c.decideBody = (input, ctl) =>
      ctl.route(input, ['10.0.0.9:8000'], {
        body: rewritten,
        setHeaders: new Map([['x-prefill', '10.0.0.8:8000']]),
        removeHeaders: ['x-internal'],
        metadata: new Map([['tokenroute', new Map([['profile', 'pd']])]]),
      });
    try {
      const d = new StreamDriver(s.client);
      d.send(headersMsg({ ':method': 'POST', 'x-request-id': 'req-2' }));
      d.send(bodyMsg('{"model":"alias","prompt":"x"}', true));
      const h = await d.next();
      const set = setHeadersOf(h.request_headers?.response?.header_mutation);
      assert.equal(set.get(DEST), '10.0.0.9:8000');
      assert.equal(set.get('x-prefill'), '10.0.0.8:8000');
      assert.equal(set.get('content-length'), String(rewritten.length));
      assert.deepEqual(h.request_headers?.response?.header_mutation?.remove_headers, ['x-internal']);
      assert.deepEqual(structToJson(h.dynamic_metadata), { 'envoy.lb': { [DEST]: '10.0.0.9:8000' }, tokenroute: { profile: 'pd' } });
      const chunks = streamedChunks(await d.take(2));
      assert.ok(Buffer.concat(chunks.map((x) => x.body)).equals(rewritten));
      assert.deepEqual(chunks.map((x) => x.eos), [false, true]);
      d.end();
      assert.equal((await d.status).code, grpc.status.OK);
    } finally {
      c.decideBody = (input, ctl) => ctl.route(input, ['10.0.0.1:8000']);
    }
  });

  it('writes fallback endpoints comma-separated, identical in header and metadata, IPv6 intact', async () => {
    const c = s.controller;
    c.decideBody = (input, ctl) => ctl.route(input, ['[fd00:10:244::5]:8000', '10.0.0.2:8000', '[::1]:9000']);
    try {
      const d = new StreamDriver(s.client);
      d.send(headersMsg({ ':method': 'POST' }));
      d.send(bodyMsg('{}', true));
      const h = await d.next();
      const want = '[fd00:10:244::5]:8000,10.0.0.2:8000,[::1]:9000';
      assert.equal(setHeadersOf(h.request_headers?.response?.header_mutation).get(DEST), want);
      assert.equal((structToJson(h.dynamic_metadata)['envoy.lb'] as Record<string, unknown>)[DEST], want);
      const [chunk] = streamedChunks(await d.take(1));
      assert.equal(chunk.body.toString(), '{}');
      assert.equal(chunk.eos, true);
      d.end();
      await d.status;
    } finally {
      c.decideBody = (input, ctl) => ctl.route(input, ['10.0.0.1:8000']);
    }
  });

  it('answers a bodiless request at its headers through handleBodiless', async () => {
    const c = s.controller;
    const before = { bodiless: c.bodiless.length, requests: c.requests.length };
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'GET', ':path': '/v1/models' }, true));
    const h = await d.next();
    assert.equal(h.response, 'request_headers');
    assert.equal(setHeadersOf(h.request_headers?.response?.header_mutation).get(DEST), '10.0.0.1:8000');
    assert.equal(h.request_headers?.response?.clear_route_cache, true);
    assert.equal(c.bodiless.length, before.bodiless + 1);
    assert.equal(c.requests.length, before.requests, 'handleRequest not called');
    assert.equal(c.bodiless.at(-1)!.body.length, 0);
    assert.match(c.bodiless.at(-1)!.requestId, /^[0-9a-f-]{36}$/, 'a UUID when x-request-id is absent');
    d.end();
    assert.equal((await d.status).code, grpc.status.OK);
  });

  it('treats request_trailers as the end of the body and answers them after the body', async () => {
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg('{"a":1}', false));
    assert.equal(await d.silentFor(50), true);
    d.send({ request_trailers: { trailers: { headers: [{ key: 'x-trailer', raw_value: Buffer.from('1') }] } } });
    const [h, b, t] = await d.take(3);
    assert.equal(h.response, 'request_headers');
    const [chunk] = streamedChunks([b]);
    assert.equal(chunk.body.toString(), '{"a":1}');
    assert.equal(chunk.eos, false, 'end_of_stream stays false: trailers follow');
    assert.equal(t.response, 'request_trailers');
    assert.equal(s.controller.requests.at(-1)!.body.toString(), '{"a":1}');
    d.end();
    await d.status;
  });

  it('passes filter metadata, flattened attributes and gRPC initial metadata to the controller', async () => {
    const md = new grpc.Metadata();
    md.set('x-route-profile', 'pd');
    const d = new StreamDriver(s.client, md);
    d.send(
      headersMsg({ ':method': 'POST' }, false, {
        metadata_context: {
          filter_metadata: {
            'envoy.lb.subset_hint': {
              fields: {
                'x-gateway-destination-endpoint-subset': { listValue: { values: [{ stringValue: '10.0.0.1:8000' }, { stringValue: '[fd00::1]:8000' }] } },
              },
            },
          },
        },
        attributes: { 'envoy.filters.http.ext_proc': { fields: { 'xds.route_name': { stringValue: 'route-a' }, 'request.size': { numberValue: 12 } } } },
      }),
    );
    d.send(bodyMsg('{}', true));
    await d.take(2);
    const input = s.controller.requests.at(-1)!;
    assert.deepEqual(input.filterMetadata['envoy.lb.subset_hint'], { 'x-gateway-destination-endpoint-subset': ['10.0.0.1:8000', '[fd00::1]:8000'] });
    assert.equal(input.attributes.get('xds.route_name'), 'route-a');
    assert.equal(input.attributes.get('request.size'), 12);
    assert.equal(input.grpcMetadata.get('x-route-profile'), 'pd');
    d.end();
    await d.status;
  });

  it('answers in the `value` field when the proxy sends header values there', async () => {
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }, false, {}, 'value'));
    d.send(bodyMsg('{}', true));
    const h = await d.next();
    const opt = h.request_headers?.response?.header_mutation?.set_headers?.[0];
    assert.equal(opt?.header.key, DEST);
    assert.equal(opt?.header.value, '10.0.0.1:8000');
    assert.equal(opt?.header.raw_value?.length ?? 0, 0, 'never both value and raw_value');
    await d.take(1);
    d.end();
    await d.status;
  });
});

describe('ext_proc over gRPC: body modes from protocol_config', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startWithClient();
  });
  afterAll(async () => {
    await s.close();
  });

  it('BUFFERED: CONTINUE at the headers, routing on the body response', async () => {
    const c = s.controller;
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST', 'content-length': '7' }, false, { protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'BUFFERED' } }));
    const h = await d.next();
    assert.equal(h.response, 'request_headers');
    assert.equal(h.request_headers?.response?.header_mutation, undefined, 'no destination yet');
    assert.equal(h.dynamic_metadata, undefined);
    d.send(bodyMsg('{"a":1}', true));
    const b = await d.next();
    assert.equal(b.response, 'request_body');
    const common = b.request_body?.response;
    assert.equal(setHeadersOf(common?.header_mutation).get(DEST), '10.0.0.1:8000');
    assert.equal(common?.clear_route_cache, true);
    assert.equal(common?.body_mutation, undefined, 'unchanged body is not mutated');
    assert.deepEqual(structToJson(b.dynamic_metadata), { 'envoy.lb': { [DEST]: '10.0.0.1:8000' } });
    assert.equal(c.requests.at(-1)!.body.toString(), '{"a":1}');

    // Buffered response: unchanged → no mutation; the handle sees the whole body as the end.
    d.send(respHeadersMsg({ ':status': '200' }));
    await d.next();
    d.send(respBodyMsg('{"ok":true}', true));
    const rb = await d.next();
    assert.equal(rb.response, 'response_body');
    assert.equal(rb.response_body?.response?.body_mutation, undefined);
    assert.deepEqual(c.handles.at(-1)!.bodyCalls, [{ bytes: 11, eos: true }]);
    d.end();
    assert.equal((await d.status).code, grpc.status.OK);
  });

  it('BUFFERED: a rewritten body goes in body_mutation.body with a matching content-length', async () => {
    const c = s.controller;
    const rewritten = Buffer.from('{"model":"target"}');
    c.decideBody = (input, ctl) => ctl.route(input, ['10.0.0.3:8000'], { body: rewritten });
    c.transform = (chunk) => Buffer.from(chunk.toString().toUpperCase());
    try {
      const d = new StreamDriver(s.client);
      d.send(headersMsg({ ':method': 'POST' }, false, { protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'BUFFERED' } }));
      await d.next();
      d.send(bodyMsg('{"model":"a"}', true));
      const b = await d.next();
      const common = b.request_body?.response;
      assert.ok(Buffer.from(common?.body_mutation?.body ?? []).equals(rewritten));
      assert.equal(setHeadersOf(common?.header_mutation).get('content-length'), String(rewritten.length));
      d.send(respHeadersMsg({ ':status': '200' }));
      await d.next();
      d.send(respBodyMsg('{"model":"target"}', true));
      const rb = await d.next();
      assert.equal(Buffer.from(rb.response_body?.response?.body_mutation?.body ?? []).toString(), '{"MODEL":"TARGET"}');
      assert.equal(setHeadersOf(rb.response_body?.response?.header_mutation).get('content-length'), '18');
      d.end();
      await d.status;
    } finally {
      c.decideBody = (input, ctl) => ctl.route(input, ['10.0.0.1:8000']);
      c.transform = undefined;
    }
  });

  it('NONE: routes at the headers through handleBodiless even though a body exists', async () => {
    const c = s.controller;
    const n = c.bodiless.length;
    const d = new StreamDriver(s.client);
    // request_body_mode NONE is proto3's zero value, i.e. an empty protocol_config.
    d.send(headersMsg({ ':method': 'POST', 'content-length': '100' }, false, { protocol_config: { response_body_mode: 'FULL_DUPLEX_STREAMED' } }));
    const h = await d.next();
    assert.equal(setHeadersOf(h.request_headers?.response?.header_mutation).get(DEST), '10.0.0.1:8000');
    assert.equal(c.bodiless.length, n + 1);
    d.end();
    await d.status;
  });

  it('STREAMED (unsupported by GIE): routes at the headers, then passes body chunks through', async () => {
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }, false, { protocol_config: { request_body_mode: 'STREAMED', response_body_mode: 'STREAMED' } }));
    const h = await d.next();
    assert.equal(setHeadersOf(h.request_headers?.response?.header_mutation).get(DEST), '10.0.0.1:8000');
    d.send(bodyMsg('part1', false));
    d.send(bodyMsg('part2', true));
    const [b1, b2] = await d.take(2);
    assert.equal(b1.response, 'request_body');
    assert.equal(b1.request_body?.response?.body_mutation, undefined);
    assert.equal(b2.response, 'request_body');
    d.end();
    await d.status;
  });
});

describe('ext_proc over gRPC: rejections and failures', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startWithClient(new TestController(), { extproc: { maxRequestBodyBytes: 100_000 } });
  });
  afterAll(async () => {
    await s.close();
  });

  for (const [status, code] of [
    [400, 'BadRequest'],
    [429, 'ResourceExhausted'],
    [503, 'ServiceUnavailable'],
  ] as const) {
    it(`maps a ${status} rejection to an ImmediateResponse with GIE's body and ends the stream cleanly`, async () => {
      s.controller.decideBody = () => ({ kind: 'reject', status, message: 'no capacity for you', code: 'TR_ERR_TEST' });
      const d = new StreamDriver(s.client);
      d.send(headersMsg({ ':method': 'POST' }));
      d.send(bodyMsg('{"model":"m"}', true));
      const r = await d.next();
      assert.equal(r.response, 'immediate_response');
      const ir = r.immediate_response!;
      assert.equal(httpStatusNumber(ir.status.code), status);
      assert.equal(Buffer.from(ir.body ?? []).toString(), `inference error: ${code} - no capacity for you`);
      assert.equal(setHeadersOf(ir.headers).get('content-type'), 'text/plain');
      assert.equal(setHeadersOf(ir.headers).get('x-tokenroute-error-code'), 'TR_ERR_TEST');
      assert.equal(ir.details, `tokenroute_inference_error_${code}`);
      assert.equal((await d.status).code, grpc.status.OK, 'stream closed by the EPP with OK');
    });
  }

  it('a throwing controller yields a 500 ImmediateResponse', async () => {
    s.controller.decideBody = () => {
      throw new Error('boom');
    };
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST', 'x-request-id': 'rid-500' }));
    d.send(bodyMsg('{}', true));
    const r = await d.next();
    assert.equal(httpStatusNumber(r.immediate_response!.status.code), 500);
    assert.match(Buffer.from(r.immediate_response!.body ?? []).toString(), /^inference error: Internal - .*rid-500/);
    assert.equal((await d.status).code, grpc.status.OK);
  });

  it('a rejected controller promise yields a 500 ImmediateResponse', async () => {
    s.controller.decideBody = () => Promise.reject(new Error('async boom'));
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg('{}', true));
    const r = await d.next();
    assert.equal(httpStatusNumber(r.immediate_response!.status.code), 500);
    assert.equal((await d.status).code, grpc.status.OK);
  });

  it('rejects a body over the configured limit with 400 without calling the controller', async () => {
    const n = s.controller.requests.length;
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg(Buffer.alloc(60_000), false));
    d.send(bodyMsg(Buffer.alloc(60_000), false));
    const r = await d.next();
    assert.equal(httpStatusNumber(r.immediate_response!.status.code), 400);
    assert.equal(Buffer.from(r.immediate_response!.body ?? []).toString(), 'inference error: BadRequest - request body exceeds the maximum of 100000 bytes');
    assert.equal((await d.status).code, grpc.status.OK);
    assert.equal(s.controller.requests.length, n);
  });

  it('fails the stream with FAILED_PRECONDITION when a body arrives before the headers', async () => {
    const d = new StreamDriver(s.client);
    d.send(bodyMsg('{}', true));
    const st = await d.status;
    assert.equal(st.code, grpc.status.FAILED_PRECONDITION);
    assert.match(st.details, /request_body received before request_headers/);
  });

  it('fails the stream with FAILED_PRECONDITION on a second request_headers', async () => {
    s.controller.decideBody = (input, ctl) => ctl.route(input, ['10.0.0.1:8000']);
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'GET' }, true));
    await d.next();
    d.send(headersMsg({ ':method': 'GET' }, true));
    const st = await d.status;
    assert.equal(st.code, grpc.status.FAILED_PRECONDITION);
    assert.match(st.details, /request_headers received twice/);
    await waitFor(() => s.controller.handles.at(-1)!.ends.length > 0, 2000, 'onEnd');
    assert.deepEqual(s.controller.handles.at(-1)!.ends, ['error']);
  });

  it('fails the stream with INVALID_ARGUMENT on an empty ProcessingRequest', async () => {
    const d = new StreamDriver(s.client);
    d.send({});
    assert.equal((await d.status).code, grpc.status.INVALID_ARGUMENT);
  });
});

describe('ext_proc over gRPC: response path', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startWithClient();
  });
  afterAll(async () => {
    await s.close();
  });

  async function routed(): Promise<StreamDriver> {
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg('{"model":"m"}', true));
    await d.take(2);
    return d;
  }

  it('replies to response headers with GIE debug header, passes chunks through at once, reports served once', async () => {
    const d = await routed();
    const h = s.controller.handles.at(-1)!;
    d.send(respHeadersMsg({ ':status': '200', 'content-type': 'text/event-stream' }, false, servedMetadata('10.0.0.1:8000')));
    const rh = await d.next();
    assert.equal(rh.response, 'response_headers');
    assert.equal(setHeadersOf(rh.response_headers?.response?.header_mutation).get('x-went-into-resp-headers'), 'true');
    assert.equal(h.responseHeaders[0].get(':status'), '200');
    assert.equal(h.responseHeaders[0].get('content-type'), 'text/event-stream');

    const events = ['data: {"a":1}\n\n', 'data: {"b":2}\n\n', 'data: [DONE]\n\n'];
    for (let i = 0; i < events.length; i++) {
      d.send(respBodyMsg(events[i], i === events.length - 1, servedMetadata('10.0.0.1:8000')));
      // Each chunk is answered before the next is sent: no response buffering.
      const r = await d.next();
      assert.equal(r.response, 'response_body');
      const sr = r.response_body?.response?.body_mutation?.streamed_response;
      assert.equal(Buffer.from(sr?.body ?? []).toString(), events[i]);
      assert.equal(sr?.end_of_stream === true, i === events.length - 1);
    }
    assert.deepEqual(h.served, ['10.0.0.1:8000'], 'served endpoint reported exactly once');
    assert.deepEqual(h.bodyCalls.map((b) => b.eos), [false, false, true]);
    await waitFor(() => h.ends.length === 1, 2000, 'onEnd');
    assert.deepEqual(h.ends, ['complete']);
    d.end();
    assert.equal((await d.status).code, grpc.status.OK);
    assert.deepEqual(h.ends, ['complete'], 'still exactly once after the close');
  });

  it('sends back what the handle returns (transformation)', async () => {
    s.controller.transform = (chunk) => Buffer.from(chunk.toString().replace('"model":"target"', '"model":"alias"'));
    try {
      const d = await routed();
      d.send(respHeadersMsg({ ':status': '200' }));
      await d.next();
      d.send(respBodyMsg('{"model":"target","x":1}', true));
      const r = await d.next();
      assert.equal(Buffer.from(r.response_body?.response?.body_mutation?.streamed_response?.body ?? []).toString(), '{"model":"alias","x":1}');
      d.end();
      await d.status;
    } finally {
      s.controller.transform = undefined;
    }
  });

  it('answers response trailers last and flushes a held-back tail before them', async () => {
    // The handle holds everything back until the end, then releases it all.
    const held: Buffer[] = [];
    s.controller.transform = (chunk, eos) => {
      held.push(chunk);
      return eos ? Buffer.concat(held.splice(0)) : Buffer.alloc(0);
    };
    try {
      const d = await routed();
      const h = s.controller.handles.at(-1)!;
      d.send(respHeadersMsg({ ':status': '200' }));
      await d.next();
      d.send(respBodyMsg('abc', false));
      const b = await d.next();
      assert.equal(b.response_body?.response?.body_mutation?.streamed_response?.body?.length ?? 0, 0);
      d.send({ response_trailers: { trailers: { headers: [{ key: 'grpc-status', raw_value: Buffer.from('0') }] } } });
      const [tail, t] = await d.take(2);
      assert.equal(Buffer.from(tail.response_body?.response?.body_mutation?.streamed_response?.body ?? []).toString(), 'abc');
      assert.equal(tail.response_body?.response?.body_mutation?.streamed_response?.end_of_stream ?? false, false);
      assert.equal(t.response, 'response_trailers');
      await waitFor(() => h.ends.length === 1, 2000, 'onEnd');
      assert.deepEqual(h.ends, ['complete']);
      d.end();
      await d.status;
    } finally {
      s.controller.transform = undefined;
    }
  });

  it('a throwing response hook passes data through and ends the handle with error', async () => {
    s.controller.transform = () => {
      throw new Error('hook bug');
    };
    try {
      const d = await routed();
      const h = s.controller.handles.at(-1)!;
      d.send(respHeadersMsg({ ':status': '200' }));
      await d.next();
      d.send(respBodyMsg('payload', true));
      const r = await d.next();
      assert.equal(Buffer.from(r.response_body?.response?.body_mutation?.streamed_response?.body ?? []).toString(), 'payload');
      await waitFor(() => h.ends.length === 1, 2000, 'onEnd');
      assert.deepEqual(h.ends, ['error']);
      d.end();
      assert.equal((await d.status).code, grpc.status.OK);
    } finally {
      s.controller.transform = undefined;
    }
  });

  it('a stream whose request phase the proxy skipped (first message response_headers) passes its response through', async () => {
    const n = s.controller.requests.length;
    const d = new StreamDriver(s.client);
    d.send(respHeadersMsg({ ':status': '200', 'content-type': 'application/json' }));
    const h = await d.next();
    assert.ok(h.response_headers, 'response_headers answered (CONTINUE)');
    d.send(respBodyMsg('{"skipped":', false));
    d.send(respBodyMsg('true}', true));
    const chunks = [await d.next(), await d.next()].map((r) => r.response_body?.response?.body_mutation?.streamed_response);
    assert.equal(chunks.map((c) => Buffer.from(c?.body ?? []).toString()).join(''), '{"skipped":true}', 'the body comes back unchanged');
    assert.equal(chunks[1]?.end_of_stream, true);
    d.end();
    assert.equal((await d.status).code, grpc.status.OK);
    assert.equal(s.controller.requests.length, n, 'nothing was routed');
  });

  it('rejects response_headers in the middle of the request phase, and response_body with no response_headers', async () => {
    const mid = new StreamDriver(s.client);
    mid.send(headersMsg({ ':method': 'POST' }));
    mid.send(respHeadersMsg({ ':status': '200' }));
    assert.equal((await mid.status).code, grpc.status.FAILED_PRECONDITION);
    const body = new StreamDriver(s.client);
    body.send(respBodyMsg('x', true));
    assert.equal((await body.status).code, grpc.status.FAILED_PRECONDITION);
  });
});

describe('ext_proc over gRPC: cancellation', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startWithClient();
  });
  afterAll(async () => {
    await s.close();
  });

  it('cancel mid-body: the controller is never called and nothing is written', async () => {
    const n = s.controller.requests.length;
    const cancelledBefore = await counterValue(s.metrics, 'cancelled');
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg(Buffer.alloc(10_000), false));
    await new Promise((r) => setTimeout(r, 50));
    d.cancel();
    assert.equal((await d.status).code, grpc.status.CANCELLED);
    await waitForAsync(async () => (await counterValue(s.metrics, 'cancelled')) === cancelledBefore + 1);
    assert.equal(s.controller.requests.length, n);
    assert.equal(d.pendingCount(), 0);
  });

  it('cancel while the controller promise is pending: onEnd(cancelled) once, no reply', async () => {
    const gate = deferred<void>();
    let entered = false;
    s.controller.decideBody = async (input, ctl) => {
      entered = true;
      await gate.promise;
      return ctl.route(input, ['10.0.0.1:8000']);
    };
    try {
      const handlesBefore = s.controller.handles.length;
      const cancelledBefore = await counterValue(s.metrics, 'cancelled');
      const d = new StreamDriver(s.client);
      d.send(headersMsg({ ':method': 'POST' }));
      d.send(bodyMsg('{}', true));
      await waitFor(() => entered, 2000, 'controller entered');
      d.cancel();
      await d.status;
      await waitForAsync(async () => (await counterValue(s.metrics, 'cancelled')) === cancelledBefore + 1);
      gate.resolve();
      await waitFor(() => s.controller.handles.length === handlesBefore + 1 && s.controller.handles.at(-1)!.ends.length > 0, 2000, 'onEnd');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(s.controller.handles.at(-1)!.ends, ['cancelled']);
      assert.equal(d.pendingCount(), 0, 'nothing written after the cancel');
    } finally {
      s.controller.decideBody = (input, ctl) => ctl.route(input, ['10.0.0.1:8000']);
    }
  });

  it('cancel during the response: onEnd(cancelled) exactly once, and the server shuts down without stuck calls', async () => {
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg('{}', true));
    await d.take(2);
    const h = s.controller.handles.at(-1)!;
    d.send(respHeadersMsg({ ':status': '200' }));
    await d.next();
    d.send(respBodyMsg('partial', false));
    await d.next();
    d.cancel();
    await d.status;
    await waitFor(() => h.ends.length > 0, 2000, 'onEnd');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(h.ends, ['cancelled']);
    // No ext_proc call may remain open: a graceful close must not need its grace period.
    const t0 = Date.now();
    s.client.close();
    await s.servers.close({ graceMs: 20_000 });
    // An open call would hold the close for the whole 20 s grace period.
    assert.ok(Date.now() - t0 < 10_000, `graceful close took ${Date.now() - t0} ms`);
  });
});

async function waitForAsync(cond: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ext_proc over gRPC: silent streams are reclaimed (--stream-idle-timeout)', () => {
  let s: Started;
  beforeAll(async () => {
    s = await startWithClient(undefined, { extproc: { streamIdleTimeoutMs: 800 } });
  });
  afterAll(async () => {
    await s.close();
  });

  it('a proxy gone silent after the routing answer: the request ends cancelled exactly once, the proxy gets DEADLINE_EXCEEDED', async () => {
    const before = await counterValue(s.metrics, 'idle_timeout');
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions' }));
    d.send(bodyMsg(JSON.stringify({ model: 'm', prompt: 'hi' }), true));
    await d.take(2); // the routing answer and the body; then nothing more from the "proxy"
    const h = s.controller.handles.at(-1)!;
    const status = await d.status;
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED);
    assert.match(status.details, /TR_ERR_STREAM_IDLE_TIMEOUT/);
    await waitFor(() => h.ends.length === 1, 2000, 'onEnd');
    assert.deepEqual(h.ends, ['cancelled']);
    await waitForAsync(async () => (await counterValue(s.metrics, 'idle_timeout')) === before + 1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(h.ends, ['cancelled'], 'released once, not again at a later sweep');
  });

  it('a stream stopped mid-body is reclaimed without calling the controller; a live stream is not', async () => {
    const n = s.controller.requests.length;
    const stalled = new StreamDriver(s.client);
    stalled.send(headersMsg({ ':method': 'POST' }));
    stalled.send(bodyMsg(Buffer.alloc(1000), false));
    // A stream that keeps talking (a slow response streamed chunk by chunk) stays open.
    const live = new StreamDriver(s.client);
    live.send(headersMsg({ ':method': 'POST', ':path': '/v1/completions' }));
    live.send(bodyMsg(JSON.stringify({ model: 'm', prompt: 'hi' }), true));
    await live.take(2);
    live.send(respHeadersMsg({ ':status': '200' }));
    await live.next();
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100)); // well inside the 800 ms idle timeout
      live.send(respBodyMsg(`chunk ${i}`, false));
      await live.next();
    }
    assert.equal((await stalled.status).code, grpc.status.DEADLINE_EXCEEDED);
    live.send(respBodyMsg('end', true));
    await live.next();
    live.end();
    assert.equal((await live.status).code, grpc.status.OK, 'the live stream was never reclaimed');
    assert.equal(s.controller.requests.length, n + 1, 'only the live stream reached the controller');
  });
});
