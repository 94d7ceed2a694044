// Filter ⇔ EPP parity: every request shape of the filter's API tests (test/filter/filter/api-shapes.test.ts,
// plus tools and tool calls) and every broken input of test/filter/filter/bad-input.test.ts goes through
//  1. the real filter (filter/build/filter.wasm in the Node proxy-wasm host): its signed x-tokenroute-* headers;
//  2. TokenrouteCore.requestKeys (filter/build/tokenroute-core.wasm): the same AssemblyScript pipeline;
//  3. the EPP's path (computeRequestKeys, as the tokenizer workers run it) when the body is a JSON object;
// and all must agree on token count, exact flag, block keys — or on the error kind.
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { computeRequestKeys, type BodyKind } from '../../../../epp/src/prefix/keys/request-keys.js';
import { TokenrouteCore, type RequestKeysResult } from '../../../../filter/core/tokenroute-core.js';
import type { HostRequest, ProxyWasmHost } from '../../../../filter/host/index.js';
import { MODELS, decoded, filterHost } from '../../../filter/filter/helpers.js';
import { BAD_INPUTS } from '../../../filter/filter/request-shapes.js';

const QWEN = 'Qwen/Qwen3-8B';
const QWEN25 = 'Qwen/Qwen2.5-7B-Instruct';
const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';
const DEEPSEEK = 'deepseek-ai/DeepSeek-V3';
const ALL = [QWEN, QWEN25, LLAMA, DEEPSEEK];
const BLOCK = 4;
const MAX_BLOCKS = 64;
const longText = 'The quick brown fox jumps over the lazy dog. '.repeat(8);

const chat = (model: string, body: Record<string, unknown>, path = '/v1/chat/completions'): HostRequest => ({ path, body: JSON.stringify({ model, ...body }) });
const completion = (model: string, body: Record<string, unknown>): HostRequest => ({ path: '/v1/completions', body: JSON.stringify({ model, ...body }) });
const responses = (model: string, body: Record<string, unknown>): HostRequest => ({ path: '/v1/responses', body: JSON.stringify({ model, ...body }) });

const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
const toolCall = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
const ids37 = Array.from({ length: 37 }, (_, i) => 1000 + i);
const turns = [
  { role: 'user', content: longText },
  { role: 'assistant', content: 'Partial answer' },
];

const SHAPES: [string, HostRequest][] = [
  ...ALL.map((m): [string, HostRequest] => [`chat system + user (${m})`, chat(m, { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: longText }] })]),
  ['chat Qwen3 reference, enable_thinking=false', chat(QWEN, { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi there' }], chat_template_kwargs: { enable_thinking: false } })],
  ['chat text parts', chat(QWEN, { messages: [{ role: 'user', content: [{ type: 'text', text: 'first part' }, { type: 'text', text: 'second part' }] }] })],
  ['chat image part (approximate)', chat(QWEN, { messages: [{ role: 'user', content: [{ type: 'text', text: longText }, { type: 'image_url', image_url: { url: 'data:,' } }] }] })],
  ['chat add_generation_prompt=false', chat(QWEN, { messages: turns, add_generation_prompt: false })],
  ['chat continue_final_message', chat(QWEN, { messages: turns, add_generation_prompt: false, continue_final_message: true })],
  ['chat enable_thinking=true', chat(QWEN, { messages: turns, chat_template_kwargs: { enable_thinking: true } })],
  ['chat unknown kwarg (approximate)', chat(QWEN, { messages: turns, chat_template_kwargs: { custom: 1 } })],
  ['chat custom template (approximate)', chat(QWEN, { messages: turns, chat_template: '{{x}}' })],
  ['chat documents (approximate)', chat(QWEN, { messages: turns, documents: [{ text: 'doc' }] })],
  ['chat add_special_tokens=true (approximate)', chat(LLAMA, { messages: turns, add_special_tokens: true })],
  ['chat cache_salt', chat(QWEN, { messages: turns, cache_salt: 'tenant-a' })],
  ['chat date_string', chat(LLAMA, { messages: turns, chat_template_kwargs: { date_string: '01 Jan 2026' } })],
  ['chat reasoning_content', chat(QWEN, { messages: [...turns, { role: 'assistant', content: 'done', reasoning_content: 'thinking...' }] })],
  ['chat null content', chat(QWEN, { messages: [{ role: 'user', content: longText }, { role: 'assistant', content: null }] })],
  ...ALL.map((m): [string, HostRequest] => [`chat with tools (${m})`, chat(m, { messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather] })]),
  ...ALL.map((m): [string, HostRequest] => [
    `chat with a tool call and its result (${m})`,
    chat(m, { messages: [{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: null, tool_calls: [toolCall] }, { role: 'tool', tool_call_id: 'call_1', content: '18°C' }], tools: [weather] }),
  ]),
  ['chat tools as an object (approximate)', chat(QWEN, { messages: turns, tools: { a: weather } })],
  ['chat behind a prefix with a query', chat(QWEN, { messages: [{ role: 'user', content: 'hi' }] }, '/llm/v1/chat/completions?trace=1')],
  ['chat split in chunks', { path: '/v1/chat/completions', body: ((b) => [b.slice(0, 10), b.slice(10, 50), b.slice(50)])(JSON.stringify({ model: QWEN, messages: [{ role: 'user', content: longText }] })) }],
  ...[QWEN, LLAMA, DEEPSEEK].map((m): [string, HostRequest] => [`completion string prompt + BOS (${m})`, completion(m, { prompt: longText })]),
  ['completion add_special_tokens=false', completion(LLAMA, { prompt: longText, add_special_tokens: false })],
  ['completion escaped prompt', completion(QWEN, { prompt: 'line one\nline "two" \u00e9t\u00e9 \ud83d\ude00 end' })],
  ['completion token ids', completion(QWEN, { prompt: ids37 })],
  ['completion token-id lists (approximate)', completion(QWEN, { prompt: [ids37, [1, 2, 3]] })],
  ['completion string list (approximate)', completion(QWEN, { prompt: [longText, 'other'] })],
  ['completion cache_salt', completion(DEEPSEEK, { prompt: '数学是科学的语言。'.repeat(30), cache_salt: 'tenant-a' })],
  ['completion prompt_embeds', completion(QWEN, { prompt_embeds: 'AAAA' })],
  ['completion long prompt past maxBlocks', completion(QWEN, { prompt: longText.repeat(4) })],
  ['responses instructions + string input', responses(QWEN, { instructions: 'Be brief.', input: longText })],
  ['responses message items', responses(QWEN, { input: [{ role: 'user', content: [{ type: 'input_text', text: longText }] }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] }] })],
  ['responses function_call item (approximate)', responses(QWEN, { input: [{ role: 'user', content: longText }, { type: 'function_call', name: 'f', arguments: '{}' }] })],
  ['responses previous_response_id (approximate)', responses(QWEN, { input: longText, previous_response_id: 'resp_1' })],
  ['responses with tools', responses(LLAMA, { input: 'Weather in Paris?', tools: [weather] })],
  ['responses with no messages', responses(QWEN, { input: [{ type: 'function_call', name: 'f', arguments: '{}' }] })],
];

const CONFIG = { models: MODELS };
let host: ProxyWasmHost;
let core: TokenrouteCore;

beforeAll(async () => {
  host = await filterHost({ blockSize: BLOCK, maxBlocks: MAX_BLOCKS });
  core = TokenrouteCore.load();
});

function bodyBytes(req: HostRequest): Uint8Array {
  const b = req.body;
  if (b === undefined) return new Uint8Array(0);
  const parts = typeof b === 'string' || b instanceof Uint8Array ? [b] : b;
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
}

function kindOf(path: string): BodyKind {
  const p = path.split('?')[0];
  if (p.endsWith('/v1/chat/completions')) return 'chat-completions';
  if (p.endsWith('/v1/completions')) return 'completions';
  return 'responses';
}

type Outcome = { error: string } | { tokens: number; exact: boolean; keys: bigint[] };

function outcome(r: RequestKeysResult | { ok: true; tokens: number; exact: boolean; keys: BigUint64Array } | { ok: false; error?: string; reason: string }): Outcome {
  if (!r.ok) return { error: r.error ?? `no error kind (${'reason' in r ? r.reason : ''})` };
  return { tokens: r.tokens, exact: r.exact, keys: [...r.keys] };
}

async function viaFilter(h: ProxyWasmHost, req: HostRequest): Promise<Outcome> {
  const v = decoded(await h.runRequest(req));
  if (v.error !== undefined) return { error: v.error };
  return { tokens: v.tokens!, exact: v.exact!, keys: [...v.blockKeys] };
}

/** Checks filter ⇔ core ⇔ EPP for one request; returns the filter's outcome. */
async function check(req: HostRequest, h = host, config: { models: typeof MODELS; maxBodyBytes?: number } = CONFIG, withEpp = true): Promise<Outcome> {
  const filter = await viaFilter(h, req);
  const body = bodyBytes(req);
  const direct = outcome(core.requestKeys(req.path!, body, config, { blockSize: BLOCK, maxBlocks: MAX_BLOCKS }));
  assert.deepEqual(direct, filter, 'core.requestKeys ≠ filter');

  // The EPP's tokenizer-worker path, given what the EPP has: the parsed body (and its model).
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return filter;
  }
  if (!withEpp || json === null || typeof json !== 'object' || Array.isArray(json)) return filter;
  const model = (json as { model?: unknown }).model;
  const binding = typeof model === 'string' ? (MODELS as Record<string, { tokenizer: string }>)[model] : undefined;
  if (typeof model !== 'string' || !binding) return filter;
  const epp = computeRequestKeys(core, { kind: kindOf(req.path!), json: json as Record<string, unknown>, body, model, binding, blockSize: BLOCK, maxBlocks: MAX_BLOCKS });
  assert.deepEqual(outcome(epp), filter, 'EPP (raw body) ≠ filter');
  // Without the raw bytes the EPP re-serializes its parsed body: same result unless JSON.parse already
  // replaced ill-formed UTF-8 by U+FFFD (the filter's invalid_utf8).
  if (!Buffer.from(Buffer.from(body).toString('utf8'), 'utf8').equals(Buffer.from(body))) return filter;
  const reserialized = computeRequestKeys(core, { kind: kindOf(req.path!), json: json as Record<string, unknown>, model, binding, blockSize: BLOCK, maxBlocks: MAX_BLOCKS });
  assert.deepEqual(outcome(reserialized), filter, 'EPP (re-serialized body) ≠ filter');
  return filter;
}

describe('filter ⇔ core ⇔ EPP: API shapes', () => {
  for (const [name, req] of SHAPES) {
    it(name, async () => {
      await check(req);
    });
  }

  it('tools and tool calls: keyed, with the filter\'s exact flag; approximate cases stay approximate', async () => {
    const approx = await check(chat(QWEN, { messages: turns, tools: { a: weather } }));
    assert.ok(!('error' in approx) && approx.exact === false);
    const image = await check(SHAPES.find(([n]) => n.startsWith('chat image part'))![1]);
    assert.ok(!('error' in image) && image.exact === false);
    const tools = await check(chat(LLAMA, { messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather] }));
    assert.ok(!('error' in tools) && tools.keys.length > 0);
  });
});

describe('filter ⇔ core ⇔ EPP: broken inputs (same error kinds)', () => {
  for (const [name, req, kind] of BAD_INPUTS) {
    it(`${name} → ${kind}`, async () => {
      assert.deepEqual(await check(req), { error: kind });
    });
  }

  it('a body over maxBodyBytes → too_large', async () => {
    const small = await filterHost({ blockSize: BLOCK, maxBlocks: MAX_BLOCKS, maxBodyBytes: 1000 });
    const out = await check(completion(QWEN, { prompt: 'x'.repeat(2000) }), small, { models: MODELS, maxBodyBytes: 1000 }, false); // the EPP applies its own body limit
    assert.deepEqual(out, { error: 'too_large' });
  });
});

describe('TokenrouteCore.requestKeys', () => {
  it('returns the token ids on request, and reports a bad configuration', () => {
    const r = core.requestKeys('/v1/completions', JSON.stringify({ model: QWEN, prompt: longText }), CONFIG, { blockSize: 16, maxBlocks: 0, wantIds: true });
    assert.ok(r.ok);
    assert.deepEqual([...r.ids!], [...core.tokenize('qwen3', longText)]);
    assert.equal(r.keys.length, 0);
    const bad = core.requestKeys('/v1/completions', '{}', { models: { x: { tokenizer: 'nope' } } });
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.error, 'bad_config');
  });
});
