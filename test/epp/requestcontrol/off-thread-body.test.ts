// Large bodies are parsed in a worker thread (requestcontrol/parsing/off-thread-body.ts): the
// answer must be the one parseRequestBody gives on the event loop — same fields, same 400s —
// while the event loop never parses the large body itself, and a model rewrite splices the new
// name into the client's bytes.
import { describe, it, vi } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequestBody, type ParseResult } from '../../../epp/src/requestcontrol/parser.js';
import { createOpenAIParser, DEFAULT_OFF_THREAD } from '../../../epp/src/requestcontrol/parsing/openai-parser.js';
import { PREFIX_HEAD_CHARS } from '../../../epp/src/requestcontrol/parsing/off-thread-body.js';
import { topLevelValueSpan } from '../../../epp/src/requestcontrol/parsing/json-span.js';
import type { Decision } from '../../../epp/src/framework/request-controller.js';
import { requestPath } from './helpers.js';

const headers = (path = '/v1/chat/completions') => new Map([[':path', path]]);
const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

/** Everything a plugin can read from a parse result, for comparing the two paths. */
function view(r: ParseResult) {
  if (!r.ok) return { ok: false, status: r.status, message: r.message, limit: r.limit };
  const b = r.body;
  return { ok: true, kind: b.kind, model: b.model, stream: b.stream, cacheSalt: b.cacheSalt, prefixText: b.prefixText, prefixLength: b.prefixLength, head: b.prefixHead(100), content: b.content, json: b.json };
}

describe('off-thread parsing', () => {
  // Every body goes to the worker.
  const offThread = createOpenAIParser('p', {}, { ...DEFAULT_OFF_THREAD, bodyBytes: 1 });

  it('answers as the event-loop parser does, for valid bodies and for every kind of 400', async () => {
    const cases: [Buffer, string][] = [
      [bytes({ model: 'm', messages: [{ role: 'user', content: 'hi ' + 'é'.repeat(50) }], stream: true, cache_salt: 's' }), '/v1/chat/completions'],
      [bytes({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:' } }, { type: 'text', text: 't' }] }] }), '/v1/chat/completions'],
      [bytes({ model: 'm', prompt: ['a', 'b'] }), '/v1/completions'],
      [bytes({ model: 'm', input: 'x', instructions: 'be brief' }), '/v1/responses'],
      [bytes({ model: 'm', input: ['a'] }), '/v1/embeddings'],
      [bytes({ model: 'm', items: [{ type: 'message' }] }), '/v1/conversations'],
      [bytes({ model: 'm', prompt: 'shape decides' }), '/other'],
      [bytes('{"model": "m", "messages": ['), '/v1/chat/completions'],
      [bytes('[1,2]'), '/v1/chat/completions'],
      [bytes({ messages: [] }), '/v1/chat/completions'],
      [bytes({ model: 'm', messages: [] }), '/v1/chat/completions'],
      [bytes({ model: 'x'.repeat(2000), prompt: 'p' }), '/v1/completions'],
      [bytes({ model: 'm', prompt: 'p', cache_salt: 7 }), '/v1/completions'],
      [bytes('\ufeff{"model":"m","prompt":"bom"}'), '/v1/completions'],
      [Buffer.concat([bytes('{"model":"'), Buffer.from([0xff]), bytes('","prompt":"p"}')]), '/v1/completions'],
    ];
    for (const [b, path] of cases) {
      const pending = offThread.parse(b, headers(path));
      assert.ok(pending instanceof Promise, 'parsed in the worker');
      assert.deepEqual(view(await pending), view(parseRequestBody(b, path)), `body ${b.toString().slice(0, 60)}`);
    }
  });

  it('bodies under the threshold stay on the event loop', () => {
    const p = createOpenAIParser('p');
    assert.ok(!(p.parse(bytes({ model: 'm', prompt: 'x' }), headers('/v1/completions')) instanceof Promise));
  });

  it('a large body routes without the event loop ever parsing it (default config: GIE prefix scorer on character blocks)', async () => {
    const { director, config } = requestPath('apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: prefix-cache-scorer\n- type: context-length-aware\n- type: queue-scorer\n');
    const big = bytes({ model: 'm', messages: [{ role: 'system', content: 'shared context '.repeat(200_000) }, { role: 'user', content: 'q' }] });
    assert.ok(big.length > 2 * DEFAULT_OFF_THREAD.bodyBytes);
    const input = (h: Map<string, string>) => ({ headers: h, requestId: 'r', body: big, filterMetadata: {}, attributes: new Map(), grpcMetadata: new Map() });
    const parse = vi.spyOn(JSON, 'parse');
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const first = (await director.handleRequest(input(headers()))) as Extract<Decision, { kind: 'route' }>;
      assert.equal(first.kind, 'route');
      first.handle.onEnd('complete');
      // The repeat goes where its prefix is: the scorer hashed the head the worker sent back.
      const again = (await director.handleRequest(input(headers()))) as Extract<Decision, { kind: 'route' }>;
      assert.equal(again.endpoints[0], first.endpoints[0]);
      again.handle.onEnd('complete');
      // A rewrite splices the new name into the client's bytes.
      const rewritten = (await director.handleRequest(input(new Map([...headers(), ['x-gateway-model-name-rewrite', 'm-v2']])))) as Extract<Decision, { kind: 'route' }>;
      assert.equal(rewritten.kind, 'route');
      assert.equal(rewritten.body!.length, big.length + 3);
      rewritten.handle.onEnd('complete');
      // Read before restoring: restoring a spy clears what it recorded.
      const bigParses = parse.mock.calls.filter(([text]) => text.length > 100_000).length;
      const bigStringifies = stringify.mock.results.filter((r) => typeof r.value === 'string' && r.value.length > 100_000).length;
      parse.mockRestore();
      stringify.mockRestore();
      assert.equal(bigParses, 0, 'no JSON.parse of the large body on the event loop');
      assert.equal(bigStringifies, 0, 'no re-serialization of the large body on the event loop');
      assert.deepEqual(JSON.parse(rewritten.body!.toString()), { ...JSON.parse(big.toString()), model: 'm-v2' });
    } finally {
      parse.mockRestore();
      stringify.mockRestore();
      for (const p of config.plugins.values()) await (p as { close?: () => Promise<void> }).close?.();
    }
  });

  it('the prefix head covers what the hashers read; beyond it the text is rebuilt, equal to the event-loop one', async () => {
    const text = 'x'.repeat(PREFIX_HEAD_CHARS + 10);
    const b = bytes({ model: 'm', prompt: text });
    const r = await offThread.parse(b, headers('/v1/completions'));
    assert.ok(r.ok);
    assert.equal(r.body.prefixLength, text.length);
    assert.equal(r.body.prefixHead(64), text.slice(0, 64));
    assert.equal(r.body.prefixHead(PREFIX_HEAD_CHARS + 5), text.slice(0, PREFIX_HEAD_CHARS + 5));
    assert.equal(r.body.prefixText, text);
  });

  it('a full parse queue is a 503 counted under its limit, never a hang', async () => {
    const tight = createOpenAIParser('tight', {}, { bodyBytes: 1, workers: 1, queue: 1, timeoutMs: 30_000 });
    try {
      const big = bytes({ model: 'm', prompt: 'y'.repeat(4 << 20) });
      const [first, second] = await Promise.all([tight.parse(big, headers('/v1/completions')), tight.parse(big, headers('/v1/completions'))]);
      assert.ok(first.ok, 'the first parse runs');
      assert.ok(!second.ok);
      assert.equal(second.status, 503);
      assert.equal(second.limit, 'body_parse_queue');
      assert.ok((await tight.parse(big, headers('/v1/completions'))).ok, 'the queue frees when the parse is done');
    } finally {
      await tight.close();
    }
  });
});

describe('topLevelValueSpan', () => {
  const key = fc.constantFrom('model', 'mod\\u0065l', 'm', 'modelx', 'prompt', 'a"b');
  const value = fc.jsonValue({ maxDepth: 3 });
  const ws = fc.constantFrom('', ' ', '\n\t ', '\r\n');

  it('splicing a new value at the span of the last top-level key gives the object with that key replaced', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value, ws, ws), { maxLength: 6 }), value, ws, fc.string(), (members, model, pad, next) => {
        // Written by hand so keys may repeat and be escaped, as a client may send them.
        const written = [...members, ['model', model, pad, pad] as const];
        const text = `${pad}{${written.map(([k, v, a, b]) => `${a}${JSON.stringify(k).replace('\\\\u0065', '\\u0065')}${b}:${a}${JSON.stringify(v)}${b}`).join(',')}}${pad}`;
        const raw = Buffer.from(text);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const span = topLevelValueSpan(raw, 'model');
        assert.ok(span, text);
        const spliced = Buffer.concat([raw.subarray(0, span[0]), Buffer.from(JSON.stringify(next)), raw.subarray(span[1])]).toString();
        assert.deepEqual(JSON.parse(spliced), { ...parsed, model: next });
      }),
      { numRuns: 500 },
    );
  });

  it('finds nothing in what is not an object with the key', () => {
    assert.equal(topLevelValueSpan(bytes('[1]'), 'model'), undefined);
    assert.equal(topLevelValueSpan(bytes('{}'), 'model'), undefined);
    assert.equal(topLevelValueSpan(bytes({ nested: { model: 'm' } }), 'model'), undefined);
  });
});
