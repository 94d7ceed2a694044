// Request shapes shared by the filter tests and the filter ⇔ EPP parity test
// (test/epp/prefix/keys/request-parity.test.ts): hostile/broken bodies with the filter's error kind.
import type { HostRequest } from '../../../filter/host/index.js';

const QWEN = 'Qwen/Qwen3-8B';

const bytes = (...parts: (string | number[])[]): Uint8Array => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

/** Broken or hostile requests and the error kind the filter reports for each. */
export const BAD_INPUTS: [string, HostRequest, string][] = [
  ['malformed JSON', { path: '/v1/chat/completions', body: '{"model": "Qwen/Qwen3-8B", "messages": [' }, 'bad_json'],
  ['trailing garbage', { path: '/v1/completions', body: '{"model":"Qwen/Qwen3-8B","prompt":"x"} x' }, 'bad_json'],
  ['not JSON at all', { path: '/v1/completions', body: 'model=qwen&prompt=hi' }, 'bad_json'],
  ['an empty body', { path: '/v1/completions', body: [''] }, 'bad_json'],
  ['a POST without a body', { path: '/v1/chat/completions' }, 'bad_json'],
  ['JSON nested 100000 deep', { path: '/v1/chat/completions', body: '['.repeat(100_000) + ']'.repeat(100_000) }, 'bad_json'],
  ['nesting just past the limit inside a valid request', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[],"x":${'['.repeat(64)}${']'.repeat(64)}}` }, 'bad_json'],
  ['invalid UTF-8 in the prompt', { path: '/v1/completions', body: bytes(`{"model":"${QWEN}","prompt":"ab`, [0xc3, 0x28], '"}') }, 'invalid_utf8'],
  ['an overlong UTF-8 encoding', { path: '/v1/completions', body: bytes(`{"model":"${QWEN}","prompt":"`, [0xc0, 0xaf], '"}') }, 'invalid_utf8'],
  ['an encoded surrogate (CESU-8)', { path: '/v1/completions', body: bytes(`{"model":"${QWEN}","prompt":"`, [0xed, 0xa0, 0x80], '"}') }, 'invalid_utf8'],
  ['a lone high surrogate escape', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":"a\\ud800b"}` }, 'invalid_utf8'],
  ['a lone low surrogate escape', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":"\\udc00"}` }, 'invalid_utf8'],
  ['a truncated escape', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":"\\u12"}` }, 'bad_json'],
  ['a raw control character in a string', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":"a\u0001b"}` }, 'bad_json'],
  ['a body that is an array', { path: '/v1/completions', body: '[1,2]' }, 'bad_request'],
  ['model is a number', { path: '/v1/completions', body: '{"model":7,"prompt":"x"}' }, 'bad_request'],
  ['no model', { path: '/v1/completions', body: '{"prompt":"x"}' }, 'bad_request'],
  ['messages is a string', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":"hi"}` }, 'bad_request'],
  ['messages is empty', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[]}` }, 'bad_request'],
  ['content is a number', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[{"role":"user","content":5}]}` }, 'bad_request'],
  ['a text part without text', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[{"role":"user","content":[{"type":"text"}]}]}` }, 'bad_request'],
  ['role missing', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[{"content":"x"}]}` }, 'bad_request'],
  ['add_generation_prompt is a string', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[{"role":"user","content":"x"}],"add_generation_prompt":"yes"}` }, 'bad_request'],
  ['chat_template_kwargs is a list', { path: '/v1/chat/completions', body: `{"model":"${QWEN}","messages":[{"role":"user","content":"x"}],"chat_template_kwargs":[]}` }, 'bad_request'],
  ['prompt is an object', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":{"text":"x"}}` }, 'bad_request'],
  ['a negative token id', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":[1,-2]}` }, 'bad_request'],
  ['a fractional token id', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":[1.5]}` }, 'bad_request'],
  ['a token id above u32', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":[4294967296]}` }, 'bad_request'],
  ['a 40-digit token id', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":[${'9'.repeat(40)}]}` }, 'bad_request'],
  ['mixed prompt list', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":["a",1]}` }, 'bad_request'],
  ['responses input a number', { path: '/v1/responses', body: `{"model":"${QWEN}","input":1}` }, 'bad_request'],
  ['cache_salt a number', { path: '/v1/completions', body: `{"model":"${QWEN}","prompt":"x","cache_salt":1}` }, 'bad_request'],
  ['an unknown model', { path: '/v1/completions', body: '{"model":"gpt-4o","prompt":"x"}' }, 'unknown_model'],
];

