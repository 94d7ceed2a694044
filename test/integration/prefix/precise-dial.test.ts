// Integration: precise-prefix-cache-scorer in dial mode (pod discovery), as with vLLM binding its
// PUB socket (tcp://*:5557) — llm-d-inference-sim v0.10.2 can only dial, so the publishers here are
// real ZeroMQ PUB sockets this test binds on 127.0.5.1 / 127.0.5.2 and publishes real vLLM-format
// EventBatch payloads on (positional and map encodings, int and bytes hashes), plus a real ZeroMQ
// ROUTER answering vLLM's replay protocol. Real components started: two EPP request paths
// (config loader, director, scheduler, subscriber worker dialling each pool endpoint) running
// active-active on the same publishers, and the ZeroMQ peers.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Publisher, Router } from 'zeromq';
import { encode } from '@msgpack/msgpack';
import type { PrecisePrefixCacheScorer } from '../../../epp/src/scheduling/plugins/precise-prefix-cache-scorer.js';
import { FLAG_UNCERTAIN, splitKeys } from '../../../epp/src/prefix/index/block-index.js';
import { TokenrouteCore } from '../../../filter/core/tokenroute-core.js';
import { CONFIG_HEADER, pipeline, type Pipeline } from '../../epp/prefix/keys/pipeline.js';
import { bytesHash, eventBatch, seqFrame } from '../../epp/prefix/events/vllm-events.js';
import { freePort, waitFor } from './sims.js';

const MODEL = 'Qwen/Qwen3-8B';
const core = TokenrouteCore.load();
const PODS = [
  { address: '127.0.5.1', port: 8000 },
  { address: '127.0.5.2', port: 8000 },
];
let socketPort: number;
let replayPort: number;
const pubs: Publisher[] = [];
let router: Router;
const epps: Pipeline[] = [];
const seqs = [0, 0];

function config(): string {
  return (
    CONFIG_HEADER +
    `plugins:
- type: precise-prefix-cache-scorer
  parameters:
    kvEventsConfig:
      discoverPods: true
      podDiscoveryConfig: {socketPort: ${socketPort}}
      replayPort: ${replayPort}
    models: {"${MODEL}": qwen3}
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins: [{pluginRef: precise-prefix-cache-scorer}, {pluginRef: max-score-picker}]
dataLayer: {sources: []}
`
  );
}

function chat(system: string) {
  return { model: MODEL, messages: [{ role: 'system', content: system }, { role: 'user', content: 'hello' }] };
}
function idsOf(body: ReturnType<typeof chat>): number[] {
  return Array.from(core.tokenize('qwen3', core.renderChat('qwen3', { messages: body.messages }).text));
}
const topic = (i: number) => `kv@${PODS[i].address}:${PODS[i].port}@${MODEL}`;

beforeAll(async () => {
  socketPort = await freePort();
  replayPort = await freePort();
  for (const p of PODS) {
    const pub = new Publisher({ linger: 0 });
    await pub.bind(`tcp://${p.address}:${socketPort}`);
    pubs.push(pub);
  }
  router = new Router({ linger: 0 });
  await router.bind(`tcp://${PODS[0].address}:${replayPort}`);
  for (let i = 0; i < 2; i++) epps.push(await pipeline(config(), PODS));
  // Slow joiner: publish a harmless first message until every EPP's subscriber has it.
  for (let i = 0; i < 2; i++) {
    seqs[i] = 1;
    let busy = false;
    await waitFor(() => {
      if (!busy) {
        busy = true;
        void pubs[i].send([topic(i), seqFrame(1), eventBatch([{ cleared: true }])]).finally(() => (busy = false));
      }
      return epps.every((e) => e.plugin<PrecisePrefixCacheScorer>('precise-prefix-cache-scorer').index.counters.cleared > i);
    }, 8000, `subscription to pod ${i}`);
  }
});

afterAll(async () => {
  await Promise.all(epps.map((e) => e.close()));
  for (const p of pubs) p.close();
  router?.close();
});

function publish(i: number, payload: Uint8Array, seq = ++seqs[i]): Promise<void> {
  seqs[i] = seq;
  return pubs[i].send([topic(i), seqFrame(seq), payload]);
}

function scorerOf(e: Pipeline): PrecisePrefixCacheScorer {
  return e.plugin<PrecisePrefixCacheScorer>('precise-prefix-cache-scorer');
}

describe('precise prefix routing, dial mode (pod discovery), two EPP replicas', () => {
  it('every replica dials every pod and routes each prefix to the pod that reported it', async () => {
    const b0 = chat('Pod zero holds this system prompt. '.repeat(20));
    const b1 = chat('Pod one holds a different prompt entirely. '.repeat(20));
    const ids0 = idsOf(b0);
    const ids1 = idsOf(b1);
    const n0 = Math.floor(ids0.length / 16);
    const n1 = Math.floor(ids1.length / 16);
    await publish(0, eventBatch([{ stored: { hashes: Array.from({ length: n0 }, (_, i) => 0xa000_0000_0000_0000n + BigInt(i)), tokens: ids0.slice(0, n0 * 16), blockSize: 16 } }], 'array'));
    await publish(1, eventBatch([{ stored: { hashes: Array.from({ length: n1 }, (_, i) => bytesHash(BigInt(i + 1))), tokens: ids1.slice(0, n1 * 16), blockSize: 16 } }], 'map'));
    for (const e of epps) {
      await waitFor(() => scorerOf(e).index.index.countOf(`${PODS[0].address}:8000`) === n0 && scorerOf(e).index.index.countOf(`${PODS[1].address}:8000`) === n1, 5000, 'events on both replicas');
      assert.equal(await e.route('/v1/chat/completions', b0), '127.0.5.1:8000');
      assert.equal(await e.route('/v1/chat/completions', b1), '127.0.5.2:8000');
    }
  });

  it('fills a sequence gap through the replay ROUTER instead of marking the pod uncertain', async () => {
    const bodies = [2, 3, 4].map((k) => chat(`Replay test prompt number ${k}. `.repeat(12)));
    const payloads = bodies.map((b, j) => {
      const ids = idsOf(b);
      const n = Math.floor(ids.length / 16);
      return { n, ids, payload: eventBatch([{ stored: { hashes: Array.from({ length: n }, (_, i) => BigInt(0xb000 + j * 1000 + i)), tokens: ids.slice(0, n * 16), blockSize: 16 } }]) };
    });
    const base = seqs[0];
    // The replay server answers [identity, empty, seq, payload] ... and ends with seq = -1, empty payload.
    const served = (async () => {
      for (let k = 0; k < epps.length; k++) {
        const [identity, , start] = await router.receive();
        const from = start.readBigUInt64BE();
        for (let s = from; s <= BigInt(base + 2); s++) await router.send([identity, Buffer.alloc(0), seqFrame(s), payloads[Number(s) - base - 1].payload]);
        await router.send([identity, Buffer.alloc(0), Buffer.from('ffffffffffffffff', 'hex'), Buffer.alloc(0)]);
      }
    })();
    await publish(0, payloads[2].payload, base + 3); // base+1 and base+2 were "lost"
    await served;
    for (const e of epps) {
      const ix = scorerOf(e).index.index;
      await waitFor(() => ix.countOf('127.0.5.1:8000') >= payloads.reduce((s, p) => s + p.n, 0), 5000, 'replayed events');
      const keys = core.blockKeys(payloads[0].ids, { model: MODEL, blockSize: 16 });
      const h = splitKeys(Array.from(keys));
      assert.equal(ix.flagsOf(h[0], h[1], ix.idOf('127.0.5.1:8000')) & FLAG_UNCERTAIN, 0);
      await scorerOf(e).subscriber!.nextStats();
      assert.equal(scorerOf(e).subscriber!.getStats().counters.replayed_messages, 2);
    }
  });

  it('survives a flood and garbage from a publisher with bounded memory', async () => {
    const e = epps[0];
    const s = scorerOf(e);
    const before = s.index.index.size();
    const garbage = [Buffer.from('garbage'), Buffer.alloc(0), Buffer.alloc(100, 0xff)];
    for (let k = 0; k < 3000; k++) {
      const r = k % 3;
      if (r === 0) await pubs[1].send([topic(1), seqFrame(++seqs[1]), garbage[k % garbage.length]]);
      else if (r === 1) await pubs[1].send([topic(1), seqFrame(++seqs[1]), encode([0, [['SomethingNew', 1]], 0])]);
      else await publish(1, eventBatch([{ stored: { hashes: [BigInt(k)], parent: BigInt(k + 1e9), tokens: Array.from({ length: 16 }, () => k), blockSize: 16 } }]));
    }
    await waitFor(() => (s.subscriber!.getStats().counters.messages ?? 0) > 1000, 8000, 'flood received');
    const stats = await s.subscriber!.nextStats();
    assert.ok(stats.pendingOpWords < 1 << 22);
    assert.ok((stats.counters.malformed_payload ?? 0) + (stats.counters.unknown_tag ?? 0) + (stats.counters.malformed_event ?? 0) > 0, JSON.stringify(stats.counters));
    assert.ok((stats.counters.orphaned ?? 0) > 0, 'stores whose parent is unknown are counted, not indexed');
    assert.equal(s.index.index.size(), before);
    // still alive: a valid event is applied afterwards
    const ids = idsOf(chat('After the flood. '.repeat(10)));
    await publish(1, eventBatch([{ stored: { hashes: [1n], tokens: ids.slice(0, 16), blockSize: 16 } }]));
    await waitFor(() => s.index.index.size() === before + 1, 5000, 'post-flood event');
  });
});
