// Unit tests of the per-stream state machine with an in-memory sink (no gRPC): ordering rules
// and edge cases that are awkward to provoke over a real connection — queued messages while the
// controller decides, half-close semantics, bodiless-with-trailers, the assumed-mode option,
// outcome counting.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import { ExtProcStream, resolveExtProcOptions, STREAM_BACK_SLICE_BYTES, type ExtProcOptions, type ExtProcSink } from '../../../epp/src/extproc/stream.js';
import { MAX_BODY_CHUNK_BYTES } from '../../../epp/src/protocol/keys.js';
import type { ProcessingResponse } from '../../../epp/src/protocol/types.js';
import { bodyMsg, counterValue, deferred, headersMsg, respBodyMsg, respHeadersMsg, setHeadersOf, TestController } from './harness.js';

class MemorySink implements ExtProcSink {
  readonly sent: ProcessingResponse[] = [];
  ended = 0;
  failed: { code: number; details: string } | undefined;
  send(r: ProcessingResponse): void {
    this.sent.push(r);
  }
  end(): void {
    this.ended++;
  }
  fail(code: number, details: string): void {
    this.failed = { code, details };
  }
}

// Unencoded responses have no oneof discriminator; name the case that is set.
function kind(r: ProcessingResponse): string | undefined {
  const cases = ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers', 'immediate_response'] as const;
  return cases.find((k) => r[k] !== undefined);
}

function setup(c = new TestController(), extra: Partial<ExtProcOptions> = {}) {
  const metrics = new EppMetrics();
  const sink = new MemorySink();
  const stream = new ExtProcStream(resolveExtProcOptions({ controller: c, logger: silentLogger(), metrics, ...extra }), sink);
  return { c, sink, stream, metrics };
}

describe('ExtProcStream', () => {
  it('queues messages arriving while the controller decides and processes them after, in order', async () => {
    const gate = deferred<void>();
    const c = new TestController();
    c.decideBody = async (input, ctl) => {
      await gate.promise;
      return ctl.route(input, ['10.0.0.1:8000']);
    };
    const { sink, stream } = setup(c);
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onMessage(bodyMsg('{}', true));
    stream.onMessage(respHeadersMsg({ ':status': '200' })); // early, must wait for the decision
    assert.equal(sink.sent.length, 0);
    gate.resolve();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sink.sent.map(kind), ['request_headers', 'request_body', 'response_headers']);
  });

  it('counts a graceful half-close after the request was answered as complete', async () => {
    const { c, sink, stream, metrics } = setup();
    stream.onMessage(headersMsg({ ':method': 'GET' }, true));
    stream.onClientEnd();
    assert.equal(sink.ended, 1);
    assert.deepEqual(c.handles[0].ends, ['complete']);
    assert.equal(await counterValue(metrics, 'complete'), 1);
    stream.onCancel(); // a reset after the close changes nothing
    assert.deepEqual(c.handles[0].ends, ['complete']);
  });

  it('counts a half-close in the middle of a response body as cancelled', () => {
    const { c, stream } = setup();
    stream.onMessage(headersMsg({ ':method': 'GET' }, true));
    stream.onMessage(respHeadersMsg({ ':status': '200' }));
    stream.onMessage(respBodyMsg('x', false));
    stream.onClientEnd();
    assert.deepEqual(c.handles[0].ends, ['cancelled']);
  });

  it('writes nothing after a cancel and ignores later input', () => {
    const { c, sink, stream } = setup();
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onCancel();
    stream.onMessage(bodyMsg('{}', true));
    assert.equal(sink.sent.length, 0);
    assert.equal(c.requests.length, 0);
    assert.equal(stream.result, 'cancelled');
  });

  it('streams a large body back a slice per event-loop turn: same chunks, in order, trailers and queued messages after', async () => {
    const { sink, stream } = setup();
    const other = setup();
    const body = Buffer.alloc(3 * STREAM_BACK_SLICE_BYTES + 12_345, 'x');
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    for (let off = 0; off < body.length; off += 100_000) stream.onMessage(bodyMsg(body.subarray(off, off + 100_000), false));
    stream.onMessage({ request_trailers: { trailers: { headers: [] } } });
    stream.onMessage(respHeadersMsg({ ':status': '200' })); // an early response, queued behind the body
    // A body this large is decided on a later turn; then the first slice goes back.
    await new Promise((r) => setImmediate(r));
    const total = 1 + Math.ceil(body.length / MAX_BODY_CHUNK_BYTES);
    assert.ok(sink.sent.length > 1 && sink.sent.length < total, `one slice in the first turn after the decision (${sink.sent.length} of ${total} messages)`);
    // Another stream is decided while the large body is still going back.
    other.stream.onMessage(headersMsg({ ':method': 'POST' }));
    other.stream.onMessage(bodyMsg('{}', true));
    assert.equal(kind(other.sink.sent[0]), 'request_headers');
    assert.ok(sink.sent.length < total);
    for (let i = 0; i < 10 && kind(sink.sent.at(-1)!) !== 'response_headers'; i++) await new Promise((r) => setImmediate(r));
    const kinds = sink.sent.map(kind);
    const chunks = sink.sent.filter((r) => r.request_body).map((r) => r.request_body!.response!.body_mutation!.streamed_response!);
    assert.deepEqual(kinds, ['request_headers', ...chunks.map(() => 'request_body'), 'request_trailers', 'response_headers']);
    assert.ok(chunks.slice(0, -1).every((c) => c.body!.length === MAX_BODY_CHUNK_BYTES && c.end_of_stream === false), 'whole 62,000-byte chunks');
    assert.equal(chunks.at(-1)!.end_of_stream, false, 'trailers follow: end_of_stream stays false');
    assert.ok(Buffer.concat(chunks.map((c) => c.body as Buffer)).equals(body));
  });

  it('a stream cancelled while its large body goes back sends nothing more', async () => {
    const { sink, stream } = setup();
    const body = Buffer.alloc(3 * STREAM_BACK_SLICE_BYTES, 'y');
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onMessage(bodyMsg(body, true));
    const sent = sink.sent.length;
    stream.onCancel();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(sink.sent.length, sent);
    assert.equal(stream.result, 'cancelled');
  });

  it('a request decided at its headers: the routing reply comes first, then each body chunk straight back', () => {
    const c = new TestController();
    (c as { handleHeaders?: unknown }).handleHeaders = (input: Parameters<typeof c.handleRequest>[0]) => c.route(input, ['10.0.0.2:8000']);
    const { sink, stream } = setup(c);
    stream.onMessage(headersMsg({ ':method': 'POST', ':path': '/v1/chat/completions' }));
    assert.deepEqual(sink.sent.map(kind), ['request_headers'], 'routed before any body');
    assert.equal(setHeadersOf(sink.sent[0].request_headers!.response!.header_mutation).get('x-gateway-destination-endpoint'), '10.0.0.2:8000');
    const parts = ['{"model":', '"m","messages":[', ']}'];
    parts.forEach((p, i) => {
      stream.onMessage(bodyMsg(p, i === parts.length - 1));
      const echo = sink.sent.at(-1)!.request_body!.response!.body_mutation!.streamed_response!;
      assert.equal(Buffer.from(echo.body as Buffer).toString(), p, 'each chunk goes back as it came');
      assert.equal(echo.end_of_stream, i === parts.length - 1);
    });
    assert.equal(c.requests.length, 0, 'the body was never handed to the controller');
    stream.onMessage(respHeadersMsg({ ':status': '200' }));
    assert.equal(kind(sink.sent.at(-1)!), 'response_headers');
    assert.equal(c.handles.length, 1);
  });

  it('a controller that needs the body gets it as before', () => {
    const c = new TestController();
    (c as { handleHeaders?: unknown }).handleHeaders = () => undefined;
    const { sink, stream } = setup(c);
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    assert.equal(sink.sent.length, 0);
    stream.onMessage(bodyMsg('{}', true));
    assert.deepEqual(sink.sent.map(kind), ['request_headers', 'request_body']);
    assert.equal(c.requests.length, 1);
  });

  it('answers headers then trailers when a duplex request carries trailers but no body', () => {
    const { sink, stream, c } = setup();
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onMessage({ request_trailers: {} });
    assert.deepEqual(sink.sent.map(kind), ['request_headers', 'request_trailers']);
    assert.equal(c.requests[0].body.length, 0);
  });

  it('sends one empty end-of-stream chunk for an empty duplex body', () => {
    const { sink, stream } = setup();
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onMessage(bodyMsg('', true));
    assert.equal(sink.sent.length, 2);
    const sr = sink.sent[1].request_body?.response?.body_mutation?.streamed_response;
    assert.equal(sr?.body?.length, 0);
    assert.equal(sr?.end_of_stream, true);
  });

  it('uses the configured default body mode when the proxy sends no protocol_config', () => {
    const { sink, stream } = setup(new TestController(), { defaultRequestBodyMode: 'BUFFERED' });
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    assert.equal(kind(sink.sent[0]), 'request_headers');
    assert.equal(sink.sent[0].request_headers?.response, undefined);
    stream.onMessage(bodyMsg('{}', true));
    assert.equal(setHeadersOf(sink.sent[1].request_body?.response?.header_mutation).get('x-gateway-destination-endpoint'), '10.0.0.1:8000');
  });

  it('honours a configured chunk size', () => {
    const { sink, stream } = setup(new TestController(), { bodyChunkBytes: 4 });
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onMessage(bodyMsg('abcdefghij', true));
    const chunks = sink.sent.slice(1).map((r) => Buffer.from(r.request_body!.response!.body_mutation!.streamed_response!.body!).toString());
    assert.deepEqual(chunks, ['abcd', 'efgh', 'ij']);
    assert.throws(() => resolveExtProcOptions({ controller: new TestController(), logger: silentLogger(), bodyChunkBytes: 70_000 }), RangeError);
  });

  it('treats a route decision without endpoints as an internal error and ends its handle', async () => {
    const c = new TestController();
    c.decideBody = (input, ctl) => ctl.route(input, []);
    const { sink, stream, metrics } = setup(c);
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    stream.onMessage(bodyMsg('{}', true));
    assert.equal(sink.sent[0].immediate_response?.status.code, 500);
    assert.deepEqual(c.handles[0].ends, ['error']);
    assert.equal(sink.ended, 1);
    assert.equal(await counterValue(metrics, 'error'), 1);
  });

  it('fails with FAILED_PRECONDITION on a body after the request ended, ending the handle with error', () => {
    const { c, sink, stream } = setup();
    stream.onMessage(headersMsg({ ':method': 'GET' }, true));
    stream.onMessage(bodyMsg('late', true));
    assert.equal(sink.failed?.code, GrpcStatus.FAILED_PRECONDITION);
    assert.deepEqual(c.handles[0].ends, ['error']);
  });

  it('counts rejections as rejected, once', async () => {
    const c = new TestController();
    c.decideBodiless = () => ({ kind: 'reject', status: 503, message: 'no endpoints', code: 'TR_ERR_REQUEST_NO_CANDIDATES' });
    const { sink, stream, metrics } = setup(c);
    stream.onMessage(headersMsg({ ':method': 'GET' }, true));
    stream.onClientEnd();
    assert.equal(sink.ended, 1);
    assert.equal(await counterValue(metrics, 'rejected'), 1);
    assert.equal(await counterValue(metrics, 'complete'), 0);
  });

  it('refuses a body trickled in more messages than maxRequestBodyMessages (400), counting the limit', async () => {
    const { c, sink, stream, metrics } = setup(new TestController(), { maxRequestBodyMessages: 50 });
    stream.onMessage(headersMsg({ ':method': 'POST' }));
    for (let i = 0; i < 60; i++) stream.onMessage(bodyMsg('{', false));
    assert.deepEqual(sink.sent.map(kind), ['immediate_response']);
    assert.equal(sink.sent[0].immediate_response?.status?.code, 400);
    assert.match(Buffer.from(sink.sent[0].immediate_response?.body ?? []).toString(), /more than 50 messages/);
    assert.equal(c.requests.length, 0, 'the controller never saw it');
    assert.equal((await metrics.registry.getSingleMetric('tokenroute_request_limit_rejections_total')!.get()).values.find((v) => v.labels.limit === 'body_messages')?.value, 1);
    // At the limit it is fine.
    const ok = setup(new TestController(), { maxRequestBodyMessages: 50 });
    ok.stream.onMessage(headersMsg({ ':method': 'POST' }));
    for (let i = 0; i < 49; i++) ok.stream.onMessage(bodyMsg(i === 0 ? '{"model":"m"' : ' ', false));
    ok.stream.onMessage(bodyMsg('}', true));
    await new Promise((r) => setImmediate(r));
    assert.equal(ok.c.requests.length, 1);
  });

  it('decides a large body on a later turn of the event loop, a small one at once', async () => {
    const big = setup(new TestController(), { yieldBeforeBodyBytes: 1000 });
    big.stream.onMessage(headersMsg({ ':method': 'POST' }));
    big.stream.onMessage(bodyMsg(JSON.stringify({ model: 'm', prompt: 'x'.repeat(2000) }), true));
    assert.equal(big.c.requests.length, 0, 'not parsed in the same turn');
    await new Promise((r) => setImmediate(r));
    assert.equal(big.c.requests.length, 1);
    assert.deepEqual(big.sink.sent.map(kind).slice(0, 1), ['request_headers']);
    const small = setup(new TestController(), { yieldBeforeBodyBytes: 1000 });
    small.stream.onMessage(headersMsg({ ':method': 'POST' }));
    small.stream.onMessage(bodyMsg('{"model":"m","prompt":"hi"}', true));
    assert.equal(small.c.requests.length, 1, 'decided at once');
  });
});
