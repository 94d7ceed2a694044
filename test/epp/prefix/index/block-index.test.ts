// BlockIndex (epp/src/prefix/index/block-index.ts): longest-prefix lookups, per-endpoint LRU bounds,
// removal with backward-shift deletion, tier/speculative/uncertain weights, endpoint removal and
// the global bound — checked against a plain Map model on random operation sequences.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { BlockIndex, FLAG_CPU, FLAG_GPU, FLAG_UNCERTAIN, splitKeys } from '../../../../epp/src/prefix/index/block-index.js';
import { seededRandom } from '../../scheduling/helpers.js';

function keys(...ks: bigint[]): Uint32Array {
  return splitKeys(ks);
}

function match(index: BlockIndex, ks: Uint32Array, names: string[]): number[] {
  const out = new Float64Array(names.length);
  index.longestPrefix(ks, ks.length / 2, names.map((n) => index.idOf(n)), out);
  return Array.from(out);
}

describe('BlockIndex', () => {
  it('counts consecutive blocks from block 0 and stops at the first miss', () => {
    const ix = new BlockIndex();
    const a = ix.endpointId('a');
    const b = ix.endpointId('b');
    const k = keys(1n, 2n, 3n, 4n, 0xffffffff_fffffffen);
    for (let i = 0; i < 5; i++) ix.add(k[2 * i], k[2 * i + 1], a);
    ix.add(k[0], k[1], b);
    ix.add(k[4], k[5], b); // block 2 present, block 1 missing: does not count
    assert.deepEqual(match(ix, k, ['a', 'b', 'c']), [5, 1, 0]);
  });

  it('bounds each endpoint by its LRU capacity, evicting the least recently used', () => {
    const ix = new BlockIndex({ capacityPerEndpoint: 3 });
    const a = ix.endpointId('a');
    const k = keys(10n, 11n, 12n, 13n);
    ix.add(k[0], k[1], a);
    ix.add(k[2], k[3], a);
    ix.add(k[4], k[5], a);
    ix.add(k[0], k[1], a); // touch 10: now 11 is the oldest
    ix.add(k[6], k[7], a);
    assert.equal(ix.countOf('a'), 3);
    assert.equal(ix.has(k[2], k[3], a), false);
    assert.deepEqual(ix.keysOf('a'), [13n, 10n, 12n]);
    ix.setCapacity('a', 1);
    assert.deepEqual(ix.keysOf('a'), [13n]);
  });

  it('weights CPU-only, speculative and uncertain entries', () => {
    const ix = new BlockIndex();
    const a = ix.endpointId('a');
    const k = keys(1n, 2n, 3n);
    ix.add(k[0], k[1], a, FLAG_GPU);
    ix.add(k[2], k[3], a, FLAG_CPU);
    ix.add(k[4], k[5], a, 0, true);
    const w = { gpu: 1, cpu: 0.8, speculative: 0.5, uncertain: 0.25 };
    const out = new Float64Array(1);
    ix.longestPrefix(k, 3, [a], out, w);
    assert.ok(Math.abs(out[0] - (1 + 0.8 + 0.5)) < 1e-9);
    // a confirming store turns the speculative entry into a GPU one
    ix.add(k[4], k[5], a, FLAG_GPU);
    ix.flagEndpoint('a', FLAG_UNCERTAIN);
    ix.longestPrefix(k, 3, [a], out, w);
    assert.ok(Math.abs(out[0] - (1 + 0.8 + 1) * 0.25) < 1e-9);
    // re-stored blocks are certain again; removing the CPU tier of a GPU+CPU block keeps GPU
    ix.add(k[0], k[1], a, FLAG_CPU);
    assert.equal(ix.flagsOf(k[0], k[1], a), FLAG_GPU | FLAG_CPU);
    ix.remove(k[0], k[1], a, FLAG_CPU);
    assert.equal(ix.flagsOf(k[0], k[1], a), FLAG_GPU);
    assert.equal(ix.removeIfSpeculative(k[4], k[5], a), false);
  });

  it('clears and removes endpoints; ids are reused', () => {
    const ix = new BlockIndex();
    const a = ix.endpointId('a');
    const k = keys(5n, 6n);
    ix.add(k[0], k[1], a);
    ix.add(k[2], k[3], a);
    assert.equal(ix.clearEndpoint('a'), 2);
    assert.equal(ix.size(), 0);
    ix.add(k[0], k[1], a);
    assert.equal(ix.removeEndpoint('a'), 1);
    assert.equal(ix.idOf('a'), -1);
    assert.equal(ix.endpointId('z'), a);
    assert.deepEqual(match(ix, k, ['z']), [0]);
  });

  it('supports more than 32 and 64 endpoints (mask words grow)', () => {
    const ix = new BlockIndex();
    const k = keys(77n, 78n);
    const names = Array.from({ length: 100 }, (_, i) => `ep${i}`);
    for (const n of names) ix.endpointId(n);
    ix.add(k[0], k[1], ix.idOf('ep99'));
    ix.add(k[2], k[3], ix.idOf('ep99'));
    ix.add(k[0], k[1], ix.idOf('ep40'));
    const m = match(ix, k, names);
    assert.equal(m[99], 2);
    assert.equal(m[40], 1);
    assert.equal(m.reduce((s, x) => s + x, 0), 3);
  });

  it('agrees with a Map model under random adds, removals, clears and growth', () => {
    const rnd = seededRandom(7);
    const ix = new BlockIndex({ capacityPerEndpoint: 1 << 30, initialPairs: 64 });
    const model = new Map<string, Set<bigint>>();
    const eps = ['a', 'b', 'c', 'd', 'e'];
    for (const e of eps) {
      ix.endpointId(e);
      model.set(e, new Set());
    }
    const universe = Array.from({ length: 400 }, (_, i) => BigInt(i * 7919) * 0x100000001n + BigInt(i));
    for (let step = 0; step < 20000; step++) {
      const e = eps[Math.floor(rnd() * eps.length)];
      const key = universe[Math.floor(rnd() * universe.length)];
      const [lo, hi] = splitKeys([key]);
      const r = rnd();
      if (r < 0.6) {
        ix.add(lo, hi, ix.idOf(e));
        model.get(e)!.add(key);
      } else if (r < 0.98) {
        assert.equal(ix.remove(lo, hi, ix.idOf(e)), model.get(e)!.delete(key));
      } else {
        ix.clearEndpoint(e);
        model.get(e)!.clear();
      }
    }
    let total = 0;
    for (const e of eps) {
      total += model.get(e)!.size;
      assert.equal(ix.countOf(e), model.get(e)!.size);
      for (const key of universe) {
        const [lo, hi] = splitKeys([key]);
        assert.equal(ix.has(lo, hi, ix.idOf(e)), model.get(e)!.has(key));
      }
    }
    assert.equal(ix.size(), total);
  });

  it('keeps the global pair bound by evicting from the largest endpoints', () => {
    const ix = new BlockIndex({ maxPairs: 1000, capacityPerEndpoint: 1 << 20 });
    const a = ix.endpointId('a');
    const b = ix.endpointId('b');
    for (let i = 0; i < 3000; i++) ix.add(i, 1, i % 3 === 0 ? b : a);
    assert.ok(ix.size() <= 1000, `size ${ix.size()}`);
    assert.ok(ix.stats().evictions >= 2000);
    assert.ok(ix.countOf('b') > 0);
  });
});
