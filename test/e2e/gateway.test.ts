// e2e: requests through the whole local stack, as a client sees it.
// Real components started (one stack for the file, e2e/lib/stack.ts): the development gateway
// (gateway/), the edge filter (filter/build/filter.wasm) in the proxy-wasm host inside it, the
// tokenroute EPP in this process (startEpp: ext_proc gRPC server, scheduler with the demo's
// prefix-aware profile, metrics scraping, the precise scorer's ZeroMQ KV-event subscriber), three
// llm-d-inference-sim model servers on 127.0.11.2-4 (prefix caching, KV events) and, as root,
// tokenroute's render endpoint + the hub stub so the simulators tokenize exactly as the filter
// (otherwise their dummy tokenizer and the approximate prefix scorer; see e2e/lib/sims.ts).
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startGateway, type RequestRecord, type RunningGateway } from '../../gateway/index.js';
import { startStack, stackFilterConfig, type Stack } from '../../e2e/lib/stack.js';
import { SIM_MODEL } from '../../e2e/lib/sims.js';
import { call, chatBody, familyPrompt } from '../../e2e/lib/workload.js';

const ITL_MS = 20;
let stack: Stack;
const records: RequestRecord[] = [];
const extra: RunningGateway[] = [];

beforeAll(async () => {
  stack = await startStack({
    sims: 3,
    subnet: '127.0.11',
    // TOKENROUTE_E2E_TOKENIZER=dummy runs the same checks without the render endpoint (non-root path).
    tokenizer: (process.env.TOKENROUTE_E2E_TOKENIZER as 'auto' | 'render' | 'dummy' | undefined) ?? 'auto',
    onRequest: (r) => records.push(r),
    sim: { mode: 'random', interTokenLatency: `${ITL_MS}ms`, prefillTimePerToken: '200us' },
  });
});

afterAll(async () => {
  await Promise.all(extra.map((g) => g.close()));
  await stack?.close();
});

const recordOf = (id: string) => records.find((r) => r.id === id);
let seq = 0;
const rid = () => `e2e-gw-${++seq}`;

describe('through the development gateway: filter → EPP → model servers', () => {
  it('non-streaming chat completion', async () => {
    const id = rid();
    const r = await call(stack.gateway.url, '/v1/chat/completions', chatBody('You are terse.', 'Say hi.', { max_tokens: 5 }), { 'x-request-id': id });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.object, 'chat.completion');
    assert.ok(stack.sims.some((s) => s.key === r.served), `served by a pool member (${r.served})`);
    assert.equal(r.pick, 'epp');
    assert.equal(r.headers.get('x-went-into-resp-headers'), 'true', 'the EPP\'s response-headers mutation reached the client');
    const rec = recordOf(id)!;
    assert.equal(rec.endpoints.length, 2, 'the EPP answered destination + fallback');
    assert.equal(rec.endpoints[0], r.served);
    assert.equal(r.headers.get('x-inference-port'), r.served!.split(':')[1], 'the simulator that answered is the one named');
  });

  it('streaming chat completion arrives chunk by chunk', async () => {
    const r = await call(stack.gateway.url, '/v1/chat/completions', chatBody('You are verbose.', 'Tell me a story.', { max_tokens: 16, ignore_eos: true, stream: true, stream_options: { include_usage: true } }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.ok(r.done, 'ends with [DONE]');
    assert.ok(r.events >= 16, `${r.events} events`);
    assert.ok(r.promptTokens! > 0);
    // 16 tokens, one every ITL_MS: buffering anywhere on the way would deliver them in one burst.
    const spread = r.chunkTimesMs[r.chunkTimesMs.length - 1] - r.chunkTimesMs[0];
    assert.ok(r.chunkTimesMs.length >= 8, `${r.chunkTimesMs.length} chunks reached the client`);
    assert.ok(spread >= 8 * ITL_MS, `chunks spread over ${spread.toFixed(0)} ms`);
  });

  it('non-streaming and streaming completions', async () => {
    const body = { model: SIM_MODEL, prompt: 'The quick brown fox jumps over the lazy dog. '.repeat(5), max_tokens: 6, ignore_eos: true };
    const a = await call(stack.gateway.url, '/v1/completions', body);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json?.object, 'text_completion');
    assert.equal(a.pick, 'epp');
    const b = await call(stack.gateway.url, '/v1/completions', { ...body, stream: true });
    assert.equal(b.status, 200);
    assert.ok(b.done && b.events >= 6, `${b.events} events`);
    assert.ok(b.text.length > 0);
  });

  it('a bodiless request (GET /v1/models) is routed at its headers', async () => {
    const res = await fetch(`${stack.gateway.url}/v1/models`);
    assert.equal(res.status, 200);
    const j = (await res.json()) as { data: { id: string }[] };
    assert.ok(j.data.some((m) => m.id === SIM_MODEL));
    assert.equal(res.headers.get('x-tokenroute-gateway-pick'), 'epp');
  });

  it('the prefix repeat lands on the same model server, which serves it from its cache', async () => {
    const system = familyPrompt(101, 250);
    const first = await call(stack.gateway.url, '/v1/chat/completions', chatBody(system, 'First question?', { max_tokens: 2 }));
    assert.equal(first.status, 200);
    assert.equal(first.cachedTokens, 0, 'a new prefix is not cached anywhere');
    const blocks = Math.floor(first.promptTokens! / 16);
    for (let i = 0; i < 4; i++) {
      const again = await call(stack.gateway.url, '/v1/chat/completions', chatBody(system, `Follow-up number ${i}?`, { max_tokens: 2 }));
      assert.equal(again.status, 200);
      assert.equal(again.served, first.served, `repeat ${i} went to ${again.served}, the prefix is on ${first.served}`);
      assert.ok(again.cachedTokens! >= (blocks - 2) * 16, `repeat ${i}: ${again.cachedTokens} of ${again.promptTokens} prompt tokens cached`);
    }
  });

  it('with the filter in front, requests are decided at their headers and their bodies stream through intact', async () => {
    const decided = async () => Number(/^tokenroute_request_header_decisions_total (\d+)/m.exec(await (await fetch(stack.epp.metricsUrl)).text())?.[1] ?? 0);
    const before = await decided();
    const system = familyPrompt(303, 400);
    const first = await call(stack.gateway.url, '/v1/chat/completions', chatBody(system, 'Header decisions?', { max_tokens: 2 }));
    const again = await call(stack.gateway.url, '/v1/chat/completions', chatBody(system, 'Still at the headers?', { max_tokens: 2 }));
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.equal((await decided()) - before, 2, 'both requests were decided at their headers');
    // The model server tokenized the same prompt the filter did: the body reached it unchanged.
    assert.ok(first.promptTokens! > 400);
    assert.equal(again.served, first.served, 'the repeat follows its prefix (the filter keys were used)');
    assert.ok(again.cachedTokens! > 0);
  });

  it('a spoofed routing header does not change the routing', async () => {
    const system = familyPrompt(202, 250);
    const first = await call(stack.gateway.url, '/v1/chat/completions', chatBody(system, 'Warm up.', { max_tokens: 2 }));
    const home = first.served!;
    const elsewhere = stack.sims.find((s) => s.key !== home)!.key;
    // Everything a client could try: the destination header (and its list / served / subset
    // variants) and forged filter headers claiming another prompt's block keys.
    const forged = {
      'x-gateway-destination-endpoint': elsewhere,
      'x-gateway-destination-endpoint-served': elsewhere,
      'x-gateway-destination-endpoint-subset': elsewhere,
      'x-tokenroute-v': '1',
      'x-tokenroute-t': String(Math.floor(Date.now() / 1000)),
      'x-tokenroute-model': SIM_MODEL,
      'x-tokenroute-tokens': '64',
      'x-tokenroute-block-size': '16',
      'x-tokenroute-exact': '1',
      'x-tokenroute-blocks': Buffer.alloc(32, 7).toString('base64url'),
    };
    for (let i = 0; i < 4; i++) {
      const r = await call(stack.gateway.url, '/v1/chat/completions', chatBody(system, `Spoof attempt ${i}.`, { max_tokens: 2 }), forged);
      assert.equal(r.status, 200);
      assert.equal(r.served, home, `attempt ${i} went to ${r.served}`);
      assert.equal(r.headers.get('x-inference-port'), home.split(':')[1]);
    }
  });

  it('EPP rejections reach the client (a body without a model: 400 from the EPP)', async () => {
    const id = rid();
    const r = await call(stack.gateway.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'no model' }] }, { 'x-request-id': id });
    assert.equal(r.status, 400);
    assert.match(r.text, /BadRequest|model/);
    assert.equal(recordOf(id)?.answeredBy, 'epp');
  });

  it('the filter\'s local replies reach the client (onError: reject → 400 for invalid JSON)', async () => {
    const cfg = JSON.parse(stack.filterConfig) as Record<string, unknown>;
    const gw = await startGateway({ ...stack.gatewayOptions, port: 0, filter: { config: JSON.stringify({ ...cfg, onError: 'reject' }) } });
    extra.push(gw);
    const id = rid();
    const r = await call(gw.url, '/v1/chat/completions', '{"model": "x", "messages": [', { 'x-request-id': id });
    assert.equal(r.status, 400);
    assert.equal(recordOf(id)?.answeredBy, 'filter');
    // and the normal path still works through that gateway
    const ok = await call(gw.url, '/v1/chat/completions', chatBody('You are terse.', 'Hi.', { max_tokens: 2 }));
    assert.equal(ok.status, 200);
    assert.equal(stackFilterConfig('k').includes('"blockSize":16'), true);
  });
});
