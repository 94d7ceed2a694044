// WasmHasher (epp/src/prefix/keys/wasm-hash.ts): the key chain computed with the core wasm's xxh64
// equals TokenrouteCore.blockKeys and the TypeScript reference (test/fixtures/blocks-ref.ts), also
// when continued from a parent key; GIE's character-block keys follow their definition.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { WasmHasher } from '../../../../epp/src/prefix/keys/wasm-hash.js';
import { TokenrouteCore } from '../../../../filter/core/tokenroute-core.js';
import { blockKeys as refKeys, blockSeed as refSeed, xxh64 as refXxh64 } from '../../../fixtures/blocks-ref.js';
import { seededRandom } from '../../scheduling/helpers.js';

const hasher = WasmHasher.load();
const core = TokenrouteCore.load();

describe('WasmHasher', () => {
  it('seeds like the filter (model, LoRA, cache_salt)', () => {
    for (const [m, l, s] of [['Qwen/Qwen3-8B', '', ''], ['m', 'adapter', ''], ['m', '', 'salt'], ['m', 'a', 's']]) {
      assert.equal(hasher.seed(m, l, s), refSeed(m, l, s));
      assert.equal(hasher.seed(m, l, s), core.blockSeed(m, l, s));
    }
  });

  it('chains keys identical to the core and the reference, from the seed and from a parent', () => {
    const rnd = seededRandom(3);
    for (const bs of [16, 64, 5]) {
      const ids = Array.from({ length: bs * 9 + 3 }, () => Math.floor(rnd() * 152_000));
      const seed = hasher.seed('Qwen/Qwen3-8B');
      const want = refKeys(ids, bs, seed);
      assert.deepEqual(Array.from(hasher.blockKeys(ids, bs, seed)), want);
      assert.deepEqual(Array.from(core.blockKeys(ids, { model: 'Qwen/Qwen3-8B', blockSize: bs })), want);
      // continue from block 4's key over the rest
      const out = new Uint32Array(2 * 5);
      hasher.chain(ids, 4 * bs, 5, bs, want[3], out);
      for (let i = 0; i < 5; i++) assert.equal((BigInt(out[2 * i + 1]) << 32n) | BigInt(out[2 * i]), want[4 + i]);
    }
  });

  it('computes GIE character-block keys: h_i = xxh64(block ‖ le64(h_{i-1})), h_0 = xxh64(model + salt)', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(8);
    const halves = hasher.charBlockKeys(text, 64, 'm', 'salt', 256);
    const bytes = new TextEncoder().encode(text);
    let prev = refXxh64(new TextEncoder().encode('msalt'), 0n);
    const n = Math.floor(bytes.length / 64);
    assert.equal(halves.length, 2 * n);
    for (let i = 0; i < n; i++) {
      const buf = new Uint8Array(72);
      buf.set(bytes.subarray(i * 64, (i + 1) * 64));
      new DataView(buf.buffer).setBigUint64(64, prev, true);
      prev = refXxh64(buf, 0n);
      assert.equal((BigInt(halves[2 * i + 1]) << 32n) | BigInt(halves[2 * i]), prev);
    }
    assert.equal(hasher.charBlockKeys(text, 64, 'm', 'salt', 2).length, 4);
  });
});
