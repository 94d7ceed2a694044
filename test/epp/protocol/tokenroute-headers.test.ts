// The EPP-side decoder of the filter's x-tokenroute-* headers (epp/src/protocol/tokenroute-headers.ts).
// Unit tests on encoded values, then a round trip that starts the real filter module
// (filter/build/filter.wasm) in the Node proxy-wasm host and decodes what it adds.
import { digestPositions } from '../../../epp/src/protocol/digest.js';
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { ProxyWasmHost } from '../../../filter/host/index.js';
import {
  TOKENROUTE_HEADERS as H,
  ReplayGuard,
  decodeTokenrouteHeaders,
  encodeTokenrouteHeaders,
  parseHmacKey,
  type TokenrouteValues,
} from '../../../epp/src/protocol/tokenroute-headers.js';
import { filterWasm } from '../../filter/host/support.js';

const key = parseHmacKey(Buffer.alloc(32, 0x11).toString('base64'));
const otherKey = parseHmacKey(Buffer.alloc(32, 0x22).toString('base64url'));
const NOW = 1_800_000_000;

const REQUEST_ID = '5f1c0b2e-7d44-4c61-9a0e-3b2f8e7d9c10';
const values: TokenrouteValues = {
  timeSeconds: NOW,
  requestId: REQUEST_ID,
  model: 'Qwen/Qwen3-8B',
  profile: 'interactive',
  tokens: 57,
  blockSize: 16,
  exact: true,
  blockKeys: BigUint64Array.from([1n, 0xffffffffffffffffn, 0x0123456789abcdefn]),
  digest: { dense: 256, blocks: 3 },
};

const asMap = (pairs: [string, string][]) => new Map(pairs);
function withHeader(pairs: [string, string][], name: string, value: string | undefined): Map<string, string> {
  const m = asMap(pairs);
  if (value === undefined) m.delete(name);
  else m.set(name, value);
  return m;
}

describe('decodeTokenrouteHeaders', () => {
  // Envoy's x-request-id travels beside the filter's headers; version 2 signs it.
  const signed: [string, string][] = [...encodeTokenrouteHeaders(values, key), ['x-request-id', REQUEST_ID]];

  it('decodes and verifies what encodeTokenrouteHeaders produces', () => {
    const r = decodeTokenrouteHeaders(asMap(signed), { keys: [key], maxAgeSeconds: 60, nowSeconds: () => NOW + 5 });
    assert.ok(r.ok);
    assert.deepEqual(r.value, { ...values, version: '3', positions: Uint32Array.from([0, 1, 2]), signed: true });
  });

  it('decodes version 2 (every key of the first blocks, no digest) as it did', () => {
    const v2 = { ...values, version: '2' as const, digest: undefined };
    const pairs = [...encodeTokenrouteHeaders(v2, key), ['x-request-id', REQUEST_ID]] as [string, string][];
    assert.equal(new Map(pairs).get(H.version), '2');
    assert.equal(new Map(pairs).has(H.digest), false);
    const r = decodeTokenrouteHeaders(asMap(pairs), { keys: [key] });
    assert.ok(r.ok);
    assert.equal(r.value.version, '2');
    assert.equal(r.value.positions, undefined);
    assert.deepEqual(Array.from(r.value.blockKeys), Array.from(values.blockKeys));
  });

  it('decodes a digest: each key at its grid position', () => {
    const blocks = 6250; // 100,000 tokens at 16-token blocks
    const positions = digestPositions(256, blocks);
    const keys = BigUint64Array.from(positions, (p) => BigInt(p) * 7919n + 1n);
    const pairs = [...encodeTokenrouteHeaders({ ...values, tokens: 100_000, blockKeys: keys, digest: { dense: 256, blocks } }, key), ['x-request-id', REQUEST_ID]] as [string, string][];
    assert.equal(new Map(pairs).get(H.digest), '256:6250');
    assert.ok(new Map(pairs).get(H.blocks)!.length <= 16384, 'a 100K-token prompt fits the default 16 KiB budget');
    const r = decodeTokenrouteHeaders(asMap(pairs), { keys: [key] });
    assert.ok(r.ok);
    assert.deepEqual(Array.from(r.value.positions!), Array.from(positions));
    assert.equal(r.value.positions!.at(-1), blocks - 1, 'the last full block is always sent');
  });

  it('accepts a plain record of headers and an unsigned request when no key is configured', () => {
    const r = decodeTokenrouteHeaders(Object.fromEntries([...encodeTokenrouteHeaders(values), ['x-request-id', REQUEST_ID]]));
    assert.ok(r.ok);
    assert.equal(r.value.signed, false);
  });

  it('says why a request cannot be used', () => {
    const cases: [Map<string, string>, string][] = [
      [new Map(), 'absent'],
      [withHeader(signed, H.version, '1'), 'unsupported_version'],
      [withHeader(signed, 'x-request-id', 'another-request'), 'bad_signature'],
      [withHeader(signed, 'x-request-id', undefined), 'bad_signature'],
      [withHeader(signed, H.signature, undefined), 'unsigned'],
      [withHeader(signed, H.signature, 'AAAAAAAAAAAAAAAAAAAAAA'), 'bad_signature'],
      [withHeader(signed, H.signature, 'short'), 'bad_signature'],
      [withHeader(signed, H.tokens, '58'), 'bad_signature'],
      [withHeader(signed, H.profile, 'batch'), 'bad_signature'],
      [withHeader(signed, H.exact, '0'), 'bad_signature'],
      [withHeader(signed, H.blocks, encodeTokenrouteHeaders({ ...values, blockKeys: BigUint64Array.from([2n]) }).find(([k]) => k === H.blocks)![1]), 'bad_signature'],
      [withHeader(signed, H.time, 'soon'), 'malformed'],
      [withHeader(signed, H.tokens, '-1'), 'malformed'],
      [withHeader(signed, H.tokens, '57,57'), 'malformed'],
      [withHeader(signed, H.blockSize, '0'), 'malformed'],
      [withHeader(signed, H.exact, 'yes'), 'malformed'],
      [withHeader(signed, H.blocks, 'AAAA'), 'malformed'],
      [withHeader(signed, H.blocks, 'AAAAAAAAAA+'), 'malformed'],
      [withHeader(signed, H.model, '%E0%A4'), 'malformed'],
      [withHeader(signed, H.model, 'Qwen%2FQwen3'), 'malformed'],
      [withHeader(signed, H.profile, 'a b'), 'malformed'],
      [withHeader(signed, H.error, 'Bad Kind!'), 'malformed'],
      [withHeader(signed, H.digest, '256:4'), 'bad_signature'],
      [withHeader(signed, H.digest, undefined), 'malformed'],
      [withHeader(signed, H.digest, '256'), 'malformed'],
      [withHeader(signed, H.digest, '0:3'), 'malformed'],
      [withHeader(signed, H.digest, '256:2'), 'malformed'], // three keys, two blocks
    ];
    for (const [headers, reason] of cases) {
      const r = decodeTokenrouteHeaders(headers, { keys: [key] });
      assert.equal(r.ok ? 'ok' : r.reason, reason, JSON.stringify([...headers]));
    }
  });

  it('rejects values from another key, accepts any of several keys (rotation)', () => {
    assert.equal((decodeTokenrouteHeaders(asMap(signed), { keys: [otherKey] }) as { reason: string }).reason, 'bad_signature');
    assert.ok(decodeTokenrouteHeaders(asMap(signed), { keys: [otherKey, key] }).ok);
  });

  it('accepts a signed header set once: a replay (another request carrying it) is refused', () => {
    const replay = new ReplayGuard();
    const opts = { keys: [key], maxAgeSeconds: 60, nowSeconds: () => NOW + 1, replay };
    assert.ok(decodeTokenrouteHeaders(asMap(signed), opts).ok);
    for (let i = 0; i < 3; i++) assert.equal((decodeTokenrouteHeaders(asMap(signed), opts) as { reason: string }).reason, 'replayed');
    // Another request (its own id, so its own signature) is accepted.
    const other = [...encodeTokenrouteHeaders({ ...values, requestId: 'req-2' }, key), ['x-request-id', 'req-2']] as [string, string][];
    assert.ok(decodeTokenrouteHeaders(asMap(other), opts).ok);
    // Forged or stale sets never take a place in the guard.
    decodeTokenrouteHeaders(withHeader(signed, H.signature, 'AAAAAAAAAAAAAAAAAAAAAA'), opts);
    assert.equal(replay.size, 2);
  });

  it('the replay guard is bounded and forgets what is no longer fresh', () => {
    const g = new ReplayGuard(100);
    for (let i = 0; i < 1000; i++) assert.ok(g.accept(`sig-${i}`, NOW + 60, NOW));
    assert.ok(g.size <= 100);
    assert.equal(g.accept('sig-999', NOW + 60, NOW), false, 'a recent one is remembered');
    assert.ok(g.accept('sig-999', NOW + 200, NOW + 61), 'after its window it is not a replay any more');
  });

  it('rejects stale timestamps when maxAgeSeconds is set', () => {
    const r = decodeTokenrouteHeaders(asMap(signed), { keys: [key], maxAgeSeconds: 30, nowSeconds: () => NOW + 31 });
    assert.equal(r.ok ? 'ok' : r.reason, 'stale');
  });

  it('bounds the number of block keys', () => {
    const many = encodeTokenrouteHeaders({ ...values, requestId: '', blockKeys: new BigUint64Array(100), digest: undefined }, key);
    assert.equal((decodeTokenrouteHeaders(asMap(many), { keys: [key], maxBlocks: 50 }) as { reason: string }).reason, 'malformed');
    assert.ok(decodeTokenrouteHeaders(asMap(many), { keys: [key], maxBlocks: 100 }).ok);
  });

  it('decodes an error report (no tokens or keys) and a non-ASCII model', () => {
    const v: TokenrouteValues = { timeSeconds: NOW, model: 'modèle\r\nX-Injected: 1', profile: '', blockKeys: new BigUint64Array(0), error: 'unknown_model' };
    const headers = encodeTokenrouteHeaders(v, key);
    assert.ok(headers.every(([, value]) => /^[\x21-\x7e]*$/.test(value)), 'header-safe values');
    const r = decodeTokenrouteHeaders(asMap(headers), { keys: [key] });
    assert.ok(r.ok);
    assert.equal(r.value.model, v.model);
    assert.equal(r.value.error, 'unknown_model');
    assert.equal(r.value.tokens, undefined);
  });

  it('rejects malformed keys in configuration', () => {
    assert.throws(() => parseHmacKey('not base64!'), /not base64/);
    assert.throws(() => parseHmacKey(Buffer.alloc(8).toString('base64')), /at least 16 bytes/);
  });
});

describe('round trip: the filter in the Node host → decodeTokenrouteHeaders (starts filter/build/filter.wasm)', () => {
  let host: ProxyWasmHost;
  beforeAll(async () => {
    host = await ProxyWasmHost.create({
      wasm: filterWasm(),
      pluginConfig: JSON.stringify({
        models: { 'Qwen/Qwen3-8B': { tokenizer: 'qwen3' }, 'naïve model': { tokenizer: 'llama3_1' } },
        hmacKey: Buffer.from(key).toString('base64'),
        routes: { chat: 'interactive' },
        blockSize: 4,
      }),
      allowOnHeadersStopIteration: true,
      clock: { realtimeNs: () => BigInt(NOW) * 1_000_000_000n + 123n },
    });
  });

  it('verifies the filter\'s signature and reproduces its headers byte for byte', async () => {
    const body = JSON.stringify({ model: 'Qwen/Qwen3-8B', messages: [{ role: 'user', content: 'A prompt long enough for a few blocks of four tokens each.' }] });
    const r = await host.runRequest({ path: '/v1/chat/completions', body, routeName: 'chat', headers: [['x-request-id', 'envoy-made-id-1']] });
    const added = r.addedHeaders;
    const decoded = decodeTokenrouteHeaders(new Map(r.headersAfter), { keys: [key], maxAgeSeconds: 5, nowSeconds: () => NOW });
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.equal(decoded.value.requestId, 'envoy-made-id-1', 'the filter signed the request id Envoy set');
    const moved = new Map(r.headersAfter);
    moved.set('x-request-id', 'another-request');
    assert.equal((decodeTokenrouteHeaders(moved, { keys: [key] }) as { reason: string }).reason, 'bad_signature', 'the set does not verify on another request');
    assert.equal(decoded.value.timeSeconds, NOW);
    assert.equal(decoded.value.profile, 'interactive');
    assert.ok(decoded.value.blockKeys.length >= 3);
    assert.equal(decoded.value.blockKeys.length, Math.floor(decoded.value.tokens! / 4));
    const { signed: _signed, ...values } = decoded.value;
    assert.deepEqual(encodeTokenrouteHeaders(values, key), added, 'the TypeScript encoder and the filter agree exactly');
  });

  it('round-trips an error report for an unknown, non-ASCII model', async () => {
    const r = await host.runRequest({ path: '/v1/completions', body: JSON.stringify({ model: 'ünknown\tmodel', prompt: 'x' }) });
    const decoded = decodeTokenrouteHeaders(new Map(r.headersAfter), { keys: [key] });
    assert.ok(decoded.ok);
    assert.equal(decoded.value.error, 'unknown_model');
    assert.equal(decoded.value.model, 'ünknown\tmodel');
  });

  it('a configured non-ASCII model name round-trips through percent-encoding', async () => {
    const r = await host.runRequest({ path: '/v1/completions', body: JSON.stringify({ model: 'naïve model', prompt: 'hello there' }) });
    const decoded = decodeTokenrouteHeaders(new Map(r.headersAfter), { keys: [key] });
    assert.ok(decoded.ok);
    assert.equal(decoded.value.model, 'naïve model');
    assert.equal(r.addedHeaders.find(([k]) => k === H.model)?.[1], 'na%C3%AFve%20model');
  });

  it('a client cannot forge values: headers it sends are replaced, and headers signed with another key fail', async () => {
    const forged = encodeTokenrouteHeaders({ ...values, timeSeconds: NOW }, otherKey);
    const r = await host.runRequest({ path: '/v1/models', method: 'GET', headers: forged });
    assert.deepEqual(r.headersAfter.filter(([k]) => k.startsWith('x-tokenroute-')), []);
    assert.equal((decodeTokenrouteHeaders(asMap(forged), { keys: [key] }) as { reason: string }).reason, 'bad_signature');
  });
});
