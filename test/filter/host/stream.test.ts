// Host fidelity: one HTTP request's decode path as Envoy's filter manager drives a Wasm filter
// (Envoy Context::decodeHeaders/decodeData/decodeTrailers, cpp-host status conversions). Runs the
// probe fixture (test/filter/host/fixtures/probe.ts) in the Node host.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { ProxyWasmHost, type HostRequest } from '../../../filter/host/index.js';
import { compileFixture, probeConfig, probeLines, probeResult } from './support.js';

type Script = Parameters<typeof probeConfig>[0];

async function probeHost(script: Script, extra: Partial<Parameters<typeof ProxyWasmHost.create>[0]> = {}): Promise<ProxyWasmHost> {
  return ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig: probeConfig(script), allowOnHeadersStopIteration: true, ...extra });
}

const chunks = (...sizes: number[]): Uint8Array[] => sizes.map((n, i) => new Uint8Array(n).fill(97 + i));

describe('headers → body with allow_on_headers_stop_iteration (Envoy ≥ 1.35)', () => {
  it('without the flag, StopIteration becomes StopAllIterationAndWatermark: no body callback, the request stalls', async () => {
    const host = await probeHost({ headers: { return: 1 } }, { allowOnHeadersStopIteration: false });
    const r = await host.runRequest({ body: chunks(10, 20) });
    assert.equal(r.action, 'stalled');
    assert.deepEqual(r.callbacks.map((c) => c.effective), ['StopAllIterationAndWatermark']);
    assert.ok(!probeLines(r.logs).some((l) => l.startsWith('body ')));
  });

  it('with the flag, StopIterationAndBuffer accumulates: body_size is the total so far; headers can still be changed at the end', async () => {
    const host = await probeHost({ headers: { return: 1 }, body: { return: 1 }, body_end: { return: 0, do: ['add:x-late:1', 'body:0:1000'] } });
    const r = await host.runRequest({ body: chunks(10, 20, 30) });
    assert.deepEqual(
      probeLines(r.logs).filter((l) => l.startsWith('body ')),
      ['body 2 10 0', 'body 2 30 0', 'body 2 60 1'],
    );
    assert.equal(r.action, 'continue');
    assert.equal(probeResult(r.logs, 'add:x-late:1'), 'status=0');
    assert.deepEqual(r.addedHeaders, [['x-late', '1']]);
    assert.equal(probeResult(r.logs, 'body:0:1000'), `ok=${'a'.repeat(10)}${'b'.repeat(20)}${'c'.repeat(30)}`);
    assert.equal(r.body.length, 60, 'the whole buffered body goes upstream');
  });

  it('when not buffering, body_size is the size of each chunk and only that chunk is readable', async () => {
    const host = await probeHost({ body: { return: 0, do: ['body:0:1000'] } });
    const r = await host.runRequest({ body: chunks(3, 4) });
    assert.deepEqual(probeLines(r.logs).filter((l) => l.startsWith('body')), ['body 2 3 0', 'body:0:1000 -> ok=aaa', 'body 2 4 1', 'body:0:1000 -> ok=bbbb']);
  });

  it('a request without a body: headers carry end_of_stream and no body callback comes', async () => {
    const host = await probeHost({});
    const r = await host.runRequest({ method: 'GET', path: '/v1/models' });
    const lines = probeLines(r.logs);
    assert.ok(lines.includes('headers 2 4 1'));
    assert.ok(!lines.some((l) => l.startsWith('body ')));
    assert.equal(r.action, 'continue');
  });

  it('an empty data frame is delivered as a body callback of size 0 with end_of_stream', async () => {
    const host = await probeHost({});
    const r = await host.runRequest({ body: [''] });
    assert.deepEqual(probeLines(r.logs).filter((l) => /^(headers|body) /.test(l)), ['headers 2 4 0', 'body 2 0 1']);
  });
});

describe('buffer limit (FilterManager requestDataTooLarge)', () => {
  it('413 request_payload_too_large when a later chunk takes the buffer past the limit; the VM is not called for it', async () => {
    const host = await probeHost({ headers: { return: 1 }, body: { return: 1 } }, { bufferLimitBytes: 50 });
    const r = await host.runRequest({ body: chunks(30, 30, 5) });
    assert.equal(r.action, 'localReply');
    assert.deepEqual(r.localReply, { status: 413, body: 'Payload Too Large', headers: [], details: 'request_payload_too_large' });
    assert.deepEqual(probeLines(r.logs).filter((l) => l.startsWith('body ')), ['body 2 30 0']);
    assert.deepEqual(probeLines(r.logs).slice(-2), ['done 2', 'delete 2'], 'the stream ends: on_done, on_delete');
  });

  it('413 after the first chunk when that chunk alone exceeds the limit (the VM saw it first)', async () => {
    const host = await probeHost({ headers: { return: 1 }, body: { return: 1 } }, { bufferLimitBytes: 50 });
    const r = await host.runRequest({ body: chunks(60, 1) });
    assert.equal(r.localReply?.status, 413);
    assert.deepEqual(probeLines(r.logs).filter((l) => l.startsWith('body ')), ['body 2 60 0']);
  });

  it('a body at exactly the limit is fine (the watermark triggers above it)', async () => {
    const host = await probeHost({ headers: { return: 1 }, body: { return: 1 }, body_end: { return: 0 } }, { bufferLimitBytes: 50 });
    const r = await host.runRequest({ body: chunks(25, 25) });
    assert.equal(r.action, 'continue');
    assert.equal(r.body.length, 50);
  });

  it('StopAllIterationAndBuffer from headers enforces the limit too; StopAllIterationAndWatermark does not', async () => {
    const buffer = await probeHost({ headers: { return: 3 } }, { bufferLimitBytes: 10 });
    assert.equal((await buffer.runRequest({ body: chunks(20) })).localReply?.status, 413);
    const watermark = await probeHost({ headers: { return: 4 } }, { bufferLimitBytes: 10 });
    assert.equal((await watermark.runRequest({ body: chunks(20) })).action, 'stalled');
  });
});

describe('status conversion and local replies (cpp-host convertVmCallResultTo*, Context::sendLocalResponse)', () => {
  it('a local reply from the headers callback ends the stream; whitespace in details becomes "_"', async () => {
    const host = await probeHost({ headers: { return: 0, do: ['reply:403:not allowed here'] } });
    const r = await host.runRequest({ body: 'x' });
    assert.equal(r.action, 'localReply');
    assert.deepEqual(r.localReply, { status: 403, body: 'probe says no', headers: [['content-type', 'text/plain']], details: 'not_allowed_here' });
    assert.equal(r.callbacks[0].effective, 'StopAllIterationAndWatermark', 'Continue is overridden after a local reply');
    assert.ok(!probeLines(r.logs).some((l) => l.startsWith('body ')));
  });

  it('a local reply from the body callback: Continue becomes StopIterationNoBuffer', async () => {
    const host = await probeHost({ headers: { return: 1 }, body: { return: 0, do: ['reply:400:bad'] } });
    const r = await host.runRequest({ body: 'x' });
    assert.equal(r.localReply?.status, 400);
    assert.equal(r.callbacks[1].effective, 'StopIterationNoBuffer');
  });

  it('values above the range are clamped: headers > 4 → StopAllIterationAndWatermark, data > 3 → StopIterationNoBuffer', async () => {
    const h = await probeHost({ headers: { return: 7 } });
    assert.equal((await h.runRequest({ body: 'x' })).callbacks[0].effective, 'StopAllIterationAndWatermark');
    const d = await probeHost({ body: { return: 9 } });
    const r = await d.runRequest({ body: 'x' });
    assert.equal(r.callbacks[1].effective, 'StopIterationNoBuffer');
    assert.equal(r.action, 'stalled');
  });

  it('ContinueAndEndStream forwards the headers and ends the stream there (the body is dropped)', async () => {
    const host = await probeHost({ headers: { return: 2 } });
    const r = await host.runRequest({ body: 'payload' });
    assert.equal(r.action, 'continue');
    assert.equal(r.body.length, 0);
    assert.ok(!probeLines(r.logs).some((l) => l.startsWith('body ')));
  });

  it('proxy_continue_stream resumes a stream paused with StopAllIteration', async () => {
    const host = await probeHost({ headers: { return: 4, do: ['continue'] } });
    const r = await host.runRequest({ body: 'abc' });
    assert.equal(probeResult(r.logs, 'continue'), 'status=0');
    assert.equal(r.action, 'continue');
    assert.equal(Buffer.from(r.body).toString(), 'abc');
  });
});

describe('header maps (Envoy HeaderMapImpl via Context::getMap)', () => {
  const req: HostRequest = {
    path: '/v1/chat/completions',
    headers: [
      ['X-Multi', 'one'],
      ['x-multi', 'two'],
      ['content-type', 'application/json'],
    ],
    body: 'x',
  };

  it('passes the number of entries to on_request_headers; get_header_map_size is the byte size', async () => {
    const host = await probeHost({ headers: { do: ['size', 'pairs'] } });
    const r = await host.runRequest(req);
    const pairs = r.headersBefore;
    const bytes = pairs.reduce((n, [k, v]) => n + k.length + v.length, 0);
    assert.ok(probeLines(r.logs).includes(`headers 2 ${pairs.length} 0`));
    assert.equal(probeResult(r.logs, 'size'), `status=0 size=${bytes}`);
    const serialized = 4 + pairs.length * 8 + pairs.reduce((n, [k, v]) => n + k.length + v.length + 2, 0);
    assert.equal(
      probeResult(r.logs, 'pairs'),
      `bytes=${serialized} ${pairs.map(([k, v]) => `${k}=${v}`).join(';')}`,
      'pseudo-headers first, names lower-case, the 0.2.1 pair encoding',
    );
  });

  it('get returns the first value; replace and remove act on every value; names are lower-cased', async () => {
    const host = await probeHost({ headers: { do: ['get:X-MULTI', 'replace:X-Multi:only', 'add:X-New:v', 'remove:content-type'] } });
    const r = await host.runRequest(req);
    assert.equal(probeResult(r.logs, 'get:X-MULTI'), 'ok=one');
    const after = r.headersAfter.filter(([k]) => !k.startsWith(':'));
    assert.deepEqual(after, [
      ['x-multi', 'only'],
      ['x-new', 'v'],
    ]);
    assert.deepEqual(r.removedHeaders, ['content-type']);
  });

  it('after headers Continue the request headers are gone: mutations and lookups are BAD_ARGUMENT, pairs empty', async () => {
    const host = await probeHost({ headers: { return: 0 }, body: { do: ['add:x-late:1', 'get:content-type', 'pairs'] } });
    const r = await host.runRequest(req);
    assert.equal(probeResult(r.logs, 'add:x-late:1'), 'status=2');
    assert.equal(probeResult(r.logs, 'get:content-type'), 'status=2');
    assert.equal(probeResult(r.logs, 'pairs'), 'bytes=0 ');
    assert.ok(!r.headersAfter.some(([k]) => k === 'x-late'));
  });

  it('trailers: the last body callback is not end_of_stream; the trailers callback can read them and the buffered body', async () => {
    const host = await probeHost({ headers: { return: 1 }, body: { return: 1 }, trailers: { return: 0, do: ['trailer-get:grpc-x', 'body:0:100', 'add:x-from-trailers:1'] } });
    const r = await host.runRequest({ body: chunks(2, 3), trailers: { 'grpc-x': 'y' } });
    const lines = probeLines(r.logs);
    assert.deepEqual(lines.filter((l) => /^(body|trailers) /.test(l)), ['body 2 2 0', 'body 2 5 0', 'trailers 2 1']);
    assert.equal(probeResult(r.logs, 'trailer-get:grpc-x'), 'ok=y');
    assert.equal(probeResult(r.logs, 'body:0:100'), 'ok=aabbb');
    assert.equal(r.action, 'continue');
    assert.deepEqual(r.addedHeaders, [['x-from-trailers', '1']]);
  });

  it('the end of the stream calls on_log, on_done, on_delete in that order', async () => {
    const host = await probeHost({});
    const r = await host.runRequest({ body: 'x' });
    assert.deepEqual(probeLines(r.logs).slice(-3), ['log 2', 'done 2', 'delete 2']);
  });
});
