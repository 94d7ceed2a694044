// Integration: the real filter in the Node host — client-sent x-tokenroute-* headers are removed
// before the filter adds its own (so a client cannot steer routing), and per-route profiles.
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { ProxyWasmHost } from '../../../filter/host/index.js';
import { chat, decoded, filterHost, header } from './helpers.js';

const QWEN = 'Qwen/Qwen3-8B';
const messages = [{ role: 'user', content: 'Route me somewhere nice, please.' }];
let host: ProxyWasmHost;

beforeAll(async () => {
  host = await filterHost({ routes: { 'chat-route': 'interactive', 'batch-route': 'batch' }, defaultProfile: 'standard' });
});

const spoofed: [string, string][] = [
  ['X-Tokenroute-Blocks', 'AAAAAAAAAAA'],
  ['x-tokenroute-blocks', 'BBBBBBBBBBB'],
  ['x-tokenroute-profile', 'premium'],
  ['x-tokenroute-sig', 'forged'],
  ['x-tokenroute-made-up', '1'],
  ['x-other', 'kept'],
];

describe('client-sent x-tokenroute-* headers', () => {
  it('are all removed (any case, every value) and replaced by the filter\'s own', async () => {
    const r = await host.runRequest({ ...chat(QWEN, { messages }), headers: spoofed });
    const v = decoded(r);
    assert.equal(v.profile, 'standard');
    assert.equal(header(r, 'x-tokenroute-blocks').length, 1);
    assert.deepEqual(header(r, 'x-tokenroute-made-up'), []);
    assert.deepEqual(header(r, 'x-other'), ['kept']);
    assert.ok(r.removedHeaders.includes('x-tokenroute-made-up'));
    assert.equal(host.metrics()['wasmcustom.tokenroute_client_headers_removed'].value >= 4, true);
  });

  it('are removed on requests the filter does not tokenize too', async () => {
    const r = await host.runRequest({ method: 'GET', path: '/v1/models', headers: spoofed });
    assert.equal(r.action, 'continue');
    assert.deepEqual(
      r.headersAfter.filter(([k]) => k.startsWith('x-tokenroute-')),
      [],
    );
    const embeddings = await host.runRequest({ path: '/v1/embeddings', headers: spoofed, body: '{}' });
    assert.deepEqual(embeddings.headersAfter.filter(([k]) => k.startsWith('x-tokenroute-')), []);
  });

  it('cannot survive a filter error either: the request carries only the filter\'s error headers', async () => {
    const r = await host.runRequest({ path: '/v1/chat/completions', headers: spoofed, body: '{not json' });
    assert.deepEqual(header(r, 'x-tokenroute-error'), ['bad_json']);
    assert.deepEqual(header(r, 'x-tokenroute-blocks'), []);
    assert.deepEqual(header(r, 'x-tokenroute-profile'), ['standard']);
  });
});

describe('per-route profiles (xds.route_name)', () => {
  it('maps the Envoy route name to a profile; unknown or unnamed routes get the default', async () => {
    assert.equal(decoded(await host.runRequest({ ...chat(QWEN, { messages }), routeName: 'chat-route' })).profile, 'interactive');
    assert.equal(decoded(await host.runRequest({ ...chat(QWEN, { messages }), routeName: 'batch-route' })).profile, 'batch');
    assert.equal(decoded(await host.runRequest({ ...chat(QWEN, { messages }), routeName: 'other' })).profile, 'standard');
    assert.equal(decoded(await host.runRequest(chat(QWEN, { messages }))).profile, 'standard');
  });

  it('sends no profile header without routes or a default', async () => {
    const plain = await filterHost();
    const r = await plain.runRequest({ ...chat(QWEN, { messages }), routeName: 'chat-route' });
    assert.equal(decoded(r).profile, '');
    assert.deepEqual(header(r, 'x-tokenroute-profile'), []);
  });

  it('without an hmacKey the headers are unsigned', async () => {
    const unsigned = await filterHost({ hmacKey: undefined });
    const r = await unsigned.runRequest(chat(QWEN, { messages }));
    assert.deepEqual(header(r, 'x-tokenroute-sig'), []);
    assert.deepEqual(header(r, 'x-tokenroute-v'), ['3']);
  });
});
