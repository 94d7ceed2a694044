// Integration: the real filter (filter/build/filter.wasm) in the Node host, checked against the
// standalone tokenization core (filter/build/tokenroute-core.wasm via filter/core/tokenroute-core.ts) as the
// reference: for each OpenAI request shape the filter must produce exactly the token count and block
// keys the core computes for the prompt vLLM would build (how the filter reads each field after vLLM:
// filter/assembly/request/openai.ts).
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { TokenrouteCore } from '../../../filter/core/tokenroute-core.js';
import type { ProxyWasmHost } from '../../../filter/host/index.js';
import { chat, completion, decoded, filterHost } from './helpers.js';

let host: ProxyWasmHost;
let core: TokenrouteCore;
const QWEN = 'Qwen/Qwen3-8B';
const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';
const DEEPSEEK = 'deepseek-ai/DeepSeek-V3';
const FAMILY: Record<string, string> = { [QWEN]: 'qwen3', [LLAMA]: 'llama3', [DEEPSEEK]: 'deepseek_v3', 'Qwen/Qwen2.5-7B-Instruct': 'qwen2_5' };
const TOKENIZER: Record<string, string> = { [QWEN]: 'qwen3', [LLAMA]: 'llama3_1', [DEEPSEEK]: 'deepseek_v3', 'Qwen/Qwen2.5-7B-Instruct': 'qwen2_5' };
const BLOCK = 4;

beforeAll(async () => {
  host = await filterHost({ blockSize: BLOCK, maxBlocks: 64 });
  core = TokenrouteCore.load();
});

function expectKeys(model: string, ids: ArrayLike<number>, cacheSalt = ''): bigint[] {
  return [...core.blockKeys(ids, { model, blockSize: BLOCK, maxBlocks: 64, cacheSalt })];
}

const longText = 'The quick brown fox jumps over the lazy dog. '.repeat(8);

describe('/v1/chat/completions', () => {
  for (const model of [QWEN, LLAMA, DEEPSEEK, 'Qwen/Qwen2.5-7B-Instruct']) {
    it(`string content, system + user (${model})`, async () => {
      const messages = [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: longText },
      ];
      const v = decoded(await host.runRequest(chat(model, { messages })));
      const ids = core.tokenize(TOKENIZER[model], core.renderChat(FAMILY[model], { messages, add_generation_prompt: true }).text);
      assert.equal(v.tokens, ids.length);
      assert.equal(v.exact, true);
      assert.equal(v.blockSize, BLOCK);
      assert.deepEqual([...v.blockKeys], expectKeys(model, ids));
      assert.equal(v.model, model);
    });
  }

  it('the Qwen3 reference example: 23 tokens with enable_thinking=false', async () => {
    const body = { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi there' }], chat_template_kwargs: { enable_thinking: false } };
    const v = decoded(await host.runRequest(chat(QWEN, body)));
    const ref = [151644, 8948, 198, 2610, 525, 50537, 13, 151645, 198, 151644, 872, 198, 13048, 1052, 151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271];
    assert.equal(v.tokens, ref.length);
    assert.deepEqual([...v.blockKeys], expectKeys(QWEN, ref));
  });

  it('text parts are joined with "\\n" (vLLM string content format)', async () => {
    const parts = [{ role: 'user', content: [{ type: 'text', text: 'first part' }, { type: 'text', text: 'second part' }] }];
    const joined = [{ role: 'user', content: 'first part\nsecond part' }];
    const a = decoded(await host.runRequest(chat(QWEN, { messages: parts })));
    const b = decoded(await host.runRequest(chat(QWEN, { messages: joined })));
    assert.equal(a.tokens, b.tokens);
    assert.deepEqual([...a.blockKeys], [...b.blockKeys]);
    assert.equal(a.exact, true);
  });

  it('image parts make the result approximate (their tokens are unknown)', async () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: longText }, { type: 'image_url', image_url: { url: 'data:,' } }] }];
    assert.equal(decoded(await host.runRequest(chat(QWEN, { messages }))).exact, false);
  });

  it('add_generation_prompt=false, continue_final_message and enable_thinking follow the template', async () => {
    const messages = [
      { role: 'user', content: longText },
      { role: 'assistant', content: 'Partial answer' },
    ];
    for (const opts of [
      { add_generation_prompt: false },
      { add_generation_prompt: false, continue_final_message: true },
      { chat_template_kwargs: { enable_thinking: true } },
    ]) {
      const v = decoded(await host.runRequest(chat(QWEN, { messages, ...opts })));
      const rendered = core.renderChat('qwen3', { messages, add_generation_prompt: true, ...opts });
      const ids = core.tokenize('qwen3', rendered.text);
      assert.equal(v.tokens, ids.length, JSON.stringify(opts));
      assert.deepEqual([...v.blockKeys], expectKeys(QWEN, ids), JSON.stringify(opts));
    }
  });

  it('unknown chat_template_kwargs and custom templates make it approximate; cache_salt changes the keys', async () => {
    const messages = [{ role: 'user', content: longText }];
    assert.equal(decoded(await host.runRequest(chat(QWEN, { messages, chat_template_kwargs: { custom: 1 } }))).exact, false);
    assert.equal(decoded(await host.runRequest(chat(QWEN, { messages, chat_template: '{{x}}' }))).exact, false);
    const salted = decoded(await host.runRequest(chat(QWEN, { messages, cache_salt: 'tenant-a' })));
    const ids = core.tokenize('qwen3', core.renderChat('qwen3', { messages }).text);
    assert.deepEqual([...salted.blockKeys], expectKeys(QWEN, ids, 'tenant-a'));
    assert.notDeepEqual([...salted.blockKeys], expectKeys(QWEN, ids));
  });
});

describe('/v1/completions', () => {
  it('a string prompt gets BOS when the model adds one (add_special_tokens defaults to true)', async () => {
    for (const model of [QWEN, LLAMA, DEEPSEEK]) {
      const v = decoded(await host.runRequest(completion(model, { prompt: longText })));
      const info = core.modelInfo(TOKENIZER[model])!;
      const ids = [...(info.addsBos ? [info.bosId] : []), ...core.tokenize(TOKENIZER[model], longText)];
      assert.equal(v.tokens, ids.length, model);
      assert.deepEqual([...v.blockKeys], expectKeys(model, ids), model);
      assert.equal(v.exact, true);
    }
  });

  it('add_special_tokens=false: no BOS', async () => {
    const v = decoded(await host.runRequest(completion(LLAMA, { prompt: longText, add_special_tokens: false })));
    assert.equal(v.tokens, core.tokenize('llama3_1', longText).length);
  });

  it('an escaped prompt (\\n, \\u00e9, surrogate pair) is tokenized like its decoded text', async () => {
    const text = 'line one\nline "two" \u00e9t\u00e9 \ud83d\ude00 end';
    const v = decoded(await host.runRequest(completion(QWEN, { prompt: text })));
    assert.equal(v.tokens, core.tokenize('qwen3', text).length);
    assert.deepEqual([...v.blockKeys], expectKeys(QWEN, core.tokenize('qwen3', text)));
  });

  it('token-id prompts are used as given; lists use the first prompt and are approximate', async () => {
    const ids = Array.from({ length: 37 }, (_, i) => 1000 + i);
    const one = decoded(await host.runRequest(completion(QWEN, { prompt: ids })));
    assert.equal(one.tokens, 37);
    assert.deepEqual([...one.blockKeys], expectKeys(QWEN, ids));
    assert.equal(one.exact, true);
    const lists = decoded(await host.runRequest(completion(QWEN, { prompt: [ids, [1, 2, 3]] })));
    assert.deepEqual([...lists.blockKeys], expectKeys(QWEN, ids));
    assert.equal(lists.exact, false);
    const strings = decoded(await host.runRequest(completion(QWEN, { prompt: [longText, 'other'] })));
    assert.equal(strings.tokens, core.tokenize('qwen3', longText).length);
    assert.equal(strings.exact, false);
  });

  it('keys stop at maxBlocks; the token count does not', async () => {
    const small = await filterHost({ blockSize: 4, maxBlocks: 3 });
    const v = decoded(await small.runRequest(completion(QWEN, { prompt: longText })));
    assert.equal(v.blockKeys.length, 3);
    assert.equal(v.tokens, core.tokenize('qwen3', longText).length);
  });
});

describe('/v1/responses', () => {
  it('instructions + string input render as system + user', async () => {
    const body = JSON.stringify({ model: QWEN, instructions: 'Be brief.', input: longText });
    const v = decoded(await host.runRequest({ path: '/v1/responses', body }));
    const ids = core.tokenize('qwen3', core.renderChat('qwen3', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: longText }] }).text);
    assert.equal(v.tokens, ids.length);
    assert.deepEqual([...v.blockKeys], expectKeys(QWEN, ids));
  });

  it('message items with input_text parts; non-message items make it approximate', async () => {
    const input = [
      { role: 'user', content: [{ type: 'input_text', text: longText }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] },
    ];
    const v = decoded(await host.runRequest({ path: '/v1/responses', body: JSON.stringify({ model: QWEN, input }) }));
    const ids = core.tokenize('qwen3', core.renderChat('qwen3', { messages: [{ role: 'user', content: longText }, { role: 'assistant', content: 'ok' }] }).text);
    assert.equal(v.tokens, ids.length);
    assert.equal(v.exact, true);
    const withCall = [...input, { type: 'function_call', name: 'f', arguments: '{}' }];
    assert.equal(decoded(await host.runRequest({ path: '/v1/responses', body: JSON.stringify({ model: QWEN, input: withCall }) })).exact, false);
  });
});

describe('paths and methods', () => {
  it('matches the endpoints behind a path prefix and with a query string', async () => {
    const r = await host.runRequest({ ...chat(QWEN, { messages: [{ role: 'user', content: 'hi' }] }), path: '/llm/v1/chat/completions?trace=1' });
    assert.ok(decoded(r).tokens! > 0);
  });

  it('leaves other paths and methods untouched (no buffering, no headers)', async () => {
    for (const req of [
      { method: 'GET', path: '/v1/models' },
      { method: 'POST', path: '/v1/embeddings', body: '{"model":"x","input":"y"}' },
      { method: 'GET', path: '/v1/chat/completions' },
    ]) {
      const r = await host.runRequest(req);
      assert.equal(r.action, 'continue');
      assert.deepEqual(r.addedHeaders, []);
      assert.equal(r.callbacks[0].effective, 'Continue');
    }
  });

  it('never modifies the body', async () => {
    const body = JSON.stringify({ model: QWEN, messages: [{ role: 'user', content: longText }] });
    const r = await host.runRequest({ path: '/v1/chat/completions', body: [body.slice(0, 10), body.slice(10, 50), body.slice(50)] });
    assert.equal(Buffer.from(r.body).toString(), body);
  });
});
