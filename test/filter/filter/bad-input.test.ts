// Integration: the real filter in the Node host with hostile and broken requests. Whatever arrives,
// the filter must never trap (a trap fails the whole worker VM in Envoy) or hang: it passes the
// request on with x-tokenroute-error, one counter and one log line (onError: passthrough, the
// default), or answers it locally (onError: reject: 400, or 413 for a body over maxBodyBytes).
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { HostRequest, HostResult, ProxyWasmHost } from '../../../filter/host/index.js';
import { decoded, filterHost, header } from './helpers.js';
import { digestPositions } from '../../../epp/src/protocol/digest.js';
import { BAD_INPUTS } from './request-shapes.js';
import { ERRORS } from '../../../epp/src/framework/error-catalogue.js';

const QWEN = 'Qwen/Qwen3-8B';
let passthrough: ProxyWasmHost;
let reject: ProxyWasmHost;
// The filter logs at most 20 warnings per 10 s per VM; each case moves this clock past the window.
let monotonic = 0n;
const clock = { monotonicNs: () => monotonic };

beforeAll(async () => {
  passthrough = await filterHost({}, { clock });
  reject = await filterHost({ onError: 'reject' }, { clock });
});

const cases = BAD_INPUTS;

function assertPassthrough(r: HostResult, kind: string, req: HostRequest): void {
  assert.equal(r.action, 'continue');
  assert.deepEqual(header(r, 'x-tokenroute-error'), [kind]);
  assert.deepEqual(header(r, 'x-tokenroute-blocks'), []);
  assert.equal(r.trap, undefined);
  const sent = req.body === undefined ? '' : Buffer.concat((Array.isArray(req.body) ? req.body : [req.body]).map((b) => Buffer.from(b as string))).toString('latin1');
  assert.equal(Buffer.from(r.body).toString('latin1'), sent, 'the body is forwarded unchanged');
  const warnings = r.logs.filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1, 'one log line');
  assert.match(warnings[0].message, new RegExp(`^tokenroute: ${kind}: `));
}

describe('onError: passthrough (default)', () => {
  for (const [name, req, kind] of cases) {
    it(`${name} → passes with x-tokenroute-error: ${kind}`, async () => {
      const before = passthrough.metrics()[`wasmcustom.tokenroute_errors_${kind}`]?.value ?? 0;
      monotonic += 11_000_000_000n;
      const r = await passthrough.runRequest(req);
      assertPassthrough(r, kind, req);
      assert.equal(passthrough.metrics()[`wasmcustom.tokenroute_errors_${kind}`].value, before + 1);
      assert.equal(decoded(r).error, kind, 'the error headers are signed like the others');
    });
  }
});

/** The catalogue code a local reply carries, checked against the catalogue (area filter, same status). */
function assertCoded(r: HostResult, status: number): string {
  const code = r.localReply!.headers.find(([k]) => k === 'x-tokenroute-error-code')?.[1];
  assert.ok(code, 'x-tokenroute-error-code is set');
  const def = Object.values(ERRORS).find((e) => e.code === code);
  assert.ok(def, `${code} is in the error catalogue`);
  assert.equal(def.area, 'filter');
  assert.equal(def.status, status, `${code}: the catalogue's status is the reply's`);
  return code;
}

/** The filter's error kinds and their catalogue codes (docs/errors.md). */
const KIND_CODES: Record<string, string> = {
  bad_json: 'TR_ERR_FILTER_BODY_INVALID_JSON',
  invalid_utf8: 'TR_ERR_FILTER_BODY_INVALID_UTF8',
  bad_request: 'TR_ERR_FILTER_REQUEST_INVALID',
  unknown_model: 'TR_ERR_FILTER_UNKNOWN_MODEL',
};

describe('onError: reject', () => {
  for (const [name, req, kind] of cases) {
    it(`${name} → 400 ${kind}, ${KIND_CODES[kind]}`, async () => {
      const r = await reject.runRequest(req);
      assert.equal(r.action, 'localReply');
      assert.equal(r.localReply?.status, 400);
      assert.equal(r.localReply?.details, `tokenroute_${kind}`);
      const code = assertCoded(r, 400);
      assert.equal(code, KIND_CODES[kind]);
      const body = JSON.parse(r.localReply!.body) as { object: string; code: number; message: string };
      assert.equal(body.object, 'error');
      assert.equal(body.code, 400);
      assert.equal(body.message.startsWith(`${code}: ${kind}: `), true, body.message);
    });
  }
});

describe('body size', () => {
  it('a body over maxBodyBytes stops being buffered at once and passes with too_large', async () => {
    const host = await filterHost({ maxBodyBytes: 100_000 });
    const body = JSON.stringify({ model: QWEN, prompt: 'x'.repeat(300_000) });
    const chunks: string[] = [];
    for (let i = 0; i < body.length; i += 65536) chunks.push(body.slice(i, i + 65536));
    const r = await host.runRequest({ path: '/v1/completions', body: chunks });
    assertPassthrough(r, 'too_large', { body: chunks });
    const statuses = r.callbacks.map((c) => c.effective);
    assert.deepEqual(statuses, ['StopIteration', 'StopIterationAndBuffer', 'Continue', 'Continue', 'Continue', 'Continue']);
  });

  it('reject mode answers a body over maxBodyBytes with 413', async () => {
    const host = await filterHost({ maxBodyBytes: 1000, onError: 'reject' });
    const r = await host.runRequest({ path: '/v1/completions', body: JSON.stringify({ model: QWEN, prompt: 'x'.repeat(2000) }) });
    assert.equal(r.localReply?.status, 413);
    assert.equal(r.localReply?.details, 'tokenroute_too_large');
    assert.equal(assertCoded(r, 413), 'TR_ERR_FILTER_BODY_TOO_LARGE');
  });

  it('Envoy\'s own buffer limit still applies first (Envoy Gateway: 32 KiB → 413 request_payload_too_large)', async () => {
    const host = await filterHost({ maxBodyBytes: 1 << 20 }, { bufferLimitBytes: 32768 });
    const body = JSON.stringify({ model: QWEN, prompt: 'y'.repeat(40_000) });
    const r = await host.runRequest({ path: '/v1/completions', body: [body.slice(0, 20_000), body.slice(20_000)] });
    assert.equal(r.localReply?.status, 413);
    assert.equal(r.localReply?.details, 'request_payload_too_large');
  });

  it('tokenizes a 10 MB prompt without trapping when the limits allow it', async () => {
    const host = await filterHost({ maxBodyBytes: 16 << 20 }, { bufferLimitBytes: 16 << 20 });
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', '12345', 'ünïcödé', '中文字符', '🙂'];
    let prompt = '';
    for (let i = 0; prompt.length < 10_000_000; i++) prompt += words[(i * 7) % words.length] + (i % 13 === 0 ? '\n' : ' ');
    const body = JSON.stringify({ model: QWEN, prompt });
    const chunks: string[] = [];
    for (let i = 0; i < body.length; i += 1 << 20) chunks.push(body.slice(i, i + (1 << 20)));
    const t0 = performance.now();
    const r = await host.runRequest({ path: '/v1/completions', body: chunks });
    const ms = performance.now() - t0;
    const v = decoded(r);
    assert.ok(v.tokens! > 1_000_000, `tokens ${v.tokens}`);
    // Every block up to maxBlocks is keyed; the digest of them fits the 16 KiB header budget.
    assert.deepEqual(v.digest, { dense: 256, blocks: 65536 });
    assert.equal(v.blockKeys.length, digestPositions(256, 65536).length);
    assert.ok(header(r, 'x-tokenroute-blocks')[0].length <= 16384);
    assert.ok(ms < 60_000, `took ${ms} ms`);
  });

  it('answers a 10 MB prompt over the default maxBodyBytes (1 MiB) with too_large, not a trap', async () => {
    const host = await filterHost({}, { bufferLimitBytes: 16 << 20 });
    const body = JSON.stringify({ model: QWEN, prompt: 'z'.repeat(10_000_000) });
    const r = await host.runRequest({ path: '/v1/completions', body });
    assert.deepEqual(header(r, 'x-tokenroute-error'), ['too_large']);
  });
});

describe('the VM survives', () => {
  it('keeps serving after every bad request above (no trap, same worker)', async () => {
    const r = await passthrough.runRequest({ path: '/v1/completions', body: JSON.stringify({ model: QWEN, prompt: 'still alive' }) });
    assert.ok(decoded(r).tokens! > 0);
    assert.equal(passthrough.workers[0].failed, null);
  });

  it('rate-limits warnings: at most 20 lines per 10 s window per VM', async () => {
    const host = await filterHost();
    let warnings = 0;
    for (let i = 0; i < 30; i++) {
      const r = await host.runRequest({ path: '/v1/completions', body: '{' });
      warnings += r.logs.filter((l) => l.level === 'warn').length;
    }
    assert.equal(warnings, 20);
    assert.equal(host.metrics()['wasmcustom.tokenroute_errors_bad_json'].value, 30);
  });
});
