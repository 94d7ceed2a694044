// Helpers shared by the host and filter tests: the repository root, the built filter module, and
// AssemblyScript test fixtures (test/filter/**/fixtures/*.ts) compiled on demand with the same
// options as the filter (asconfig.json target "filter": exportStart _initialize, abort/trace/seed
// routed to proxy_log). Compiled fixtures are cached in the OS temp dir by a hash of their sources.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogEntry } from '../../../filter/host/index.js';

function findRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); dirname(d) !== d; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tokenroute' && existsSync(join(d, 'filter', 'assembly'))) return d;
  }
  throw new Error('repository root not found');
}

export const repoRoot = findRoot();

/** filter/build/filter.wasm, built by `node filter/tools/build-filter.mjs` (npm run build:filter). */
export function filterWasm(): Uint8Array {
  const p = process.env.TOKENROUTE_FILTER_WASM ?? join(repoRoot, 'filter', 'build', 'filter.wasm');
  if (!existsSync(p)) throw new Error(`${p} is missing: build it first with \`node filter/tools/build-filter.mjs\``);
  return new Uint8Array(readFileSync(p));
}

function sourcesHash(entry: string): string {
  const h = createHash('sha256');
  const dirs = [join(repoRoot, 'filter', 'assembly', 'abi'), join(repoRoot, 'filter', 'assembly', 'request')];
  for (const d of dirs) for (const f of readdirSync(d).sort()) h.update(f).update(readFileSync(join(d, f)));
  h.update(readFileSync(join(repoRoot, 'filter', 'assembly', 'protocol.ts')));
  h.update(readFileSync(entry));
  return h.digest('hex').slice(0, 24);
}

/** Compiles test/filter/<dir>/fixtures/<name>.ts (default dir "host") to wasm bytes. */
export async function compileFixture(name: string, dir = 'host'): Promise<Uint8Array> {
  const rel = join('test', 'filter', dir, 'fixtures', `${name}.ts`);
  const entry = join(repoRoot, rel);
  const cacheDir = join(tmpdir(), 'tokenroute-fixtures');
  const cached = join(cacheDir, `${dir}-${name}-${sourcesHash(entry)}.wasm`);
  if (existsSync(cached)) return new Uint8Array(readFileSync(cached));
  const asc = (await import('assemblyscript/asc')).default;
  let binary: Uint8Array | undefined;
  let stderr = '';
  const result = await asc.main(
    [
      rel,
      '--outFile', 'fixture.wasm',
      '--baseDir', repoRoot,
      '--runtime', 'incremental',
      '--exportStart', '_initialize',
      '--use', 'abort=filter/assembly/abi/runtime/abortHandler',
      '--use', 'trace=filter/assembly/abi/runtime/traceHandler',
      '--use', 'seed=filter/assembly/abi/runtime/seedHandler',
      '-O1',
    ],
    {
      writeFile: (file: string, contents: Uint8Array | string) => {
        if (file.endsWith('.wasm')) binary = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
      },
      stderr: { write: (s: string | Uint8Array) => ((stderr += typeof s === 'string' ? s : Buffer.from(s).toString()), true) } as never,
      stdout: { write: () => true } as never,
    },
  );
  if (result.error || !binary) throw new Error(`compiling ${rel} failed: ${result.error?.message ?? 'no output'}\n${stderr}`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cached, binary);
  return binary;
}

/** The probe fixture's plugin configuration: callback → {return?, do?: actions}. */
export function probeConfig(script: Record<string, { return?: number; do?: string[] }>): string {
  return JSON.stringify(script);
}

/** The probe's own log lines ("probe ..."), without the prefix. */
export function probeLines(logs: readonly LogEntry[]): string[] {
  return logs.filter((l) => l.message.startsWith('probe ')).map((l) => l.message.slice(6));
}

/** The result the probe logged for one action ("<action> -> <result>"). */
export function probeResult(logs: readonly LogEntry[], action: string): string | undefined {
  const prefix = `${action} -> `;
  const line = probeLines(logs).find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length);
}
