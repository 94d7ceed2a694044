#!/usr/bin/env node
// Converts a Hugging Face tokenizer.json (byte-level BPE) into tokenroute's compact binary model table ("TRM1").
// Layout (little-endian; every section starts 4-byte aligned; offsets are relative to the table start):
//   0  u32 magic 0x314d5254 ("TRM1")        4  u32 flags: 1 NFC normalizer, 2 ignore_merges, 4 post-processor adds BOS
//   8  u32 pre-tokenizer kind: 0 Qwen2/3 split (\p{N}), 1 Llama 3 split (\p{N}{1,3}), 2 DeepSeek-V3 three splits
//  12  i32 bos id (-1 none)  16  i32 eos id (-1 none)
//  20  u32 vocab count n (ids 0..n-1 dense)  24 u32 merge count m  28 u32 added-token count a
//  32  u32 off lengths (u16[n], token byte lengths)   36 u32 off bytes (concatenated raw token bytes)
//  40  u32 off merges (m × 6 bytes: left id u24, right id u24; index = rank; merged id = vocab[left+right])
//  44  u32 off added: a records {u32 id, u32 flags (1 special, 2 lstrip, 4 rstrip, 8 normalized, 16 single_word),
//                       u32 byte length, bytes (padded to 4)}
//  48  u32 total size
// Token strings are stored as raw bytes (the GPT-2 byte→unicode alphabet is undone here), so the wasm never maps
// bytes to byte-chars at run time.
import { readFileSync } from "node:fs";

export const PRETOK = { qwen: 0, llama3: 1, deepseek_v3: 2 };

/** GPT-2 bytes_to_unicode inverse: byte-char code point → byte. */
function byteDecoder() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = new Map();
  for (const b of bs) map.set(b, b);
  let k = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) map.set(0x100 + k++, b);
  return map;
}
const BD = byteDecoder();
function tokenBytes(s) {
  const out = [];
  for (const ch of s) {
    const b = BD.get(ch.codePointAt(0));
    // A vocab entry with chars outside the byte-level alphabet (DeepSeek keeps its special tokens' raw text in the
    // vocab) can never be produced by byte-level BPE: store it empty, the wasm skips empty entries.
    if (b === undefined) return Buffer.alloc(0);
    out.push(b);
  }
  return Buffer.from(out);
}

function detectPretok(j) {
  const pt = j.pre_tokenizer;
  const splits = (pt.type === "Sequence" ? pt.pretokenizers : [pt]).filter((p) => p.type === "Split");
  const regs = splits.map((s) => s.pattern.Regex);
  const QWEN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const LLAMA = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const DS = ["\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"];
  const behaviours = splits.every((s) => s.behavior === "Isolated" && !s.invert);
  if (!behaviours) throw new Error("unsupported Split behaviour");
  if (regs.length === 1 && regs[0] === QWEN) return PRETOK.qwen;
  if (regs.length === 1 && regs[0] === LLAMA) return PRETOK.llama3;
  if (regs.length === 3 && regs.every((r, i) => r === DS[i])) return PRETOK.deepseek_v3;
  throw new Error("unsupported pre-tokenizer: " + JSON.stringify(regs));
}

/**
 * @param {string} path tokenizer.json
 * @param {{addsBos?: boolean, bos?: string|null, eos?: string|null}} opts  BOS/EOS token contents (from
 *        tokenizer_config.json) and whether the serving stack prepends BOS when add_special_tokens=true.
 */
export function convertTokenizer(path, opts = {}) {
  const j = JSON.parse(readFileSync(path, "utf8"));
  const m = j.model;
  if (m.type !== "BPE") throw new Error("not a BPE model");
  if (m.byte_fallback || m.dropout || m.continuing_subword_prefix || m.end_of_word_suffix) throw new Error("unsupported BPE options");
  const bl = (j.pre_tokenizer.pretokenizers || []).find((p) => p.type === "ByteLevel");
  if (!bl || bl.add_prefix_space || bl.use_regex) throw new Error("expected ByteLevel(add_prefix_space=false, use_regex=false)");
  const norm = j.normalizer;
  let nfc = false;
  if (norm && norm.type === "NFC") nfc = true;
  else if (norm && !(norm.type === "Sequence" && norm.normalizers.length === 0)) throw new Error("unsupported normalizer " + norm.type);
  const pretok = detectPretok(j);

  const entries = Object.entries(m.vocab);
  const n = entries.length;
  const toks = new Array(n);
  for (const [s, id] of entries) {
    if (id < 0 || id >= n || toks[id] !== undefined) throw new Error("vocab ids are not dense");
    toks[id] = tokenBytes(s);
  }
  const byBytes = new Map();
  let unreachable = 0;
  toks.forEach((b, id) => { if (b.length === 0) unreachable++; else byBytes.set(b.toString("latin1"), id); });
  const merges = m.merges.map((x) => (Array.isArray(x) ? x : x.split(" ")));
  const mergeIds = new Uint32Array(merges.length * 2);
  merges.forEach(([a, b], r) => {
    const ia = m.vocab[a], ib = m.vocab[b], im = m.vocab[a + b];
    if (ia === undefined || ib === undefined || im === undefined) throw new Error(`merge ${r} refers to unknown tokens`);
    if (ia >= 1 << 24 || ib >= 1 << 24) throw new Error("id too large for u24");
    mergeIds[2 * r] = ia; mergeIds[2 * r + 1] = ib;
  });
  const added = j.added_tokens.map((t) => ({
    id: t.id, bytes: Buffer.from(t.content, "utf8"), special: t.special,
    flags: (t.special ? 1 : 0) | (t.lstrip ? 2 : 0) | (t.rstrip ? 4 : 0) | (t.normalized ? 8 : 0) | (t.single_word ? 16 : 0),
  }));
  const idOf = (content) => {
    if (content == null) return -1;
    const a = j.added_tokens.find((t) => t.content === content);
    if (a) return a.id;
    const v = m.vocab[content];
    return v === undefined ? -1 : v;
  };
  const bos = idOf(opts.bos), eos = idOf(opts.eos);

  const align = (x) => (x + 3) & ~3;
  let off = 52;
  const offLen = off; off = align(off + 2 * n);
  const offBytes = off; off = align(off + toks.reduce((s, b) => s + b.length, 0));
  const offMerges = off; off = align(off + 6 * merges.length);
  const offAdded = off; for (const a of added) off += 12 + align(a.bytes.length);
  const total = off;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(0x314d5254, 0);
  buf.writeUInt32LE((nfc ? 1 : 0) | (m.ignore_merges ? 2 : 0) | (opts.addsBos ? 4 : 0), 4);
  buf.writeUInt32LE(pretok, 8);
  buf.writeInt32LE(bos, 12); buf.writeInt32LE(eos, 16);
  buf.writeUInt32LE(n, 20); buf.writeUInt32LE(merges.length, 24); buf.writeUInt32LE(added.length, 28);
  buf.writeUInt32LE(offLen, 32); buf.writeUInt32LE(offBytes, 36); buf.writeUInt32LE(offMerges, 40); buf.writeUInt32LE(offAdded, 44);
  buf.writeUInt32LE(total, 48);
  let p = offBytes;
  toks.forEach((b, id) => {
    if (b.length > 0xffff) throw new Error("token too long");
    buf.writeUInt16LE(b.length, offLen + 2 * id);
    b.copy(buf, p); p += b.length;
  });
  for (let i = 0; i < mergeIds.length; i++) buf.writeUIntLE(mergeIds[i], offMerges + 3 * i, 3);
  p = offAdded;
  for (const a of added) {
    buf.writeUInt32LE(a.id, p); buf.writeUInt32LE(a.flags, p + 4); buf.writeUInt32LE(a.bytes.length, p + 8);
    a.bytes.copy(buf, p + 12); p += 12 + align(a.bytes.length);
  }
  return { table: buf, info: { vocab: n, unreachable, merges: merges.length, added: added.length, nfc, ignoreMerges: !!m.ignore_merges, pretok, bos, eos } };
}
