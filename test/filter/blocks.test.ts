// Block keys: xxHash64 against the published xxHash sanity vectors (xxhsum's generated buffer, seeds 0 and PRIME32),
// and the wasm chain (filter/assembly/blocks.ts) equal to the TypeScript reference (test/fixtures/blocks-ref.ts).
import { test } from "vitest";
import assert from "node:assert/strict";
import fc from "fast-check";
import { loadCore } from "./tokenizer/support.js";
import { xxh64, blockSeed, blockKeys } from "../fixtures/blocks-ref.js";

const PRIME32 = 2654435761n;
const PRIME64 = 11400714785074694797n;
function sanityBuffer(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let gen = PRIME32;
  for (let i = 0; i < n; i++) {
    b[i] = Number(gen >> 56n);
    gen = (gen * PRIME64) & ((1n << 64n) - 1n);
  }
  return b;
}
const vectors: Array<[number, bigint, bigint]> = [
  [0, 0n, 0xef46db3751d8e999n],
  [0, PRIME32, 0xac75fda2929b17efn],
  [1, 0n, 0xe934a84adb052768n],
  [1, PRIME32, 0x5014607643a9b4c3n],
  [4, 0n, 0x9136a0dca57457een],
  [14, 0n, 0x8282dcc4994e35c8n],
  [14, PRIME32, 0xc3bd6bf63deb6df0n],
  [222, 0n, 0xb641ae8cb691c174n],
  [222, PRIME32, 0x20cb8ab7ae10c14an],
];

test("xxHash64 published sanity vectors (wasm and TypeScript reference)", () => {
  const core = loadCore();
  const buf = sanityBuffer(2367);
  for (const [len, seed, want] of vectors) {
    assert.equal(xxh64(buf.subarray(0, len), seed), want, `ts len=${len} seed=${seed}`);
    assert.equal(core.xxh64(buf.slice(0, len), seed), want, `wasm len=${len} seed=${seed}`);
  }
  assert.equal(core.xxh64(new TextEncoder().encode("abc")), 0x44bc2cf5ad770999n);
});

test("xxHash64: wasm == reference on random inputs and seeds (all length classes)", () => {
  const core = loadCore();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (b, seed) => {
      assert.equal(core.xxh64(b, seed), xxh64(b, seed));
    }),
    { numRuns: 500 },
  );
});

test("block seed: model, LoRA and cache_salt all change it; encoding is as documented", () => {
  const core = loadCore();
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(core.blockSeed("Qwen/Qwen3-8B"), xxh64(enc("Qwen/Qwen3-8B"), 0n));
  assert.equal(core.blockSeed("m", "lora1"), xxh64(enc("m\0lora1"), 0n));
  assert.equal(core.blockSeed("m", "", "salt"), xxh64(enc("m\0\0salt"), 0n));
  assert.equal(core.blockSeed("m", "l", "s"), xxh64(enc("m\0l\0s"), 0n));
  const seeds = new Set([core.blockSeed("m"), core.blockSeed("m", "l"), core.blockSeed("m", "", "l"), core.blockSeed("m", "l", "s"), core.blockSeed("n")]);
  assert.equal(seeds.size, 5);
  assert.equal(blockSeed("m", "l", "s"), core.blockSeed("m", "l", "s"));
});

test("block keys: wasm == TypeScript reference on random token ids", () => {
  const core = loadCore();
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 200 }),
      fc.integer({ min: 1, max: 32 }),
      fc.integer({ min: -1, max: 20 }),
      fc.string({ maxLength: 10 }),
      fc.string({ maxLength: 5 }),
      fc.string({ maxLength: 5 }),
      (ids, bs, maxBlocks, model, lora, salt) => {
        const got = Array.from(core.blockKeys(ids, { model, lora, cacheSalt: salt, blockSize: bs, maxBlocks }));
        const want = blockKeys(ids, bs, blockSeed(model, lora, salt), maxBlocks);
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 400 },
  );
});

test("block keys: full blocks only, chained, bounded by maxBlocks", () => {
  const core = loadCore();
  const ids = Array.from({ length: 50 }, (_, i) => i * 7919);
  const k = core.blockKeys(ids, { model: "m", blockSize: 16 });
  assert.equal(k.length, 3); // 50 / 16 → 3 full blocks, the partial one has no key
  assert.equal(core.blockKeys(ids, { model: "m", blockSize: 16, maxBlocks: 2 }).length, 2);
  assert.equal(core.blockKeys(ids.slice(0, 15), { model: "m", blockSize: 16 }).length, 0);
  // chaining: a change in block 0 changes every later key; a change in block 2 leaves keys 0 and 1
  const a = core.blockKeys(ids, { model: "m" });
  const changed0 = ids.slice(); changed0[3]! += 1;
  const changed2 = ids.slice(); changed2[40]! += 1;
  const b = core.blockKeys(changed0, { model: "m" });
  const c = core.blockKeys(changed2, { model: "m" });
  assert.ok(a.every((x, i) => x !== b[i]));
  assert.deepEqual([c[0], c[1]], [a[0], a[1]]);
  assert.notEqual(c[2], a[2]);
  // the key of block 0 is xxh64(le u32 ids, seed)
  const le = new Uint8Array(64);
  const dv = new DataView(le.buffer);
  ids.slice(0, 16).forEach((v, i) => dv.setUint32(4 * i, v, true));
  assert.equal(a[0], xxh64(le, blockSeed("m")));
});
