// The vLLM-compatible render endpoint (epp/src/render/server.ts): token ids equal the core's
// (and so the filter's), the response shapes are vLLM's (array per prompt for completions, an
// object for chat, /tokenize's count/tokens), and bad input maps to 4xx without killing it.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startRenderServer, type RenderServer } from '../../../epp/src/render/server.js';
import { TokenrouteCore } from '../../../filter/core/tokenroute-core.js';

const core = TokenrouteCore.load();
let server: RenderServer;
let base: string;

beforeAll(async () => {
  server = await startRenderServer({
    port: 0,
    host: '127.0.0.1',
    models: new Map([
      ['Qwen/Qwen3-0.6B', { tokenizer: 'qwen3', template: 'qwen3' }],
      ['meta-llama/Llama-3.1-8B-Instruct', { tokenizer: 'llama3_1', template: 'llama3' }],
    ]),
    maxModelLen: 4096,
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(base + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.status, json: await r.json() };
}

describe('render endpoint', () => {
  it('/v1/completions/render returns one {token_ids} per prompt, with BOS where vLLM adds it', async () => {
    const r = await post('/v1/completions/render', { model: 'Qwen/Qwen3-0.6B', prompt: ['Hello world', 'second prompt'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, [{ token_ids: Array.from(core.tokenize('qwen3', 'Hello world')) }, { token_ids: Array.from(core.tokenize('qwen3', 'second prompt')) }]);
    const llama = await post('/v1/completions/render', { model: 'meta-llama/Llama-3.1-8B-Instruct', prompt: 'Hi' });
    assert.deepEqual(llama.json[0].token_ids, [128000, ...core.tokenize('llama3_1', 'Hi')]);
  });

  it('/v1/chat/completions/render renders the template and tokenizes', async () => {
    const messages = [{ role: 'user', content: 'hi there' }];
    const r = await post('/v1/chat/completions/render', { model: 'Qwen/Qwen3-0.6B', messages });
    const text = core.renderChat('qwen3', { messages, add_generation_prompt: true }).text;
    assert.deepEqual(r.json, { token_ids: Array.from(core.tokenize('qwen3', text)) });
  });

  it('/tokenize answers like vLLM', async () => {
    const r = await post('/tokenize', { model: 'Qwen/Qwen3-0.6B', prompt: 'Hello world' });
    assert.deepEqual(r.json, { count: 2, max_model_len: 4096, tokens: Array.from(core.tokenize('qwen3', 'Hello world')), token_strs: null });
  });

  it('maps unknown models to 404 and malformed bodies to 400', async () => {
    assert.equal((await post('/v1/completions/render', { model: 'nope', prompt: 'x' })).status, 404);
    assert.equal((await post('/v1/completions/render', '{not json')).status, 400);
    assert.equal((await post('/v1/chat/completions/render', { model: 'Qwen/Qwen3-0.6B', messages: 'x' })).status, 400);
    assert.equal((await post('/v1/other', {})).status, 404);
    assert.equal((await fetch(base + '/health')).status, 200);
  });
});

describe('tokenroute render flags', () => {
  it('parses repeated --model name=tokenizer[:template]', async () => {
    const { parseModelFlag } = await import('../../../epp/src/render/command.js');
    const m = parseModelFlag('meta-llama/Llama-3.1-8B-Instruct=llama3_1', parseModelFlag('Qwen/Qwen3-0.6B=qwen3:qwen3'));
    assert.deepEqual([...m], [
      ['Qwen/Qwen3-0.6B', { tokenizer: 'qwen3', template: 'qwen3' }],
      ['meta-llama/Llama-3.1-8B-Instruct', { tokenizer: 'llama3_1', template: 'llama3' }],
    ]);
    assert.throws(() => parseModelFlag('model-without-tokenizer'));
    assert.throws(() => parseModelFlag('m=gpt2'));
  });
});
