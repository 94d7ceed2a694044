// Property test: on random Unicode strings (astral planes, combining marks, whitespace mixes, lone surrogates,
// special-token fragments) our token ids equal the reference's. fast-check shrinks any failure to a minimal
// counterexample, which the assertion message shows. Runs per arbitrary: TOKENROUTE_FC_RUNS (default 250).
import { test } from "vitest";
import fc from "fast-check";
import { loadCore, reference, MODELS, cps } from "./support.js";

const RUNS = Number(process.env.TOKENROUTE_FC_RUNS ?? 250);

const fragments = [
  " ", "  ", "\t", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u00a0", "\u1680", "\u2003", "\u2028", "\u2029", "\u202f",
  "\u3000", "\u0085", "\u200b", "\ufeff", "\u180e", "\u001c",
  "'", "'s", "'S", "'t", "'re", "'RE", "'Ve", "'m", "'ll", "'LL", "'d", "'D", "ſ", "'ſ",
  "a", "Z", "word", "Éé", "e\u0301", "\u0301", "\u0323", "\u0308", "\u0334", "\u07fd", "\u1ab0", "\u0345", "\u0f73",
  "\u1100", "\u1161", "\u11a8", "\uac00", "1", "12", "1234", "٣", "²", "Ⅻ", "〇", "①", "𝟘",
  "你", "好", "龥", "龦", "の", "カ", "ー", "ゟ", "゠", "ヿ", "ｶ", "한", "ㄅ",
  ".", ",", "!", "?", "-", "_", "$", "€", "(", "[", "{", "<", ">", "|", "`", "~", "@", "#", "…", "—", "«",
  "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|endoftext|>", "<tool_call>", "<|eot_id|>",
  "<|begin_of_text|>", "<|start_header_id|>", "<｜User｜>", "<｜Assistant｜>", "<｜begin▁of▁sentence｜>", "<｜tool▁sep｜>",
  "<|", "|>", "<｜", "｜>",
  "😀", "👍🏽", "\u200d", "👨‍👩‍👧", "🇺🇸", "\ufe0f", "\u20e3", "\u{e0067}",
  "\u0915\u093c", "\u0928\u093f", "\u064e", "\u0627", "\u05b7", "\u0e31",
  "\u{10d4a}", "\u{16d68}", "\u{11383}", "\u{1e030}", "\u{f0000}", "\u{10ffff}", "\u0000", "\u007f", "\u00ad",
  "\ud800", "\udc00",
];

const fromPool = fc.array(fc.constantFrom(...fragments), { maxLength: 24 }).map((a) => a.join(""));
const fullUnicode = fc.string({ unit: "binary", maxLength: 32 });
const utf16Units = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 24 });
const mixed = fc
  .array(fc.oneof(fc.constantFrom(...fragments), fc.string({ unit: "binary", maxLength: 4 }), fc.string({ unit: "grapheme-composite", maxLength: 4 })), { maxLength: 16 })
  .map((a) => a.join(""));

const arbitraries: Array<[string, fc.Arbitrary<string>]> = [
  ["tricky fragments", fromPool],
  ["full Unicode", fullUnicode],
  ["UTF-16 units incl. lone surrogates", utf16Units],
  ["mixed", mixed],
];

for (const model of MODELS) {
  for (const [name, arb] of arbitraries) {
    test(`random strings equal the reference: ${model}, ${name}`, async () => {
      const core = loadCore();
      const ref = reference(model);
      await fc.assert(
        fc.asyncProperty(arb, async (s) => {
          const ours = Array.from(core.tokenize(model, s));
          const theirs = await ref.encode(s);
          if (ours.join(",") !== theirs.join(",")) {
            throw new Error(`${model}: ${JSON.stringify(s)} (${cps(s)})\n  ours      ${ours.join(" ")}\n  reference ${theirs.join(" ")}`);
          }
        }),
        { numRuns: RUNS },
      );
    });
  }
}
