#!/usr/bin/env node
// Builds filter/build/filter.wasm: the proxy-wasm filter (filter/assembly/index.ts) compiled with
// AssemblyScript (asconfig.json target "filter"), with the tokenizer tables of the selected models
// embedded as a data segment (filter/tools/embed.mjs), then checked the way Envoy checks a module
// before running it: ABI version marker, allocator, callback signatures, and every import present in
// Envoy's host with the same signature (filter/host/envoy-abi.ts — the same table the Node host uses).
//
// Usage: node filter/tools/build-filter.mjs [--models qwen3,llama3_1,...] [--out path] [--debug] [--wat]
// Prints the module's size and sha256 (Envoy Gateway's Wasm `code.http.sha256`).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { injectData, tablesRegion } from './embed.mjs';
import { MODELS } from './models.mjs';
import { stamp, upToDate } from './build-stamp.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const models = opt('--models', Object.keys(MODELS).join(',')).split(',').filter(Boolean);
const out = resolve(opt('--out', join(root, 'filter', 'build', 'filter.wasm')));
const debug = args.includes('--debug');
const wat = args.includes('--wat');
if (upToDate(root, out, args)) {
  console.log(`${out}: up to date`);
  process.exit(0);
}

/** Loads an import-free TypeScript module of the host (type imports only) without a tsc build. */
async function loadTs(rel) {
  const src = readFileSync(join(root, rel), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
}

const t0 = Date.now();
const region = tablesRegion(models, (m) => console.log(m));
mkdirSync(dirname(out), { recursive: true });
const plain = out.replace(/\.wasm$/, '.plain.wasm');
const asc = join(root, 'node_modules', '.bin', 'asc');
execFileSync(
  asc,
  [
    join(root, 'filter', 'assembly', 'index.ts'),
    '--config', join(root, 'asconfig.json'),
    '--target', debug ? 'filter-debug' : 'filter',
    '--outFile', plain,
    ...(wat ? ['--textFile', out.replace(/\.wasm$/, '.wat')] : []),
    '--memoryBase', String(region.memoryBase),
    '--initialMemory', String(Math.ceil(region.memoryBase / 65536) + 16),
  ],
  { stdio: 'inherit', cwd: root },
);
const wasm = injectData(readFileSync(plain), region.address, region.bytes);

const { parseWasmModule } = await loadTs('filter/host/wasm-module.ts');
const { checkModule } = await loadTs('filter/host/envoy-abi.ts');
const info = parseWasmModule(wasm);
const check = checkModule(info);
if (check.errors.length > 0) {
  console.error(`build-filter: Envoy would refuse ${out}:\n  ${check.errors.join('\n  ')}`);
  process.exit(1);
}
writeFileSync(out, wasm);
const sha = createHash('sha256').update(wasm).digest('hex');
writeFileSync(`${out}.sha256`, `${sha}  ${out.split('/').pop()}\n`);
const imports = info.imports.map((i) => `${i.module}.${i.name}`).join(', ');
console.log(
  `built ${out}: ${(wasm.length / 1048576).toFixed(2)} MiB, ABI ${check.abiVersion}, models=${models.join(',')}, ` +
    `${info.imports.length} imports (${imports}) in ${Date.now() - t0} ms\nsha256 ${sha}`,
);
stamp(root, out, args);
