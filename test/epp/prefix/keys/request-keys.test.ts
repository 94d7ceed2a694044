// EPP-side keys (epp/src/prefix/keys/request-keys.ts via the worker pool and PrefixInputProducer)
// are bit-identical to the edge filter's: the real filter.wasm runs in the Node proxy-wasm host
// on the same bodies, and its signed x-tokenroute-blocks are compared with what the EPP computes
// without them. Also: verified headers are used as-is, unverified ones are not, and without a
// configured model the producer falls back to GIE's character blocks.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { computeRequestKeys, type BodyKind } from '../../../../epp/src/prefix/keys/request-keys.js';
import { PrefixInputProducer, type PrefixInputs } from '../../../../epp/src/prefix/keys/prefix-inputs.js';
import { acquireTokenizerPool, releaseTokenizerPool } from '../../../../epp/src/prefix/keys/tokenizer-pool.js';
import { WasmHasher } from '../../../../epp/src/prefix/keys/wasm-hash.js';
import { TokenrouteCore } from '../../../../filter/core/tokenroute-core.js';
import { HMAC_KEY, MODELS, chat, completion, decoded, filterHost } from '../../../filter/filter/helpers.js';
import { parsedBody, request } from '../../scheduling/helpers.js';

const core = TokenrouteCore.load();
const bindings = new Map(Object.entries(MODELS).map(([name, v]) => [name, { tokenizer: v.tokenizer }]));
const pool = acquireTokenizerPool(1);
afterAll(() => releaseTokenizerPool(pool));

const BODIES: [BodyKind, string, Record<string, unknown>][] = [
  ['chat-completions', 'Qwen/Qwen3-8B', { messages: [{ role: 'system', content: 'You are terse. '.repeat(20) }, { role: 'user', content: 'Summarise the text below.\n' + 'lorem ipsum '.repeat(60) }] }],
  ['chat-completions', 'meta-llama/Llama-3.1-8B-Instruct', { messages: [{ role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'text', text: 'part two '.repeat(40) }] }], chat_template_kwargs: { date_string: '01 Jan 2026' } }],
  ['completions', 'meta-llama/Llama-3.1-8B-Instruct', { prompt: 'Once upon a time '.repeat(50) }],
  ['completions', 'deepseek-ai/DeepSeek-V3', { prompt: '数学是科学的语言。'.repeat(30), cache_salt: 'tenant-a' }],
  ['chat-completions', 'Qwen/Qwen2.5-7B-Instruct', { messages: [{ role: 'user', content: 'héllo wörld '.repeat(80) }], add_generation_prompt: false }],
];

function halves(keys: BigUint64Array): Uint32Array {
  const h = new Uint32Array(keys.length * 2);
  keys.forEach((k, i) => {
    h[2 * i] = Number(k & 0xffffffffn);
    h[2 * i + 1] = Number(k >> 32n);
  });
  return h;
}

describe('EPP-side block keys', () => {
  for (const [kind, model, body] of BODIES) {
    it(`equal the filter's for a ${kind} request to ${model}`, async () => {
      const host = await filterHost({ blockSize: 16, maxBlocks: 256 });
      const viaFilter = decoded(await host.runRequest(kind === 'completions' ? completion(model, body) : chat(model, body)));
      const json = { model, ...body };
      const direct = computeRequestKeys(core, { kind, json, model, binding: bindings.get(model)!, blockSize: 16, maxBlocks: 256 });
      assert.ok(direct.ok);
      assert.ok(viaFilter.blockKeys.length > 3);
      assert.deepEqual(Array.from(direct.keys), Array.from(viaFilter.blockKeys));
      assert.equal(direct.tokens, viaFilter.tokens);
      const r = await pool.run({ kind, json, model, binding: bindings.get(model)!, blockSize: 16, maxBlocks: 256 }, 10_000);
      assert.ok(r.ok);
      assert.deepEqual(Array.from(r.keys), Array.from(viaFilter.blockKeys));
    });
  }
});

describe('PrefixInputProducer', () => {
  const producer = (opts: { models?: boolean; trustUnsigned?: boolean; hmac?: boolean } = {}) =>
    new PrefixInputProducer({
      models: opts.models === false ? new Map() : bindings,
      headers: { hmacKeys: opts.hmac === false ? [] : [HMAC_KEY], trustUnsigned: opts.trustUnsigned ?? false, maxAgeSeconds: 0 },
      tokenizeTimeoutMs: 10_000,
      charFallback: true,
      digestDenseBlocks: 256,
      pool: () => pool,
      hasher: () => WasmHasher.load(),
    });
  const NEED16 = [{ blockSize: 16, maxBlocks: 256 }];

  const body = { messages: [{ role: 'user', content: 'shared prefix '.repeat(100) }] };
  const model = 'Qwen/Qwen3-8B';
  const req = (headers: Map<string, string>) =>
    request({ incomingModel: model, targetModel: model, headers, body: parsedBody({ model, ...body }) });
  const p4 = async (p: PrefixInputProducer, need: { blockSize: number; maxBlocks: number }[]): Promise<PrefixInputs> => (await p.produce(req(new Map()), need)).get(16)!;
  const at16 = async (p: PrefixInputProducer, headers: Map<string, string>): Promise<PrefixInputs> => (await p.produce(req(headers), NEED16)).get(16)!;

  it('uses verified filter headers, else the EPP tokenizer (same keys), and says why', async () => {
    const host = await filterHost({ blockSize: 16 });
    const result = await host.runRequest(chat(model, body));
    const headers = new Map(result.headersAfter);
    const fromFilter = await at16(producer(), headers);
    assert.equal(fromFilter.source, 'filter');
    const viaEpp = await at16(producer(), new Map());
    assert.equal(viaEpp.source, 'epp-tokenizer');
    assert.deepEqual(Array.from(viaEpp.keys), Array.from(fromFilter.keys));
    // a tampered signature is not trusted (another request: a request's headers never change)
    const forged = new Map(headers).set('x-tokenroute-sig', 'AAAAAAAAAAAAAAAAAAAAAA');
    const tampered = await at16(producer(), forged);
    assert.equal(tampered.source, 'epp-tokenizer');
    assert.match(tampered.fallbackReason ?? '', /bad_signature/);
    assert.deepEqual(halves(new BigUint64Array(0)).length, 0);
  });

  it('keys several block sizes from one tokenization, each equal to a tokenization at that size', async () => {
    const p = producer();
    const needs = [
      { blockSize: 16, maxBlocks: 256 },
      { blockSize: 64, maxBlocks: 8 },
      { blockSize: 16, maxBlocks: 4 },
    ];
    const bySize = await p.produce(req(new Map()), needs);
    assert.equal(p.tokenizations, 1, 'one worker job for every block size');
    assert.deepEqual([...bySize.keys()], [16, 64]);
    for (const [blockSize, maxBlocks] of [[16, 256], [64, 8]]) {
      const alone = await pool.run({ kind: 'chat-completions', json: { model, ...body }, model, binding: bindings.get(model)!, blockSize, maxBlocks }, 10_000);
      assert.ok(alone.ok);
      assert.ok(alone.keys.length > 1);
      assert.deepEqual(Array.from(bySize.get(blockSize)!.keys), Array.from(halves(alone.keys)), `block size ${blockSize}`);
      assert.equal(bySize.get(blockSize)!.source, 'epp-tokenizer');
    }
  });

  it('meets a block size the filter did not key with the EPP tokenizer, and the filter\'s size from its headers', async () => {
    const host = await filterHost({ blockSize: 16 });
    const headers = new Map((await host.runRequest(chat(model, body))).headersAfter);
    const p = producer();
    const bySize = await p.produce(req(headers), [
      { blockSize: 16, maxBlocks: 256 },
      { blockSize: 32, maxBlocks: 256 },
    ]);
    assert.equal(bySize.get(16)!.source, 'filter');
    assert.equal(bySize.get(32)!.source, 'epp-tokenizer');
    assert.match(bySize.get(32)!.fallbackReason ?? '', /filter block size 16/);
    assert.equal(p.tokenizations, 1);
  });

  it('tokenizes no further than the blocks asked for, and says the count is estimated', async () => {
    // 'shared prefix ' × 100 is ~200 tokens: 4 blocks of 16 need 64 of them.
    const few = await p4(producer(), [{ blockSize: 16, maxBlocks: 4 }]);
    const all = await p4(producer(), [{ blockSize: 16, maxBlocks: 256 }]);
    assert.equal(few.source, 'epp-tokenizer');
    assert.ok(few.tokensEstimated, 'the count of a prompt cut short is an estimate');
    assert.ok(!all.tokensEstimated);
    assert.equal(few.blocks, 4);
    assert.deepEqual(Array.from(few.keys), Array.from(all.keys.subarray(0, few.keys.length)), 'the same first keys');
    assert.ok(Math.abs(few.promptTokens - all.promptTokens) <= all.promptTokens / 4, `estimate ${few.promptTokens} vs ${all.promptTokens}`);
  });

  it('falls back to character blocks without a configured model, synchronously', () => {
    const p = producer({ models: false, hmac: false });
    const r = p.produce(req(new Map()), NEED16);
    assert.ok(!(r instanceof Promise));
    const at = r.get(16)!;
    assert.equal(at.source, 'char-blocks');
    assert.ok(at.n > 0);
    assert.match(at.fallbackReason ?? '', /has no tokenizer configured/);
    assert.equal(p.tokenizations, 0);
  });
});
