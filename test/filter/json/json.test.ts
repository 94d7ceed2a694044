// The filter's one JSON room (filter/assembly/json/), through the standalone core's exports: the
// strict reader as request bodies and plugin configurations meet it (requestKeys), the same reader
// with Python json.loads' surrogate leniency for renderChat, and the one writer (jsonString,
// dumpValue) as the templates and the core's results use it.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { loadCore } from '../tokenizer/support.js';

const QWEN = 'Qwen/Qwen3-8B';
const CONFIG = { models: { [QWEN]: { tokenizer: 'qwen3' } } };

function failure(body: string | Uint8Array, path = '/v1/completions', config: object | string = CONFIG): { error: string; detail: string } {
  const r = loadCore().requestKeys(path, body, config as never);
  assert.equal(r.ok, false, 'expected a failure');
  return r as { ok: false; error: string; detail: string };
}

function nested(depth: number, inner: string): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth);
}

describe('JSON reader (request bodies: strict, as vLLM / pydantic read them)', () => {
  it('accepts 64 nested containers and rejects the 65th, naming the limit and the byte', () => {
    const ok = loadCore().requestKeys('/v1/completions', `{"model":"${QWEN}","prompt":"x","extra":${nested(63, '1')}}`, CONFIG);
    assert.equal(ok.ok, true);
    const body = `{"model":"${QWEN}","prompt":"x","extra":${nested(64, '1')}}`;
    const r = failure(body);
    assert.equal(r.error, 'bad_json');
    assert.equal(r.detail, `JSON nested deeper than 64 at byte ${body.indexOf('[') + 63}`);
  });

  it('rejects lone surrogate escapes and ill-formed UTF-8 with invalid_utf8 and the byte offset', () => {
    const lone = `{"model":"${QWEN}","prompt":"ab\\ud800"}`;
    assert.deepEqual(failure(lone), { ok: false, error: 'invalid_utf8', detail: `invalid UTF-8 at byte ${lone.indexOf('\\ud800')}` });
    const low = `{"model":"${QWEN}","prompt":"\\udc00\\ud800"}`;
    assert.equal(failure(low).detail, `invalid UTF-8 at byte ${low.indexOf('\\udc00')}`);
    const prefix = Buffer.from(`{"model":"${QWEN}","prompt":"`);
    const overlong = Buffer.concat([prefix, Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    assert.deepEqual(failure(overlong), { ok: false, error: 'invalid_utf8', detail: `invalid UTF-8 at byte ${prefix.length}` });
    // A paired escape is one code point.
    assert.equal(loadCore().requestKeys('/v1/completions', `{"model":"${QWEN}","prompt":"\\ud83d\\ude00"}`, CONFIG).ok, true);
  });

  it('reports syntax errors and empty bodies as bad_json', () => {
    const body = `{"model":"${QWEN}","prompt":01}`;
    assert.deepEqual(failure(body), { ok: false, error: 'bad_json', detail: `malformed JSON at byte ${body.indexOf('01') + 1}` });
    assert.deepEqual(failure('  '), { ok: false, error: 'bad_json', detail: 'empty body' });
    assert.equal(failure(`{"model":"${QWEN}","prompt":"x"} x`).detail, `malformed JSON at byte ${`{"model":"${QWEN}","prompt":"x"} `.length}`);
  });

  it('keeps the last of duplicate keys and reports wrong types by field', () => {
    assert.deepEqual(failure(`{"model":"${QWEN}","prompt":"x","model":7}`), { ok: false, error: 'bad_request', detail: '"model" is not a string' });
    assert.equal(loadCore().requestKeys('/v1/completions', `{"model":7,"prompt":"x","model":"${QWEN}"}`, CONFIG).ok, true);
  });

  it('reads the plugin configuration with the same reader', () => {
    assert.deepEqual(failure(`{"model":"${QWEN}","prompt":"x"}`, '/v1/completions', '{"models":'), {
      ok: false,
      error: 'bad_config',
      detail: 'configuration: not valid JSON (byte 10)',
    });
  });
});

describe('JSON reader (renderChat requests: Python json.loads leniency for lone surrogates)', () => {
  it('passes a lone surrogate escape through as a code unit', () => {
    const r = loadCore().renderChat('qwen3', { messages: [{ role: 'user', content: 'a\ud800b' }] });
    assert.equal(r.text, '<|im_start|>user\na\ud800b<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('JSON writer (Python json.dumps(ensure_ascii=False) escaping)', () => {
  it('escapes tool results for the Llama 3 template as tojson does', () => {
    const content = 'q"b\\s\n\r\t\b\f\u0001\u001f é 😀';
    const r = loadCore().renderChat('llama3', { messages: [{ role: 'user', content: 'x' }, { role: 'tool', content }], add_generation_prompt: false });
    assert.ok(r.text.includes('<|start_header_id|>ipython<|end_header_id|>\n\n"q\\"b\\\\s\\n\\r\\t\\b\\f\\u0001\\u001f é 😀"<|eot_id|>'), r.text);
  });

  it('re-serialises tool definitions with json.dumps separators', () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { a: 1.5, b: [1, -0, 2e3], c: null, d: true, 'k"': 'v\n' } } }];
    const r = loadCore().renderChat('qwen3', { messages: [{ role: 'user', content: 'x' }], tools });
    assert.equal(r.exact, false);
    assert.ok(
      r.text.includes('\n{"type": "function", "function": {"name": "f", "parameters": {"a": 1.5, "b": [1, 0, 2000], "c": null, "d": true, "k\\"": "v\\n"}}}\n</tools>'),
      r.text,
    );
  });

  it('writes the core\'s JSON results through the same escaper', () => {
    const info = loadCore().modelInfo('qwen3');
    assert.equal(info?.name, 'qwen3');
  });
});
