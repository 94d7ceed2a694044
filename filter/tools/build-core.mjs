#!/usr/bin/env node
// Builds filter/build/tokenroute-core.wasm: filter/assembly/standalone.ts compiled with AssemblyScript, with the
// tokenizer tables of the selected models embedded as a data segment (see embed.mjs).
// Usage: node filter/tools/build-core.mjs [--models qwen3,qwen2_5,llama3_1,deepseek_v3] [--out path] [--debug]
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { tablesRegion, injectData } from "./embed.mjs";
import { MODELS } from "./models.mjs";
import { stamp, upToDate } from "./build-stamp.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const models = opt("--models", Object.keys(MODELS).join(",")).split(",").filter(Boolean);
const out = resolve(opt("--out", join(root, "filter", "build", "tokenroute-core.wasm")));
const debug = args.includes("--debug");
if (upToDate(root, out, args)) {
  console.log(`${out}: up to date`);
  process.exit(0);
}

const t0 = Date.now();
const region = tablesRegion(models, (m) => console.log(m));
const plain = out.replace(/\.wasm$/, ".plain.wasm");
mkdirSync(dirname(out), { recursive: true });
const asc = join(root, "node_modules", ".bin", "asc");
const ascArgs = [
  join(root, "filter", "assembly", "standalone.ts"),
  "--outFile", plain,
  "--runtime", "incremental",
  "--exportRuntime",
  "--memoryBase", String(region.memoryBase),
  "--initialMemory", String(Math.ceil(region.memoryBase / 65536) + 16),
  "--noAssert",
  ...(debug ? ["--debug", "--sourceMap"] : ["-O3", "--converge"]),
];
execFileSync(asc, ascArgs, { stdio: "inherit", cwd: root });
const wasm = injectData(readFileSync(plain), region.address, region.bytes);
writeFileSync(out, wasm);
console.log(`built ${out}: ${(statSync(out).size / 1048576).toFixed(2)} MiB (tables ${(region.bytes.length / 1048576).toFixed(2)} MiB, ` +
  `code+data ${(statSync(plain).size / 1024).toFixed(0)} KiB) models=${models.join(",")} in ${Date.now() - t0} ms`);
stamp(root, out, args);
