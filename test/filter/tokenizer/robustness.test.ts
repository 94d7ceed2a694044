// No traps and defined behaviour on hostile input: invalid UTF-8 (decoded lossily, one U+FFFD per maximal
// ill-formed subsequence, i.e. what TextDecoder / Rust from_utf8_lossy give), lone surrogates, empty input,
// 10 MB inputs within a time bound, and a single 1 MB "word" (heap BPE, O(n log n)).
import { test } from "vitest";
import assert from "node:assert/strict";
import { loadCore, reference, MODELS } from "./support.js";

const invalid: Array<[string, number[]]> = [
  ["lone continuation", [0x61, 0x80, 0x62]],
  ["truncated 2-byte", [0x61, 0xc3]],
  ["truncated 3-byte then ASCII", [0xe4, 0xbd, 0x61]],
  ["truncated 4-byte", [0xf0, 0x9f, 0x98]],
  ["overlong", [0xc0, 0xaf, 0xe0, 0x80, 0xaf]],
  ["surrogate encoded", [0xed, 0xa0, 0x80, 0x61]],
  ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["FE FF", [0xfe, 0xff, 0x20, 0x41]],
  ["mixed with special token", [...Buffer.from("<|im_start|>"), 0xff, ...Buffer.from("user\n"), 0xc3, 0x28]],
  ["valid emoji then junk", [0xf0, 0x9f, 0x98, 0x80, 0x80, 0x80]],
];

for (const model of MODELS) {
  test(`invalid UTF-8 is decoded lossily like TextDecoder: ${model}`, async () => {
    const core = loadCore();
    const ref = reference(model);
    for (const [name, bytes] of invalid) {
      const b = Uint8Array.from(bytes);
      const ours = Array.from(core.tokenizeUtf8(model, b));
      const theirs = await ref.encode(new TextDecoder("utf-8").decode(b));
      assert.deepEqual(ours, theirs, `${model}: ${name}`);
    }
  });
}

test("random byte strings: tokenizeUtf8 == reference(TextDecoder(bytes))", async () => {
  const core = loadCore();
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  for (const model of ["qwen3", "llama3_1", "deepseek_v3"] as const) {
    const ref = reference(model);
    for (let k = 0; k < 150; k++) {
      const n = rnd() % 24;
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = rnd() % 3 === 0 ? 0x80 + (rnd() % 0x80) : rnd() % 0x100;
      const ours = Array.from(core.tokenizeUtf8(model, b));
      const theirs = await ref.encode(new TextDecoder().decode(b));
      assert.deepEqual(ours, theirs, `${model}: bytes ${Buffer.from(b).toString("hex")}`);
    }
  }
});

test("lone surrogates in strings become U+FFFD (as Node's UTF-8 conversion does)", async () => {
  const core = loadCore();
  for (const model of MODELS) {
    const ref = reference(model);
    for (const s of ["\ud800", "a\udc00b", "\udbff\udbff", "x\ud83d", "\ude00y", "\ud83d\ude00\ude00"]) {
      assert.deepEqual(Array.from(core.tokenize(model, s)), await ref.encode(s), `${model} ${JSON.stringify(s)}`);
      assert.deepEqual(Array.from(core.tokenize(model, s)), Array.from(core.tokenize(model, s.replace(/\p{Cs}/gu, "\ufffd"))));
    }
  }
});

test("empty input gives no ids", () => {
  const core = loadCore();
  for (const model of MODELS) {
    assert.equal(core.tokenize(model, "").length, 0);
    assert.equal(core.tokenizeUtf8(model, new Uint8Array(0)).length, 0);
  }
});

test("10 MB inputs finish within a time bound and match the reference on a sample", async () => {
  const core = loadCore();
  const unit = "The router tokenizes each prompt exactly as vLLM will. 你好，世界！ 12345 e\u0301 😀 <|im_end|>\n";
  const big = unit.repeat(Math.ceil((10 * 1024 * 1024) / Buffer.byteLength(unit)));
  const bytes = Buffer.from(big);
  for (const model of MODELS) {
    const t0 = performance.now();
    const n = core.countUtf8(model, bytes);
    const ms = performance.now() - t0;
    assert.ok(n > 1_000_000, `${model}: ${n} tokens`);
    assert.ok(ms < 30_000, `${model}: 10 MB took ${ms.toFixed(0)} ms`);
  }
  const ref = reference("qwen3");
  const sample = unit.repeat(2000);
  assert.deepEqual(Array.from(core.tokenize("qwen3", sample)), await ref.encode(sample));
});

test("a single 1 MB word uses the O(n log n) merge and matches the reference", async () => {
  const core = loadCore();
  for (const [model, s] of [["qwen3", "ab".repeat(1 << 19)], ["llama3_1", "x".repeat(1 << 20)], ["deepseek_v3", "中".repeat(1 << 18)]] as const) {
    const t0 = performance.now();
    const ours = core.tokenize(model, s);
    const ms = performance.now() - t0;
    assert.ok(ms < 20_000, `${model}: ${ms.toFixed(0)} ms`);
    assert.deepEqual(Array.from(ours), await reference(model).encode(s), model);
  }
  // a 10 MB single word must not trap either
  assert.ok(core.tokenize("qwen3", "q".repeat(10 << 20)).length > 0);
});
