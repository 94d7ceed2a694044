#!/usr/bin/env node
// Generates filter/assembly/tokenizer/unicode_data.ts: Unicode property and NFC tables for the hand-written
// pre-tokenizer scanners and the NFC normalizer, derived from Node's own Unicode data (regex property escapes and
// String.prototype.normalize), minus the differences to the reference recorded by probe-reference.mjs in
// unicode-overrides.json (the reference, HF tokenizers, has older Unicode data). The output is committed; regenerate
// with `node filter/tools/gen-unicode.mjs` (the header records Node's Unicode version).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const ov = JSON.parse(readFileSync(join(here, "unicode-overrides.json"), "utf8"));
const outPath = join(here, "..", "assembly", "tokenizer", "unicode_data.ts");

const inRanges = (ranges) => {
  const s = new Set();
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) s.add(c);
  return s;
};
const MAX = 0x110000;
const isSur = (c) => c >= 0xd800 && c <= 0xdfff;
const ch = (c) => String.fromCodePoint(c);

// ---- property flags ------------------------------------------------------------------------------------------------
export const F_L = 1, F_N = 2, F_M = 4, F_P = 8, F_S = 16, F_WS = 32, F_NFC = 64;
const props = [["L", /\p{L}/u, F_L], ["N", /\p{N}/u, F_N], ["M", /\p{M}/u, F_M], ["P", /\p{P}/u, F_P],
  ["S", /\p{S}/u, F_S], ["WS", /\p{White_Space}/u, F_WS]];
const flags = new Uint8Array(MAX);
for (const [name, re, bit] of props) {
  const rm = inRanges(ov.remove[name] || []);
  const add = inRanges(ov.add[name] || []);
  for (let c = 0; c < MAX; c++) {
    if (isSur(c)) continue;
    if ((re.test(ch(c)) && !rm.has(c)) || add.has(c)) flags[c] |= bit;
  }
}

// ---- NFC ------------------------------------------------------------------------------------------------------------
const excluded = inRanges(ov.nfcExcludeCodePoints);
const cccZero = inRanges(ov.cccZero);
const isHangulSyl = (c) => c >= 0xac00 && c <= 0xd7a3;
// Non-starter detection by reordering (JS exposes no ccc): ccc>1 reorders before U+0334 (ccc 1); ccc in 1..229
// reorders after U+0301 (ccc 230).
const nonStarters = [];
for (let c = 0; c < MAX; c++) {
  if (isSur(c) || cccZero.has(c)) continue;
  const s = ch(c);
  if (s.normalize("NFD") !== s) continue;
  const a = s + "\u0334", b = "\u0301" + s;
  if (a.normalize("NFD") !== a || b.normalize("NFD") !== b) nonStarters.push(c);
}
// Order classes: x < y iff NFD(y x) reorders to (x y).
const less = (x, y) => { const s = ch(y) + ch(x); return s.normalize("NFD") !== s; };
const reps = []; // sorted representatives of distinct classes
const cls = new Map();
for (const c of nonStarters) {
  let lo = 0, hi = reps.length, found = -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1, r = reps[mid];
    if (less(c, r)) hi = mid;
    else if (less(r, c)) lo = mid + 1;
    else { found = mid; break; }
  }
  if (found < 0) reps.splice(lo, 0, c);
}
for (const c of nonStarters) {
  let lo = 0, hi = reps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1, r = reps[mid];
    if (less(c, r)) hi = mid - 1; else if (less(r, c)) lo = mid + 1; else { cls.set(c, mid + 1); break; }
  }
  if (!cls.has(c)) throw new Error("class not found " + c.toString(16));
}
const ccc = new Uint8Array(MAX);
for (const [c, r] of cls) ccc[c] = r;

// Full canonical decompositions (Hangul syllables are algorithmic).
const decomp = new Map();
for (let c = 0; c < MAX; c++) {
  if (isSur(c) || isHangulSyl(c) || excluded.has(c)) continue;
  const s = ch(c), d = s.normalize("NFD");
  if (d !== s) decomp.set(c, [...d].map((x) => x.codePointAt(0)));
}
// Primary composites → pairs (A, B): A = NFC of all but the last code point, B = the last.
const pairs = [];
for (const [p, d] of decomp) {
  if (ch(p).normalize("NFC") !== ch(p)) continue; // excluded from composition
  const a = String.fromCodePoint(...d.slice(0, -1)).normalize("NFC");
  const b = d[d.length - 1];
  if ([...a].length !== 1) throw new Error("composite with multi-char head " + p.toString(16));
  if ((a + ch(b)).normalize("NFC") !== ch(p)) throw new Error("pair does not compose " + p.toString(16));
  pairs.push([a.codePointAt(0), b, p]);
}
pairs.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
// NFC quick-check "unsafe": non-starter, changes under NFC, or second element of a composition (incl. Hangul V/T).
const seconds = new Set(pairs.map((x) => x[1]));
for (let c = 0; c < MAX; c++) {
  if (isSur(c)) continue;
  const s = ch(c);
  let unsafe = ccc[c] !== 0 || seconds.has(c) || (c >= 0x1161 && c <= 0x1175) || (c >= 0x11a8 && c <= 0x11c2);
  if (!unsafe && !excluded.has(c) && s.normalize("NFC") !== s) unsafe = true;
  if (unsafe) flags[c] |= F_NFC;
}
let firstUnsafe = -1;
for (let c = 0; c < MAX; c++) if (flags[c] & F_NFC) { firstUnsafe = c; break; }

// ---- two-level tables -----------------------------------------------------------------------------------------------
function twoLevel(arr) {
  const blocks = [], index = new Uint16Array(MAX >> 8), seen = new Map();
  for (let b = 0; b < MAX >> 8; b++) {
    const blk = arr.subarray(b << 8, (b + 1) << 8);
    const key = Buffer.from(blk).toString("latin1");
    let id = seen.get(key);
    if (id === undefined) { id = blocks.length; seen.set(key, id); blocks.push(Array.from(blk)); }
    index[b] = id;
  }
  return { index: Array.from(index), data: blocks.flat(), nblocks: blocks.length };
}
const P = twoLevel(flags), C = twoLevel(ccc);

const decompKeys = [...decomp.keys()].sort((a, b) => a - b);
const decompIdx = [], decompData = [];
for (const k of decompKeys) { const d = decomp.get(k); decompIdx.push(k, (decompData.length << 8) | d.length); decompData.push(...d); }
const compKeys = [], compVals = [];
for (const [a, b, p] of pairs) { compKeys.push(`0x${((BigInt(a) << 21n) | BigInt(b)).toString(16)}`); compVals.push(p); }

const wrap = (arr) => { const s = []; for (let i = 0; i < arr.length; i += 32) s.push("  " + arr.slice(i, i + 32).join(",")); return s.join(",\n"); };
const src = `// GENERATED by filter/tools/gen-unicode.mjs — do not edit.
// Source: Node ${process.version} (Unicode ${process.versions.unicode}, ICU ${process.versions.icu}) regex property escapes and
// String.prototype.normalize, minus filter/tools/unicode-overrides.json (differences to the reference, HF tokenizers
// 0.22.2: Oniguruma tables of Unicode 16.0 for \\p{..}; an older unicode-normalization for NFC).
// Property flags per code point: L=1 N=2 M=4 P=8 S=16 White_Space=32 NFC-unsafe=64 (NFC_QC!=Yes or ccc!=0).
// First NFC-unsafe code point: U+${firstUnsafe.toString(16).toUpperCase().padStart(4, "0")}.
// ccc values are order-preserving ranks (1..${reps.length}), not the Unicode numbers; only their order matters for NFC.

export const F_L: u8 = 1;
export const F_N: u8 = 2;
export const F_M: u8 = 4;
export const F_P: u8 = 8;
export const F_S: u8 = 16;
export const F_WS: u8 = 32;
export const F_NFC: u8 = 64;
export const FIRST_NFC_UNSAFE: u32 = ${firstUnsafe};

/** cp >> 8 → block index (u16). */
export const PROP_INDEX: usize = memory.data<u16>([
${wrap(P.index)}
]);
/** ${P.nblocks} blocks of 256 flag bytes. */
export const PROP_DATA: usize = memory.data<u8>([
${wrap(P.data)}
]);
export const CCC_INDEX: usize = memory.data<u16>([
${wrap(C.index)}
]);
export const CCC_DATA: usize = memory.data<u8>([
${wrap(C.data)}
]);
/** Sorted (code point, (offset << 8) | length) pairs into DECOMP_DATA. */
export const DECOMP_COUNT: i32 = ${decompKeys.length};
export const DECOMP_INDEX: usize = memory.data<u32>([
${wrap(decompIdx)}
]);
export const DECOMP_DATA: usize = memory.data<u32>([
${wrap(decompData)}
]);
/** Sorted keys (first << 21 | second) and their primary composites. */
export const COMP_COUNT: i32 = ${pairs.length};
export const COMP_KEYS: usize = memory.data<u64>([
${wrap(compKeys)}
]);
export const COMP_VALS: usize = memory.data<u32>([
${wrap(compVals)}
]);
/** Letters that match the case-insensitive single-letter contractions after "'" ('s 't 'm 'd, incl. U+017F). */
export const CONTRACTION_FOLD_CHARS: StaticArray<u32> = [${ov.contractionFoldChars.join(", ")}];
`;
writeFileSync(outPath, src);
console.log(`wrote ${outPath}: ${P.nblocks} prop blocks, ${C.nblocks} ccc blocks, ${reps.length} ccc classes, ` +
  `${decompKeys.length} decompositions, ${pairs.length} compositions, first NFC-unsafe U+${firstUnsafe.toString(16)}`);
