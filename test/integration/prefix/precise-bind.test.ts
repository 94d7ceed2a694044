// Integration: precise-prefix-cache-scorer in bind mode against real model-server simulators.
// Real components started: tokenroute's render endpoint (epp/src/render), two llm-d-inference-sim
// v0.10.2 processes on 127.0.4.1 / 127.0.4.2 (own POD_IP each; prefix caching and KV events over
// ZeroMQ; they tokenize through our render endpoint — see sims.ts for the offline hub check), the
// EPP request path (config loader, director, scheduler, the KV-event subscriber worker binding a
// ZeroMQ SUB socket the simulators dial), the real edge filter (filter.wasm in the Node
// proxy-wasm host) for the bit-identity check, and a real ZeroMQ PUB socket standing in for a
// third pod (127.0.4.3) to produce sequence gaps and malformed frames the simulator never sends.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Publisher } from 'zeromq';
import { startRenderServer, type RenderServer } from '../../../epp/src/render/server.js';
import type { PrecisePrefixCacheScorer } from '../../../epp/src/scheduling/plugins/precise-prefix-cache-scorer.js';
import { splitKeys } from '../../../epp/src/prefix/index/block-index.js';
import { TokenrouteCore } from '../../../filter/core/tokenroute-core.js';
import { CONFIG_HEADER, pipeline, type Pipeline } from '../../epp/prefix/keys/pipeline.js';
import { decoded, filterHost } from '../../filter/filter/helpers.js';
import { eventBatch, seqFrame } from '../../epp/prefix/events/vllm-events.js';
import { SIM_MODEL, complete, freePort, startHubStub, startSim, waitFor, type HubStub, type Sim } from './sims.js';

const core = TokenrouteCore.load();
let render: RenderServer;
let hub: HubStub;
let a: Sim;
let b: Sim;
let epp: Pipeline;
let scorer: PrecisePrefixCacheScorer;
let zmqPort: number;
const FAKE_POD = { address: '127.0.4.3', port: 8000 };

function chat(system: string, question: string) {
  return { model: SIM_MODEL, messages: [{ role: 'system', content: system }, { role: 'user', content: question }] };
}
const systemPrompt = (tag: string) => `You are the ${tag} assistant. Answer briefly and precisely. `.repeat(30);

beforeAll(async () => {
  render = await startRenderServer({ port: 0, host: '127.0.0.1', models: new Map([[SIM_MODEL, { tokenizer: 'qwen3', template: 'qwen3' }]]) });
  hub = await startHubStub('127.0.4.250');
  zmqPort = await freePort();
  const [pa, pb] = [await freePort('127.0.4.1'), await freePort('127.0.4.2')];
  epp = await pipeline(
    CONFIG_HEADER +
      `plugins:
- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: {blockSize: 16}
    kvEventsConfig: {zmqEndpoint: "tcp://127.0.0.1:${zmqPort}"}
    models: {"${SIM_MODEL}": qwen3}
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: precise-prefix-cache-scorer, weight: 2}
  - {pluginRef: queue-scorer, weight: 1}
  - {pluginRef: max-score-picker}
dataLayer: {sources: []}
`,
    [{ address: '127.0.4.1', port: pa }, { address: '127.0.4.2', port: pb }, FAKE_POD],
  );
  scorer = epp.plugin<PrecisePrefixCacheScorer>('precise-prefix-cache-scorer');
  const common = { zmqEndpoint: `tcp://127.0.0.1:${zmqPort}`, renderUrl: `http://127.0.0.1:${render.port}`, hub };
  [a, b] = await Promise.all([startSim({ ip: '127.0.4.1', port: pa, ...common }), startSim({ ip: '127.0.4.2', port: pb, kvCacheSize: 40, ...common })]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await epp?.close();
  await render?.close();
  await hub?.close();
});

describe('precise prefix routing, bind mode, real simulators', () => {
  it('after a request served by sim A, its KV events make the next same-prefix request score A highest', async () => {
    const first = await complete(a, '/v1/chat/completions', chat(systemPrompt('alpha'), 'first question'));
    const blocks = Math.floor(first.promptTokens / 16);
    await waitFor(() => scorer.index.index.countOf(a.key) >= blocks, 5000, 'KV events from A');
    assert.equal(await epp.route('/v1/chat/completions', chat(systemPrompt('alpha'), 'a follow-up question')), a.key);
    // The simulator's own prefix cache agrees: the repeat is served with cached tokens.
    const again = await complete(a, '/v1/chat/completions', chat(systemPrompt('alpha'), 'a follow-up question'));
    assert.ok(again.cachedTokens >= (blocks - 1) * 16, `cached ${again.cachedTokens}`);
  });

  it('the keys the filter computes (via the host) equal the keys the EPP recomputes from the events, bit for bit', async () => {
    const body = chat(systemPrompt('bit-identity'), 'compare keys');
    const before = scorer.index.index.countOf(a.key);
    const served = await complete(a, '/v1/chat/completions', body);
    const host = await filterHost({ models: { [SIM_MODEL]: { tokenizer: 'qwen3' } }, blockSize: 16, maxBlocks: 256 });
    const viaFilter = decoded(await host.runRequest({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    assert.equal(viaFilter.tokens, served.promptTokens, 'the simulator tokenized exactly as the filter (through our render endpoint)');
    await waitFor(() => scorer.index.index.countOf(a.key) >= before + viaFilter.blockKeys.length - 1, 5000, 'events');
    const held = new Set(scorer.index.index.keysOf(a.key));
    for (const k of viaFilter.blockKeys) assert.ok(held.has(k), `filter key ${k.toString(16)} not in the index`);
    const halves = splitKeys(Array.from(viaFilter.blockKeys));
    const id = scorer.index.index.idOf(a.key);
    const out = new Float64Array(1);
    scorer.index.index.longestPrefix(halves, viaFilter.blockKeys.length, [id], out);
    assert.equal(out[0], viaFilter.blockKeys.length);
    // and a second request carrying those signed headers is scored from them (source: filter)
    assert.equal(core.blockKeys(core.tokenize('qwen3', core.renderChat('qwen3', { messages: body.messages }).text), { model: SIM_MODEL, blockSize: 16 }).length, viaFilter.blockKeys.length);
  });

  it('BlockRemoved (evictions) and AllBlocksCleared (/sleep) remove entries', async () => {
    const p1 = chat(systemPrompt('bravo-one'), 'q');
    const r1 = await complete(b, '/v1/chat/completions', p1);
    const n1 = Math.floor(r1.promptTokens / 16);
    await waitFor(() => scorer.index.index.countOf(b.key) >= n1, 5000, 'events from B');
    // B holds 40 blocks: a second distinct prompt evicts part of the first.
    await complete(b, '/v1/chat/completions', chat(systemPrompt('bravo-two-different'), 'q'));
    await waitFor(() => scorer.index.index.countOf(b.key) <= 40 && scorer.index.index.countOf(b.key) > n1, 5000, 'evictions');
    const keys = core.blockKeys(core.tokenize('qwen3', core.renderChat('qwen3', { messages: p1.messages }).text), { model: SIM_MODEL, blockSize: 16 });
    const out = new Float64Array(1);
    scorer.index.index.longestPrefix(splitKeys(Array.from(keys)), keys.length, [scorer.index.index.idOf(b.key)], out);
    assert.ok(out[0] < n1, `first prompt still fully indexed on B (${out[0]} of ${n1})`);
    const r = await fetch(`${b.url}/sleep`, { method: 'POST' });
    assert.equal(r.status, 200);
    await waitFor(() => scorer.index.index.countOf(b.key) === 0, 5000, 'AllBlocksCleared');
    await fetch(`${b.url}/wake_up`, { method: 'POST' });
  });

  it('a restarted simulator (sequence back to 1) has its old entries dropped', async () => {
    const oldKeys = scorer.index.index.countOf(a.key);
    assert.ok(oldKeys > 0);
    const port = a.port;
    await a.stop();
    a = await startSim({ ip: '127.0.4.1', port, zmqEndpoint: `tcp://127.0.0.1:${zmqPort}`, renderUrl: `http://127.0.0.1:${render.port}`, hub });
    const r = await complete(a, '/v1/completions', { model: SIM_MODEL, prompt: 'After the restart only this prompt is cached. '.repeat(10) });
    const n = Math.floor(r.promptTokens / 16);
    await waitFor(() => scorer.index.index.countOf(a.key) === n, 5000, 'restart clear + new events');
  });

  it('a sequence gap marks the pod uncertain; malformed frames are counted, never fatal', async () => {
    const pub = new Publisher({ linger: 0 });
    pub.connect(`tcp://127.0.0.1:${zmqPort}`);
    const topic = `kv@${FAKE_POD.address}@${SIM_MODEL}`;
    const ids = Array.from(core.tokenize('qwen3', 'The fake pod caches this prompt. '.repeat(8)));
    const n = Math.floor(ids.length / 16);
    const stored = eventBatch([{ stored: { hashes: Array.from({ length: n }, (_, i) => BigInt(9000 + i)), tokens: ids.slice(0, n * 16), blockSize: 16 } }]);
    const fakeKey = `${FAKE_POD.address}:${FAKE_POD.port}`;
    // slow joiner: repeat seq 1 until it arrives (duplicates are ignored)
    let busy = false;
    await waitFor(() => {
      if (!busy) {
        busy = true;
        void pub.send([topic, seqFrame(1), stored]).finally(() => (busy = false));
      }
      return scorer.index.index.countOf(fakeKey) === n;
    }, 5000, 'first message from the fake pod');
    const keys = core.blockKeys(ids, { model: SIM_MODEL, blockSize: 16 });
    const score = () => {
      const out = new Float64Array(1);
      scorer.index.index.longestPrefix(splitKeys(Array.from(keys)), n, [scorer.index.index.idOf(fakeKey)], out);
      return out[0];
    };
    assert.equal(score(), n);
    const counters = () => scorer.subscriber!.getStats().counters;
    await pub.send([topic, seqFrame(2)]); // 2 frames
    await pub.send([topic, Buffer.alloc(3), stored]); // bad seq frame
    await pub.send([topic, seqFrame(2), Buffer.from([0xc1, 0x00])]); // undecodable
    await pub.send([topic, seqFrame(3), eventBatch([])]);
    await pub.send([topic, seqFrame(7), eventBatch([])]); // gap: 4..6 missing, no replay configured
    await waitFor(() => Math.abs(score() - n * 0.5) < 1e-9, 5000, 'uncertain weighting');
    await scorer.subscriber!.nextStats();
    const c = counters();
    assert.ok((c.malformed_frame ?? 0) >= 2, JSON.stringify(c));
    assert.ok((c.malformed_payload ?? 0) >= 1, JSON.stringify(c));
    assert.ok((c.gaps ?? 0) >= 1, JSON.stringify(c));
    pub.close();
  });
});
