// OpenAI body parsing: each API shape (by path and by body shape), the extracted fields and
// prefix text, 400 values for malformed input (never a throw), and the token estimates.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  apiKindFromPath,
  estimateInflightTokens,
  estimatePromptTokens,
  isRequestParser,
  parseRequestBody,
  requestPath,
  type ParseResult,
} from '../../../epp/src/requestcontrol/parser.js';
import type { ParsedBody } from '../../../epp/src/framework/request.js';
import { createOpenAIParser, createPassthroughParser } from '../../../epp/src/requestcontrol/parsing/index.js';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function ok(result: ParseResult | Promise<ParseResult>): ParsedBody {
  assert.ok(!(result instanceof Promise), 'a small body is parsed on the event loop');
  const r = result;
  assert.ok(r.ok, r.ok ? '' : `expected success, got 400: ${r.message}`);
  return r.body;
}

function rejected(r: ParseResult, message: RegExp): void {
  assert.equal(r.ok, false, 'expected a 400');
  if (!r.ok) {
    assert.equal(r.status, 400);
    assert.match(r.message, message);
  }
}

describe('parseRequestBody by path', () => {
  it('reads a completions request with a string prompt', () => {
    const b = ok(parseRequestBody(body({ model: 'llama', prompt: 'Once upon a time', max_tokens: 5 }), '/v1/completions'));
    assert.equal(b.kind, 'completions');
    assert.equal(b.model, 'llama');
    assert.equal(b.prefixText, 'Once upon a time');
    assert.equal(b.stream, false);
    assert.equal(b.cacheSalt, undefined);
    assert.deepEqual(b.json, { model: 'llama', prompt: 'Once upon a time', max_tokens: 5 });
  });

  it('joins a completions prompt array of strings or token ids with spaces', () => {
    assert.equal(ok(parseRequestBody(body({ model: 'm', prompt: ['a b', 'c'] }), '/v1/completions')).prefixText, 'a b c');
    assert.equal(ok(parseRequestBody(body({ model: 'm', prompt: [1, 22, 333] }), '/v1/completions')).prefixText, '1 22 333');
    assert.equal(ok(parseRequestBody(body({ model: 'm', prompt: [[1, 2], [3]] }), '/v1/completions')).prefixText, '1 2 3');
  });

  it('rejects a completions request without a usable prompt', () => {
    for (const prompt of [undefined, '', [], 5, { text: 'x' }, [1.5], ['a', {}]]) {
      rejected(parseRequestBody(body({ model: 'm', prompt }), '/v1/completions'), /invalid completions request/);
    }
  });

  it('reads a chat completions request: prefix is the JSON of messages', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: [{ type: 'text', text: 'Hi <b>&' }] },
    ];
    const b = ok(parseRequestBody(body({ model: 'm', messages, stream: true, cache_salt: 'tenant-a' }), '/v1/chat/completions'));
    assert.equal(b.kind, 'chat-completions');
    assert.equal(b.prefixText, JSON.stringify(messages));
    assert.equal(b.stream, true);
    assert.equal(b.cacheSalt, 'tenant-a');
  });

  it('rejects a chat request without messages', () => {
    rejected(parseRequestBody(body({ model: 'm' }), '/v1/chat/completions'), /must have valid messages field/);
    rejected(parseRequestBody(body({ model: 'm', messages: [] }), '/v1/chat/completions'), /must have valid messages field/);
    rejected(parseRequestBody(body({ model: 'm', messages: 'hi' }), '/v1/chat/completions'), /must have valid messages field/);
  });

  it('reads a responses request: prefix is instructions + tools + input, as GIE combines them', () => {
    const tools = [{ type: 'function', name: 'f' }];
    const b = ok(parseRequestBody(body({ model: 'm', instructions: 'Be nice', tools, input: 'hello' }), '/v1/responses'));
    assert.equal(b.kind, 'responses');
    assert.equal(b.prefixText, JSON.stringify([{ instructions: 'Be nice' }, { tools }, { input: 'hello' }]));
    const only = ok(parseRequestBody(body({ model: 'm', input: [{ role: 'user', content: 'x' }], instructions: null }), '/v1/responses'));
    assert.equal(only.prefixText, JSON.stringify([{ input: [{ role: 'user', content: 'x' }] }]));
    rejected(parseRequestBody(body({ model: 'm', instructions: 'x' }), '/v1/responses'), /must have input field/);
  });

  it('reads an embeddings request: prefix is the JSON of input', () => {
    const b = ok(parseRequestBody(body({ model: 'e5', input: 'some text' }), '/v1/embeddings'));
    assert.equal(b.kind, 'embeddings');
    assert.equal(b.prefixText, '"some text"');
    assert.equal(ok(parseRequestBody(body({ model: 'e5', input: ['a', 'b'] }), '/v1/embeddings')).prefixText, '["a","b"]');
    rejected(parseRequestBody(body({ model: 'e5' }), '/v1/embeddings'), /must have input field/);
  });

  it('reads a conversations request: prefix is the JSON of items', () => {
    const items = [{ type: 'message', role: 'user', content: 'hi' }];
    const b = ok(parseRequestBody(body({ model: 'm', items }), '/v1/conversations'));
    assert.equal(b.kind, 'conversations');
    assert.equal(b.prefixText, JSON.stringify(items));
    rejected(parseRequestBody(body({ model: 'm', items: [] }), '/v1/conversations'), /must have items field/);
  });
});

describe('API detection', () => {
  it('matches path suffixes, ignoring query strings and trailing slashes', () => {
    assert.equal(apiKindFromPath('/v1/chat/completions'), 'chat-completions');
    assert.equal(apiKindFromPath('/v1/completions?stream=true'), 'completions');
    assert.equal(apiKindFromPath('/v1/embeddings/'), 'embeddings');
    assert.equal(apiKindFromPath('/v1/projects/p/locations/l/endpoints/openapi/chat/completions'), 'chat-completions');
    assert.equal(apiKindFromPath('/v1/responses'), 'responses');
    assert.equal(apiKindFromPath('/v1/conversations'), 'conversations');
    assert.equal(apiKindFromPath('/generate'), undefined);
    assert.equal(apiKindFromPath(undefined), undefined);
  });

  it('takes the path from :path, then x-original-path, then x-forwarded-path', () => {
    assert.equal(requestPath(new Map([[':path', '/a'], ['x-original-path', '/b']])), '/a');
    assert.equal(requestPath(new Map([['x-original-path', '/b'], ['x-forwarded-path', '/c']])), '/b');
    assert.equal(requestPath(new Map([['x-forwarded-path', '/c']])), '/c');
    assert.equal(requestPath(new Map()), undefined);
  });

  it('falls back to the body shape when the path is unknown or missing', () => {
    const kind = (v: unknown, path?: string) => ok(parseRequestBody(body(v), path)).kind;
    assert.equal(kind({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, '/generate'), 'chat-completions');
    assert.equal(kind({ model: 'm', prompt: 'x' }), 'completions');
    assert.equal(kind({ model: 'm', items: [{ type: 'message' }] }), 'conversations');
    assert.equal(kind({ model: 'm', input: 'x', instructions: 'y' }), 'responses');
    assert.equal(kind({ model: 'm', input: [{ role: 'user', content: 'x' }] }), 'responses');
    assert.equal(kind({ model: 'm', input: 'x' }), 'responses');
    assert.equal(kind({ model: 'm', input: ['a', 'b'] }), 'embeddings');
    assert.equal(kind({ model: 'm', input: [1, 2, 3] }), 'embeddings');
    assert.equal(kind({ model: 'm', input: 'x', encoding_format: 'float' }), 'embeddings');
  });

  it('accepts an unknown shape as kind unknown with no prefix text', () => {
    const b = ok(parseRequestBody(body({ model: 'm', foo: 1 }), '/custom'));
    assert.equal(b.kind, 'unknown');
    assert.equal(b.prefixText, '');
    const guessed = ok(parseRequestBody(body({ model: 'm', prompt: 5 }), '/custom'));
    assert.equal(guessed.kind, 'unknown', 'a guessed shape that does not hold up is not an error');
  });
});

describe('bad requests are 400 values', () => {
  it('rejects a missing or non-string model', () => {
    rejected(parseRequestBody(body({ prompt: 'x' }), '/v1/completions'), /model not found/);
    rejected(parseRequestBody(body({ model: 7, prompt: 'x' }), '/v1/completions'), /model not found/);
    rejected(parseRequestBody(body({ model: null, prompt: 'x' }), '/v1/completions'), /model not found/);
  });

  it('rejects malformed JSON, non-object JSON and an empty body', () => {
    rejected(parseRequestBody(body('{"model": "m",'), '/v1/completions'), /error unmarshaling request body/);
    for (const v of ['[1,2]', '"str"', 'null', '42', 'true']) rejected(parseRequestBody(body(v), '/v1/completions'), /must be a JSON object/);
    rejected(parseRequestBody(Buffer.alloc(0), '/v1/completions'), /empty request body/);
  });

  it('rejects a non-string cache_salt and ignores an empty one', () => {
    rejected(parseRequestBody(body({ model: 'm', prompt: 'x', cache_salt: 1 }), '/v1/completions'), /cache_salt must be a string/);
    assert.equal(ok(parseRequestBody(body({ model: 'm', prompt: 'x', cache_salt: '' }), '/v1/completions')).cacheSalt, undefined);
  });

  it('rejects bodies over a size limit the caller sets', () => {
    rejected(parseRequestBody(body({ model: 'm', prompt: 'x'.repeat(100) }), '/v1/completions', { maxBodyBytes: 64 }), /over the 64-byte limit/);
  });

  it('has no size limit of its own: a 40 MB body parses (the EPP limits bodies with --max-request-body-bytes, up to 64 MiB by default)', () => {
    const big = body({ model: 'm', prompt: 'x'.repeat(40_000_000) });
    assert.ok(big.length > 32 * 1024 * 1024);
    assert.equal(ok(parseRequestBody(big, '/v1/completions')).model, 'm');
  });

  it('rejects deeply nested JSON without overflowing the stack', () => {
    const deep = `{"model":"m","messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
    rejected(parseRequestBody(Buffer.from(deep), '/v1/chat/completions'), /nested deeper than 256 levels/);
    const moderate = { model: 'm', prompt: 'x', extra: JSON.parse(`${'['.repeat(20)}${']'.repeat(20)}`) };
    ok(parseRequestBody(body(moderate), '/v1/completions'));
    rejected(parseRequestBody(body(moderate), '/v1/completions', { maxDepth: 10 }), /nested deeper than 10 levels/);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.constantFrom(undefined, '/v1/completions', '/v1/chat/completions', '/v1/responses', '/x'), (bytes, path) => {
        const r = parseRequestBody(Buffer.from(bytes), path);
        return r.ok || r.status === 400;
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.json(), fc.constantFrom(undefined, '/v1/completions', '/v1/chat/completions', '/v1/embeddings', '/v1/conversations'), (text, path) => {
        const r = parseRequestBody(Buffer.from(text), path);
        return r.ok ? typeof r.body.prefixText === 'string' : r.status === 400;
      }),
      { numRuns: 500 },
    );
  });
});

describe('token estimates', () => {
  it('estimates prompt tokens as max(1, ⌊bytes / 4⌋)', () => {
    assert.equal(estimatePromptTokens(0), 1);
    assert.equal(estimatePromptTokens(3), 1);
    assert.equal(estimatePromptTokens(401), 100);
  });

  it('charges input plus round(1.5 × input) in-flight tokens, as GIE does', () => {
    assert.equal(estimateInflightTokens(400), 250);
    assert.equal(estimateInflightTokens(4), 3); // 1 + round(1.5)
    assert.equal(estimateInflightTokens(12), 8); // 3 + round(4.5)
  });
});

describe('parser plugins', () => {
  it('openai-parser reads the path from the headers', () => {
    const p = createOpenAIParser('openai-parser');
    assert.ok(isRequestParser(p));
    const b = ok(p.parse(body({ model: 'm', input: 'x' }), new Map([[':path', '/v1/embeddings']])));
    assert.equal(b.kind, 'embeddings');
  });

  it('passthrough-parser does not read the body', () => {
    const p = createPassthroughParser('passthrough-parser');
    assert.equal(p.parsesBody, false);
    const b = ok(p.parse(body('not json at all'), new Map()));
    const { kind, model, prefixText, prefixLength, stream, content, json } = b;
    assert.deepEqual({ kind, model, prefixText, prefixLength, stream, content, json }, { kind: 'unknown', model: '', prefixText: '', prefixLength: 0, stream: false, content: { textChars: 0, mediaBlocks: 0 }, json: {} });
    assert.equal(b.withModel('other').toString(), 'not json at all', 'an opaque body is forwarded as it came');
  });
});
