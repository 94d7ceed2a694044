// RequestLifecycle: fan-out to the response-side extension points in order, isolation of a
// failing plugin (logged, skipped for the rest of that request, the chunk left as it was, the
// others still called), exactly one ResponseComplete; the built-in plugins through the director:
// in-flight load moved to the endpoint that served, scheduler attempts counted once.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { RequestState } from '../../../epp/src/framework/cycle-state.js';
import type { Plugin } from '../../../epp/src/framework/plugins.js';
import type { RoutedRequest } from '../../../epp/src/framework/request-lifecycle.js';
import { RequestLifecycle } from '../../../epp/src/requestcontrol/lifecycle.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';

function routed(): RoutedRequest {
  return { requestId: 'r1', incomingModel: 'm', targetModel: 'm', priority: 0, fairnessId: 'default-flow', inflightTokens: 10, requestBytes: 5, endpoint: '10.0.0.1:8000', routedAt: 0, hasBody: true, state: new RequestState() };
}

function recorder(name: string, log: string[], fail: Partial<Record<string, boolean>> = {}): Plugin & Record<string, unknown> {
  const step = (point: string) => {
    log.push(`${name}.${point}`);
    if (fail[point]) throw new Error(`${name} fails at ${point}`);
  };
  return {
    type: 'recorder',
    name,
    requestRouted: () => step('routed'),
    endpointServed: (_r: RoutedRequest, ep: string) => step(`served:${ep}`),
    responseReceived: () => step('received'),
    responseStreaming: (_r: RoutedRequest, chunk: Buffer) => {
      step('streaming');
      return Buffer.from(`${chunk.toString()}+${name}`);
    },
    responseComplete: (_r: RoutedRequest, outcome: string) => step(`complete:${outcome}`),
  };
}

describe('request lifecycle', () => {
  it('calls every point in plugin order, chaining the streamed chunk', () => {
    const log: string[] = [];
    const lc = new RequestLifecycle([recorder('a', log), recorder('b', log)], silentLogger());
    const h = lc.begin(routed());
    h.onResponseHeaders(new Map([[':status', '200']]));
    assert.equal(h.onResponseBody(Buffer.from('x'), true).toString(), 'x+a+b');
    h.onServed('10.0.0.2:8000');
    h.onEnd('complete');
    h.onEnd('error');
    assert.deepEqual(log, [
      'a.routed', 'b.routed', 'a.received', 'b.received', 'a.streaming', 'b.streaming',
      'a.served:10.0.0.2:8000', 'b.served:10.0.0.2:8000', 'a.complete:complete', 'b.complete:complete',
    ]);
  });

  it('skips a plugin that threw for the rest of the request, leaves its chunk alone, keeps the others', () => {
    const log: string[] = [];
    const warnings: unknown[] = [];
    const logger = silentLogger();
    logger.warn = ((obj: unknown) => void warnings.push(obj)) as typeof logger.warn;
    const lc = new RequestLifecycle([recorder('a', log, { streaming: true }), recorder('b', log)], logger);
    const h = lc.begin(routed());
    assert.equal(h.onResponseBody(Buffer.from('x'), false).toString(), 'x+b', 'a failed: its output is not used, b still runs');
    assert.equal(h.onResponseBody(Buffer.from('y'), true).toString(), 'y+b');
    h.onEnd('complete');
    assert.deepEqual(log, ['a.routed', 'b.routed', 'a.streaming', 'b.streaming', 'b.streaming', 'b.complete:complete']);
    assert.equal(warnings.length, 1, 'logged once');
    // A new request starts with every plugin usable again.
    const log2: string[] = [];
    const lc2 = new RequestLifecycle([recorder('a', log2, { routed: true })], silentLogger());
    lc2.begin(routed()).onEnd('cancelled');
    assert.deepEqual(log2, ['a.routed']);
  });

  it('admission: the first plugin that rejects decides; a throwing one admits', () => {
    const reject = { type: 't', name: 'no', admit: () => ({ error: { code: 'TR_ERR_REQUEST_SHED', area: 'request', meaning: '', fix: '', status: 429 } as const, message: 'busy' }) };
    const broken = { type: 't', name: 'broken', admit: () => { throw new Error('x'); } };
    assert.equal(new RequestLifecycle([broken], silentLogger()).admit({} as never, [], 0), undefined);
    const decided = new RequestLifecycle([broken, reject], silentLogger()).admit({} as never, [], 0);
    assert.ok(decided && !(decided instanceof Promise));
    assert.equal(decided.message, 'busy');
  });

  it('admission: a plugin that decides later (a promise) holds the plugins after it until it admits', async () => {
    const order: string[] = [];
    let release!: () => void;
    const later = { type: 't', name: 'later', admit: () => new Promise<undefined>((r) => (release = () => r(undefined))) };
    const after = { type: 't', name: 'after', admit: () => (order.push('after'), undefined) };
    const failing = { type: 't', name: 'failing', admit: () => Promise.reject(new Error('queue broke')) };
    const pending = new RequestLifecycle([later, after], silentLogger()).admit({} as never, [], 0);
    assert.ok(pending instanceof Promise);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'the next plugin waits');
    release();
    assert.equal(await pending, undefined);
    assert.deepEqual(order, ['after']);
    // A failing promise admits, as a throwing plugin does, and the next plugin still runs.
    assert.equal(await new RequestLifecycle([failing, after], silentLogger()).admit({} as never, [], 0), undefined);
    assert.deepEqual(order, ['after', 'after']);
  });
});
