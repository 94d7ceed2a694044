// Unit tests of the per-stream state machine with an in-memory sink (no gRPC): ordering rules
// and edge cases that are awkward to provoke over a real connection — queued messages while the
// controller decides, half-close semantics, bodiless-with-trailers, the assumed-mode option,
// outcome counting.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import { ExtProcStream, resolveExtProcOptions, type ExtProcOptions, type ExtProcSink } from '../../../epp/src/extproc/stream.js';
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
});
