// Ingestion (epp/src/prefix/events/ingest.ts + precise-index.ts): events re-keyed into tokenroute's
// chain (equal to the filter's keys for the same tokens), chaining across events through the
// engine-key map, removals, clears, 1:m block sizes, orphans, sequence verdicts, and the op
// stream applied to a PreciseIndex with speculative entries.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Ingestor, OpWriter, SeqTracker, applyOps } from '../../../../epp/src/prefix/events/ingest.js';
import { PreciseIndex } from '../../../../epp/src/prefix/index/precise-index.js';
import { WasmHasher } from '../../../../epp/src/prefix/keys/wasm-hash.js';
import { TokenrouteCore } from '../../../../filter/core/tokenroute-core.js';
import { candidates } from '../../scheduling/helpers.js';
import { eventBatch } from './vllm-events.js';

const hasher = WasmHasher.load();
const core = TokenrouteCore.load();
const MODEL = 'Qwen/Qwen3-0.6B';

function setup(blockSize = 4, engineBlockSize = blockSize) {
  const ing = new Ingestor({ blockSize, engineBlockSize, hasher, engineMapCapacity: 1024 });
  let now = 1000;
  const index = new PreciseIndex({ speculativeTtlMs: 100, now: () => now });
  const feed = (pod: string, payload: Uint8Array) => {
    const w = new OpWriter();
    ing.ingest(pod, MODEL, payload, w);
    const batch = w.take();
    if (batch) applyOps(batch, index);
  };
  return { ing, index, feed, tick: (ms: number) => (now += ms) };
}

function halvesOf(keys: BigUint64Array): Uint32Array {
  const h = new Uint32Array(keys.length * 2);
  keys.forEach((k, i) => {
    h[2 * i] = Number(k & 0xffffffffn);
    h[2 * i + 1] = Number(k >> 32n);
  });
  return h;
}

const tokens = Array.from({ length: 24 }, (_, i) => 1000 + i);

describe('Ingestor → PreciseIndex', () => {
  it('re-keys BlockStored blocks to the filter chain, continuing from a parent in a later event', () => {
    const { index, feed } = setup();
    feed('a', eventBatch([{ stored: { hashes: [11n, 12n], tokens: tokens.slice(0, 8), blockSize: 4 } }]));
    feed('a', eventBatch([{ stored: { hashes: [13n, 14n, 15n, 16n], parent: 12n, tokens: tokens.slice(8), blockSize: 4 } }]));
    const want = core.blockKeys(tokens, { model: MODEL, blockSize: 4 });
    const [a, b] = candidates([{ key: 'a' }, { key: 'b' }]);
    const out = new Float64Array(2);
    index.match(halvesOf(want), want.length, [a, b], out);
    assert.deepEqual(Array.from(out), [6, 0]);
    assert.deepEqual(index.index.keysOf('a').sort(), Array.from(want).sort());
  });

  it('removes through the engine map, clears on AllBlocksCleared, and maps 1:m block sizes', () => {
    const { index, feed } = setup(4, 8);
    feed('a', eventBatch([{ stored: { hashes: [21n, 22n, 23n], tokens, blockSize: 8 } }]));
    const want = core.blockKeys(tokens, { model: MODEL, blockSize: 4 });
    assert.equal(index.index.countOf('a'), 6);
    feed('a', eventBatch([{ removed: [23n] }]));
    assert.equal(index.index.countOf('a'), 4);
    const [a] = candidates([{ key: 'a' }]);
    const out = new Float64Array(1);
    index.match(halvesOf(want), want.length, [a], out);
    assert.equal(out[0], 4);
    feed('a', eventBatch([{ cleared: true }]));
    assert.equal(index.index.countOf('a'), 0);
  });

  it('counts orphans, unknown removals and block-size mismatches', () => {
    const { ing, index, feed } = setup(4);
    feed('a', eventBatch([{ stored: { hashes: [31n], parent: 999n, tokens: tokens.slice(0, 4), blockSize: 4 } }]));
    feed('a', eventBatch([{ removed: [888n] }]));
    feed('a', eventBatch([{ stored: { hashes: [32n], tokens: tokens.slice(0, 6), blockSize: 6 } }]));
    feed('a', eventBatch([{ stored: { hashes: [33n], tokens: tokens.slice(0, 5), blockSize: 4 } }]));
    assert.equal(ing.counters.get('orphaned'), 1);
    assert.equal(ing.counters.get('unknown_removals'), 1);
    assert.equal(ing.counters.get('block_size_mismatch'), 1);
    assert.equal(ing.counters.get('token_count_mismatch'), 1);
    assert.equal(index.index.size(), 0);
  });

  it('adds a CPU tier for token-less BlockStored (offload) and weights it', () => {
    const { index, feed } = setup(4);
    feed('a', eventBatch([{ stored: { hashes: [41n], tokens: tokens.slice(0, 4), blockSize: 4 } }]));
    feed('a', eventBatch([{ removed: [41n], medium: 'GPU' }, { stored: { hashes: [41n], tokens: [], blockSize: 4, medium: 'CPU' } }]));
    const want = core.blockKeys(tokens.slice(0, 4), { model: MODEL, blockSize: 4 });
    const out = new Float64Array(1);
    index.match(halvesOf(want), 1, candidates([{ key: 'a' }]), out);
    // removed from GPU first; the mapping survives, so the offload event re-adds it as CPU
    assert.ok(Math.abs(out[0] - 0.8) < 1e-9, String(out[0]));
  });

  it('keeps speculative entries until confirmed or expired', () => {
    const { index, feed, tick } = setup(4);
    const want = core.blockKeys(tokens.slice(0, 8), { model: MODEL, blockSize: 4 });
    const h = halvesOf(want);
    index.addSpeculative('b', h, 2);
    const out = new Float64Array(1);
    index.match(h, 2, candidates([{ key: 'b' }]), out);
    assert.equal(out[0], 2);
    feed('b', eventBatch([{ stored: { hashes: [51n], tokens: tokens.slice(0, 4), blockSize: 4 } }]));
    tick(150);
    index.match(h, 2, candidates([{ key: 'b' }]), out);
    assert.equal(out[0], 1, 'the confirmed block stays, the unconfirmed one expired');
    assert.equal(index.counters.speculativeExpired, 1);
  });
});

describe('SeqTracker', () => {
  it('tells next, gap, duplicate and restart apart per source', () => {
    const t = new SeqTracker();
    assert.equal(t.check('a', 5n).verdict, 'first');
    assert.equal(t.check('a', 6n).verdict, 'next');
    const g = t.check('a', 9n);
    assert.equal(g.verdict, 'gap');
    assert.equal(g.missed, 2n);
    assert.equal(t.check('a', 9n).verdict, 'duplicate');
    assert.equal(t.check('a', 1n).verdict, 'restart');
    assert.equal(t.check('b', 1n).verdict, 'first');
  });
});
