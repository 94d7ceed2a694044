#!/usr/bin/env node
// Probes the reference tokenizer (HF tokenizers via @anush008/tokenizers, which uses Oniguruma for its regexes
// and the unicode-normalization crate for NFC) for the Unicode facts our hand-written scanners depend on, and
// compares them with Node's own Unicode data (regex property escapes, String.prototype.normalize).
// Writes filter/tools/unicode-overrides.json: the code points where Node says "has property X" but the reference
// does not (Node's Unicode is newer). gen-unicode.mjs subtracts them, so the generated tables match the reference.
// Usage: node filter/tools/probe-reference.mjs [--check]   (--check: only print differences, write nothing)
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const hf = require("@anush008/tokenizers");
const here = dirname(fileURLToPath(import.meta.url));

function splitTokenizer(regex) {
  const j = {
    version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: "Split", pattern: { Regex: regex }, behavior: "Removed", invert: false },
    post_processor: null, decoder: null,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab: {}, merges: [] },
  };
  return hf.Tokenizer.fromString(JSON.stringify(j)).getPreTokenizer();
}

const allCps = [];
for (let c = 0; c < 0x110000; c++) if (c < 0xd800 || c > 0xdfff) allCps.push(c);

/** Set of code points the reference regex `re` matches as a single char. */
function refSet(re) {
  const p = splitTokenizer(re);
  const inRef = new Set();
  for (let i = 0; i < allCps.length; i += 50000) {
    const chunk = allCps.slice(i, i + 50000);
    const pieces = p.preTokenizeString(chunk.map((c) => String.fromCodePoint(c)).join(""));
    const rem = new Set();
    for (const [piece] of pieces) for (const ch of piece) rem.add(ch.codePointAt(0));
    for (const c of chunk) if (!rem.has(c)) inRef.add(c);
  }
  return inRef;
}

function toRanges(list) {
  const r = [];
  for (const c of list) {
    if (r.length && r[r.length - 1][1] === c - 1) r[r.length - 1][1] = c;
    else r.push([c, c]);
  }
  return r;
}

const props = { L: /\p{L}/u, N: /\p{N}/u, M: /\p{M}/u, P: /\p{P}/u, S: /\p{S}/u, WS: /\p{White_Space}/u };
const refRe = { L: "\\p{L}", N: "\\p{N}", M: "\\p{M}", P: "\\p{P}", S: "\\p{S}", WS: "\\s" };
const remove = {};
const add = {};
let total = 0;
for (const k of Object.keys(props)) {
  const inRef = refSet(refRe[k]);
  const onlyNode = [], onlyRef = [];
  for (const c of allCps) {
    const n = props[k].test(String.fromCodePoint(c));
    const r = inRef.has(c);
    if (n && !r) onlyNode.push(c);
    if (r && !n) onlyRef.push(c);
  }
  remove[k] = toRanges(onlyNode);
  add[k] = toRanges(onlyRef);
  total += onlyNode.length + onlyRef.length;
  console.log(`${k}: reference ${inRef.size}, node-only ${onlyNode.length}, reference-only ${onlyRef.length}`);
}

// Case-insensitive contractions (?i:'s|'t|'re|'ve|'m|'ll|'d): which single chars after "'" match (case folding).
const contr = splitTokenizer("(?i:'s|'t|'m|'d)");
const foldChars = [];
for (const c of allCps) {
  const s = "'" + String.fromCodePoint(c);
  if (contr.preTokenizeString(s).length === 0) foldChars.push(c);
}
console.log("single-char contraction letters:", foldChars.map((c) => String.fromCodePoint(c) + "(" + c.toString(16) + ")").join(" "));
const contr2 = splitTokenizer("(?i:'re|'ve|'ll)");
const fold2 = [];
for (const a of ["r", "e", "v", "l"]) {
  for (const c of allCps) {
    const ch = String.fromCodePoint(c);
    if (ch.toLowerCase() === a) continue;
    const probes = a === "r" ? ["'" + ch + "e"] : a === "e" ? ["'r" + ch, "'v" + ch] : a === "v" ? ["'" + ch + "e"] : ["'" + ch + "l", "'l" + ch];
    for (const p of probes) if (contr2.preTokenizeString(p).length === 0) fold2.push(p);
  }
}
console.log("two-char contraction variants beyond ASCII case:", fold2.join(" ") || "none");

// NFC: per code point and per composition pair, reference vs Node.
const nfc = hf.nfcNormalizer();
const nfcDiff = [];
for (let i = 0; i < allCps.length; i += 20000) {
  const chunk = allCps.slice(i, i + 20000);
  for (const c of chunk) {
    const s = String.fromCodePoint(c);
    // isolate each char between two spaces? NFC of a lone char: compare directly.
    const a = nfc.normalizeString(s), b = s.normalize("NFC");
    if (a !== b) nfcDiff.push(c);
  }
}
console.log("NFC single-char differences:", nfcDiff.length, nfcDiff.slice(0, 20).map((c) => c.toString(16)).join(","));

// Composition pairs: for every char whose NFD differs, check the reference composes NFD back identically.
const compDiff = [];
for (const c of allCps) {
  const s = String.fromCodePoint(c);
  const d = s.normalize("NFD");
  if (d === s) continue;
  if (nfc.normalizeString(d) !== d.normalize("NFC")) compDiff.push(c);
}
console.log("NFC(NFD(c)) differences:", compDiff.length, compDiff.slice(0, 20).map((c) => c.toString(16)).join(","));

// Canonical combining class: a non-zero class in Node that the reference treats as 0 (new marks) changes
// reordering. Detect "non-starter" by reordering against U+0334 (ccc 1) and U+0301 (ccc 230).
const cccZero = [];
for (const c of allCps) {
  const s = String.fromCodePoint(c);
  if (s.normalize("NFD") !== s) continue;
  const a = s + "\u0334", b = "\u0301" + s;
  const nodeNz = a.normalize("NFD") !== a || b.normalize("NFD") !== b;
  if (!nodeNz) continue;
  const refNz = nfc.normalizeString(a) !== a || nfc.normalizeString(b) !== b;
  if (!refNz) cccZero.push(c);
}
console.log("non-starters in Node that are starters in the reference:", cccZero.length);

const out = {
  note: "Generated by filter/tools/probe-reference.mjs: code points where Node's Unicode data and the reference " +
    "(HF tokenizers 0.22.2 / Oniguruma, via @anush008/tokenizers) disagree. gen-unicode.mjs applies them.",
  node: { unicode: process.versions.unicode, icu: process.versions.icu, node: process.version },
  remove, add,
  contractionFoldChars: foldChars,
  cccZero: toRanges(cccZero),
  nfcExcludeCodePoints: toRanges([...new Set([...nfcDiff, ...compDiff])].sort((a, b) => a - b)),
};
if (!process.argv.includes("--check")) {
  writeFileSync(join(here, "unicode-overrides.json"), JSON.stringify(out) + "\n");
  console.log("wrote unicode-overrides.json; total property differences:", total);
}
