// The prefix digest (header protocol v3): the filter sends the keys of a fixed grid of block
// positions instead of every key, so any prompt fits a bounded header. Checked here: the filter's
// grid (filter/assembly/digest.ts, run in the real filter.wasm) is the EPP's (protocol/digest.ts);
// the digest stays within its budget for prompts of any length; and matching a digest finds the
// longest cached prefix to within one gap of the grid — against an index fed every block (KV
// events) and against one fed digests (routing history) — for prompts of 1K to 128K tokens.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { digestPositions, onDigestGrid, sampleDigest } from '../../../epp/src/protocol/digest.js';
import { BlockIndex } from '../../../epp/src/prefix/index/block-index.js';
import { computeRequestKeys } from '../../../epp/src/prefix/keys/request-keys.js';
import { TokenrouteCore } from '../../../filter/core/tokenroute-core.js';
import { MODELS, completion, decoded, filterHost, header } from '../../filter/filter/helpers.js';

/** The gap of the grid after block p: how far a digest match may fall short of the true one. */
function gapAt(p: number, dense: number): number {
  if (p < dense) return 1;
  let stride = 2;
  for (let bound = dense * 2; p >= bound; bound *= 2) stride *= 2;
  return stride;
}

/** A chain of distinct keys for blocks 0..n-1, sharing the first `shared` with `base` (a fork after them). */
function chain(n: number, base: Uint32Array | undefined, shared: number, salt: number): Uint32Array {
  const out = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    if (base && i < shared) {
      out[2 * i] = base[2 * i];
      out[2 * i + 1] = base[2 * i + 1];
    } else {
      out[2 * i] = (i * 2654435761 + salt * 97) >>> 0;
      out[2 * i + 1] = (salt * 40503 + i) >>> 0;
    }
  }
  return out;
}

describe('the digest grid', () => {
  it('is the same in the filter (wasm) and in the EPP, and the digest fits its header budget', async () => {
    const host = await filterHost({ blockSize: 16 });
    const core = TokenrouteCore.load();
    const model = 'meta-llama/Llama-3.1-8B-Instruct';
    for (const words of [300, 6_000, 40_000]) {
      const prompt = Array.from({ length: words }, (_, i) => `w${i % 977}`).join(' ');
      const r = await host.runRequest(completion(model, { prompt }));
      const v = decoded(r);
      const blocks = Math.floor(v.tokens! / 16);
      assert.deepEqual(v.digest, { dense: 256, blocks });
      assert.ok(header(r, 'x-tokenroute-blocks')[0].length <= 16384);
      // Every key of the prompt, computed by the EPP's copy of the filter's code, sampled on the EPP's grid.
      const all = computeRequestKeys(core, { kind: 'completions', json: { model, prompt }, model, binding: { tokenizer: MODELS[model].tokenizer }, blockSize: 16, maxBlocks: 1 << 20 });
      assert.ok(all.ok);
      assert.equal(all.keys.length, blocks);
      const halves = new Uint32Array(blocks * 2);
      all.keys.forEach((k, i) => {
        halves[2 * i] = Number(k & 0xffffffffn);
        halves[2 * i + 1] = Number(k >> 32n);
      });
      const sampled = sampleDigest(halves, blocks, 256);
      const fromFilter = new Uint32Array(v.blockKeys.length * 2);
      v.blockKeys.forEach((k, i) => {
        fromFilter[2 * i] = Number(k & 0xffffffffn);
        fromFilter[2 * i + 1] = Number(k >> 32n);
      });
      assert.deepEqual(Array.from(fromFilter), Array.from(sampled.keys), `${words} words`);
    }
  });

  it('positions: every block below dense, dense/2 per doubling, the last block, and nothing past the cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 3000 }), (dense, blocks, cut) => {
        const all = digestPositions(dense, blocks);
        for (let k = 1; k < all.length; k++) assert.ok(all[k] > all[k - 1], 'ascending');
        for (let k = 0; k < all.length - 1; k++) assert.ok(onDigestGrid(all[k], dense));
        if (blocks > 0) assert.equal(all.at(-1), blocks - 1);
        // Size: dense, plus about dense/2 per doubling past it, plus the last block.
        const doublings = blocks > dense ? Math.ceil(Math.log2(blocks / dense)) : 0;
        assert.ok(all.length <= Math.min(blocks, dense) + doublings * Math.ceil(dense / 2) + 2, `${all.length} keys for ${blocks} blocks`);
        assert.deepEqual(Array.from(digestPositions(dense, blocks, cut)), Array.from(all.subarray(0, cut)), 'a cut is a prefix');
      }),
      { numRuns: 300 },
    );
  });
});

describe('matching a digest', () => {
  // 1K to 128K tokens at 16-token blocks.
  const lengths = fc.integer({ min: 64, max: 8192 });

  it('finds the longest cached prefix to within one gap: index fed every block (KV events)', () => {
    fc.assert(
      fc.property(lengths, lengths, fc.double({ min: 0, max: 1, noNaN: true }), (cachedLen, askLen, fraction) => {
        const shared = Math.floor(Math.min(cachedLen, askLen) * fraction);
        const cached = chain(cachedLen, undefined, 0, 1);
        const ask = chain(askLen, cached, shared, 2);
        const index = new BlockIndex();
        const ep = index.endpointId('pod-a');
        for (let i = 0; i < cachedLen; i++) index.add(cached[2 * i], cached[2 * i + 1], ep);
        const out = new Float64Array(1);
        index.longestPrefix(ask, askLen, [ep], out);
        assert.equal(out[0], shared, 'every key: the exact shared prefix');
        const d = sampleDigest(ask, askLen, 256);
        index.longestPrefix(d.keys, d.positions.length, [ep], out, undefined, d.positions);
        assert.ok(out[0] <= shared && shared - out[0] < gapAt(Math.max(0, shared - 1), 256), `digest matched ${out[0]} of ${shared} shared blocks`);
      }),
      { numRuns: 200 },
    );
  });

  it('finds it to within one gap: index fed digests of routed prompts (routing history)', () => {
    fc.assert(
      fc.property(lengths, lengths, fc.double({ min: 0, max: 1, noNaN: true }), (cachedLen, askLen, fraction) => {
        const shared = Math.floor(Math.min(cachedLen, askLen) * fraction);
        const cached = chain(cachedLen, undefined, 0, 3);
        const ask = chain(askLen, cached, shared, 4);
        const index = new BlockIndex();
        const ep = index.endpointId('pod-a');
        const recorded = sampleDigest(cached, cachedLen, 256);
        for (let k = 0; k < recorded.positions.length; k++) index.add(recorded.keys[2 * k], recorded.keys[2 * k + 1], ep);
        const d = sampleDigest(ask, askLen, 256);
        const out = new Float64Array(1);
        index.longestPrefix(d.keys, d.positions.length, [ep], out, undefined, d.positions);
        // The routed prompt's last block is recorded too, which the grid alone may not hold.
        const onGrid = (p: number) => onDigestGrid(p, 256) || p === cachedLen - 1;
        let best = 0;
        for (const p of d.positions) if (p < shared && onGrid(p)) best = p + 1;
        assert.equal(out[0], best);
        assert.ok(shared - out[0] < gapAt(Math.max(0, shared - 1), 256) || shared === 0, `digest matched ${out[0]} of ${shared} shared blocks`);
      }),
      { numRuns: 200 },
    );
  });
});
