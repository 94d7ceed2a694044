// Token-id parity with the reference (HF tokenizers via @anush008/tokenizers, add_special_tokens=false) on the
// corpus in ./corpus: every file as a whole and line by line, for every embedded model. Must be 100% identical.
import { test } from "vitest";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadCore, reference, corpusDir, MODELS, cps, firstDiff } from "./support.js";
import { TokenrouteCore } from "../../../filter/core/tokenroute-core.js";

const files = readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort();

for (const model of MODELS) {
  test(`corpus parity: ${model}`, async (t) => {
    const core = loadCore();
    const ref = reference(model);
    let cases = 0, tokens = 0;
    const mismatches: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(corpusDir, f), "utf8");
      for (const s of [text, ...text.split("\n"), ...text.split(/(?<=\n)/)]) {
        const ours = core.tokenize(model, s);
        const theirs = await ref.encode(s);
        cases++;
        tokens += theirs.length;
        const d = firstDiff(ours, theirs);
        if (d >= 0 && mismatches.length < 5) {
          mismatches.push(`${f}: ${JSON.stringify(s.slice(0, 120))}\n  first difference at token ${d}: ours ${Array.from(ours.slice(d, d + 8))} reference ${theirs.slice(d, d + 8)}\n  code points: ${cps(s.slice(0, 40))}`);
        }
      }
    }
    console.log(`${model}: ${cases} strings, ${tokens} reference tokens, ${mismatches.length ? "MISMATCHES" : "0 mismatches"}`);
    assert.deepEqual(mismatches, [], `${model}: token ids differ from the reference`);
  });
}

test("corpus covers the required text classes", () => {
  for (const f of ["english.txt", "cjk.txt", "scripts.txt", "emoji.txt", "code.txt", "numbers.txt", "whitespace.txt", "crlf.txt", "special.txt", "nfc.txt", "long.txt"]) {
    assert.ok(files.includes(f), `corpus file ${f} missing`);
  }
});

test("known ids: rendered-template literals and NFC facts", () => {
  const core = loadCore();
  const qwen = "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
  assert.deepEqual(Array.from(core.tokenize("qwen3", qwen)), [151644, 8948, 198, 2610, 525, 50537, 13, 151645, 198, 151644, 872, 198, 13048, 1052, 151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271]);
  const llama = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  assert.deepEqual(Array.from(core.tokenize("llama3_1", llama)), [128000, 128006, 882, 128007, 271, 13347, 1070, 128009, 128006, 78191, 128007, 271]);
  const ds = "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi there<｜Assistant｜>";
  assert.deepEqual(Array.from(core.tokenize("deepseek_v3", ds)), [0, 3476, 477, 259, 10935, 16, 128803, 23166, 1031, 128804]);
  // NFC: Qwen normalizes, the others do not
  assert.deepEqual(Array.from(core.tokenize("qwen3", "e\u0301")), [963]);
  assert.deepEqual(Array.from(core.tokenize("qwen3", "é")), [963]);
  assert.deepEqual(Array.from(core.tokenize("llama3_1", "e\u0301")), [68, 54939]);
  assert.deepEqual(Array.from(core.tokenize("llama3_1", "é")), [978]);
  assert.deepEqual(Array.from(core.tokenize("deepseek_v3", "e\u0301")), [71, 17793]);
  assert.deepEqual(Array.from(core.tokenize("deepseek_v3", "é")), [619]);
  // Qwen2.5 has no <think> added token: it is BPE'd as text
  assert.notDeepEqual(Array.from(core.tokenize("qwen2_5", "<think>")), [151667]);
  assert.deepEqual(Array.from(core.tokenize("qwen3", "<think>")), [151667]);
});

test("model facts: BOS/EOS and aliases", () => {
  const core = loadCore();
  assert.deepEqual(core.modelInfo("qwen3"), { name: "qwen3", bosId: -1, eosId: 151645, addsBos: false });
  assert.deepEqual(core.modelInfo("llama3.3"), { name: "llama3_1", bosId: 128000, eosId: 128009, addsBos: true });
  assert.deepEqual(core.modelInfo("deepseek-v3"), { name: "deepseek_v3", bosId: 0, eosId: 1, addsBos: true });
  assert.equal(core.modelInfo("qwen2.5")?.name, "qwen2_5");
  assert.equal(core.modelInfo("gpt-4"), null);
  assert.deepEqual(core.models().sort(), ["deepseek_v3", "llama3_1", "qwen2_5", "qwen3"]);
  assert.throws(() => core.tokenize("nope", "x"));
});

// Long segments between added tokens are remembered (filter/assembly/tokenizer/segment_cache.ts):
// chat-shaped strings sharing a long system context must give the reference's ids on the first
// (stored) and the later (remembered) encodings, and the same ids with the cache off.
const TEMPLATES: Record<(typeof MODELS)[number], (system: string, question: string) => string> = {
  qwen3: (s, q) => `<|im_start|>system\n${s}<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`,
  qwen2_5: (s, q) => `<|im_start|>system\n${s}<|im_end|>\n<|im_start|>user\n${q}<|im_end|>\n<|im_start|>assistant\n`,
  llama3_1: (s, q) => `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${s}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n${q}<|eot_id|>`,
  deepseek_v3: (s, q) => `<｜begin▁of▁sentence｜>${s}<｜User｜>${q}<｜Assistant｜>`,
};

for (const model of MODELS) {
  test(`cached segments keep parity: ${model}`, async () => {
    const core = loadCore();
    const ref = reference(model);
    const texts = files.map((f) => readFileSync(join(corpusDir, f), "utf8"));
    const contexts = [texts.join("\n"), ...texts.filter((t) => Buffer.byteLength(t) >= 4096)];
    const before = core.segmentCacheStats(model)!;
    const mismatches: string[] = [];
    // A core of its own (a separate wasm instance), its cache off.
    const off = TokenrouteCore.load();
    off.configureSegmentCache(0);
    for (const [i, context] of contexts.entries()) {
      for (const question of ["First question?", "Second, different question.", "First question?"]) {
        const s = TEMPLATES[model](context, `${question} (${i})`);
        const ours = core.tokenize(model, s);
        const theirs = await ref.encode(s);
        const d = firstDiff(ours, theirs);
        if (d >= 0 && mismatches.length < 5) mismatches.push(`context ${i}, ${question}: first difference at token ${d}`);
        assert.deepEqual(Array.from(off.tokenize(model, s)), Array.from(ours), "the same ids with the cache off");
      }
    }
    const after = core.segmentCacheStats(model)!;
    assert.deepEqual(mismatches, [], `${model}: token ids differ from the reference`);
    assert.ok(after.hits - before.hits >= 2 * contexts.length, `each context remembered after its first use (hits ${after.hits - before.hits})`);
    assert.equal(off.segmentCacheStats(model)!.hits, 0, "cache off: no hits");
  });
}
