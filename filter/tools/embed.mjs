// Builds the embedded-table region and injects it into a compiled AssemblyScript module as an active data segment.
//
// Memory layout of a module built with tables (see docs/tokenizer.md):
//   [0, 16)                   unused (null page guard)
//   [16, memoryBase)          tokenroute tables: directory "TRTB" + one TRM1 table per base model
//   [memoryBase, ...)         AssemblyScript static data, then its heap
// AssemblyScript must be compiled with `--memoryBase <memoryBase>` (tablesRegion() returns it), so its own data
// starts after the tables. filter/assembly/tokenizer/tables.ts reads the directory at address 16.
//
// Usage from another build script (e.g. the proxy-wasm filter's):
//   import { tablesRegion, injectData } from "./embed.mjs";
//   const region = tablesRegion(["qwen3"]);               // names from models.mjs (variants pull in their base)
//   // asc ... --memoryBase region.memoryBase ...
//   writeFileSync(out, injectData(readFileSync(out), region.address, region.bytes));
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertTokenizer } from "./convert-tokenizer.mjs";
import { MODELS, tokenizerPath, tokenizerConfigPath } from "./models.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const TABLES_ADDRESS = 16;
const CACHE = join(here, "..", "build", "tables");

function eosFromConfig(name, fallback) {
  const p = tokenizerConfigPath(name);
  if (!p) return fallback;
  const c = JSON.parse(readFileSync(p, "utf8"));
  const e = typeof c.eos_token === "string" ? c.eos_token : c.eos_token?.content;
  return fallback ?? e ?? null;
}

/** The TRM1 table for a base model, cached under filter/build/tables by the tokenizer.json's sha256. */
export function modelTable(name, log = () => {}) {
  const m = MODELS[name];
  const path = tokenizerPath(name);
  const src = readFileSync(path);
  const sha = createHash("sha256").update(src).update(JSON.stringify(m)).update("v1").digest("hex").slice(0, 16);
  const cached = join(CACHE, `${name}.${sha}.trm`);
  if (existsSync(cached)) return readFileSync(cached);
  const t0 = Date.now();
  const { table, info } = convertTokenizer(path, { addsBos: m.addsBos, bos: m.bos, eos: eosFromConfig(name, m.eos) });
  log(`converted ${name} (${path}) in ${Date.now() - t0} ms: ${JSON.stringify(info)} → ${table.length} bytes`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(cached, table);
  return table;
}

/**
 * Directory: u32 magic "TRTB", u32 entry count, u32 region size, u32 version 1; then 32-byte entries
 * {name: 16 bytes ASCII zero-padded, u32 table address (absolute), u32 table length, u32 added-id limit
 * (0xffffffff = all added tokens), u32 reserved}.
 */
export function tablesRegion(names, log = () => {}) {
  const bases = [];
  for (const n of names) {
    if (!MODELS[n]) throw new Error(`unknown model ${n}; known: ${Object.keys(MODELS).join(", ")}`);
    const b = MODELS[n].base ?? n;
    if (!bases.includes(b)) bases.push(b);
  }
  const tables = new Map(bases.map((b) => [b, modelTable(b, log)]));
  const dirSize = 16 + 32 * names.length;
  let addr = TABLES_ADDRESS + dirSize;
  const at = new Map();
  for (const b of bases) { addr = (addr + 7) & ~7; at.set(b, addr); addr += tables.get(b).length; }
  const end = addr;
  const bytes = Buffer.alloc(end - TABLES_ADDRESS);
  bytes.writeUInt32LE(0x42545254, 0);
  bytes.writeUInt32LE(names.length, 4);
  bytes.writeUInt32LE(end - TABLES_ADDRESS, 8);
  bytes.writeUInt32LE(1, 12);
  names.forEach((n, i) => {
    const e = 16 + 32 * i;
    const b = MODELS[n].base ?? n;
    bytes.write(n, e, 16, "latin1");
    bytes.writeUInt32LE(at.get(b), e + 16);
    bytes.writeUInt32LE(tables.get(b).length, e + 20);
    bytes.writeUInt32LE(MODELS[n].addedIdLimit ?? 0xffffffff, e + 24);
  });
  for (const b of bases) tables.get(b).copy(bytes, at.get(b) - TABLES_ADDRESS);
  const memoryBase = (end + 15) & ~15;
  return { address: TABLES_ADDRESS, bytes, memoryBase };
}

// ---- minimal wasm binary editing ------------------------------------------------------------------------------------
function readU32(buf, p) {
  let r = 0, s = 0, b;
  do { b = buf[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80);
  return [r >>> 0, p];
}
function u32leb(v) {
  const out = [];
  do { let b = v & 0x7f; v >>>= 7; if (v) b |= 0x80; out.push(b); } while (v);
  return Buffer.from(out);
}
function i32leb(v) {
  const out = [];
  for (;;) { const b = v & 0x7f; v >>= 7; if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) { out.push(b); break; } out.push(b | 0x80); }
  return Buffer.from(out);
}

/** Returns a copy of `wasm` with an extra active data segment at `address`, and memory.min covering it. */
export function injectData(wasm, address, data) {
  if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm module");
  const sections = [];
  let p = 8;
  while (p < wasm.length) {
    const id = wasm[p];
    const [size, q] = readU32(wasm, p + 1);
    sections.push({ id, body: wasm.subarray(q, q + size) });
    p = q + size;
  }
  const seg = Buffer.concat([Buffer.from([0x00, 0x41]), i32leb(address), Buffer.from([0x0b]), u32leb(data.length), data]);
  let data11 = sections.find((s) => s.id === 11);
  if (data11) {
    const [count, q] = readU32(data11.body, 0);
    data11.body = Buffer.concat([u32leb(count + 1), data11.body.subarray(q), seg]);
  } else {
    data11 = { id: 11, body: Buffer.concat([u32leb(1), seg]) };
    const codeIdx = sections.findIndex((s) => s.id === 10);
    sections.splice(codeIdx + 1, 0, data11);
  }
  const dc = sections.find((s) => s.id === 12);
  if (dc) { const [count] = readU32(dc.body, 0); dc.body = u32leb(count + 1); }
  const needPages = Math.ceil((address + data.length) / 65536);
  const mem = sections.find((s) => s.id === 5);
  if (mem) {
    const [cnt, q0] = readU32(mem.body, 0);
    if (cnt !== 1) throw new Error("expected one memory");
    const flags = mem.body[q0];
    const [min, q1] = readU32(mem.body, q0 + 1);
    let rest = mem.body.subarray(q1);
    let max = null;
    if (flags & 1) { const [mx, q2] = readU32(mem.body, q1); max = mx; rest = mem.body.subarray(q2); }
    if (max !== null && max < needPages) throw new Error("maximum memory below the tables' size");
    mem.body = Buffer.concat([u32leb(1), Buffer.from([flags]), u32leb(Math.max(min, needPages)), max !== null ? u32leb(max) : Buffer.alloc(0), rest]);
  }
  const parts = [wasm.subarray(0, 8)];
  for (const s of sections) parts.push(Buffer.from([s.id]), u32leb(s.body.length), s.body);
  return Buffer.concat(parts);
}
