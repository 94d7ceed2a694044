// Where the built filter module lives: $TOKENROUTE_FILTER_WASM, else filter/build/filter.wasm found
// from this file's location (source or dist*) upwards, else from the working directory.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function defaultFilterWasmPath(): string {
  const env = process.env.TOKENROUTE_FILTER_WASM;
  if (env) return env;
  const rel = join('filter', 'build', 'filter.wasm');
  for (let d = dirname(fileURLToPath(import.meta.url)); dirname(d) !== d; d = dirname(d)) {
    const p = join(d, rel);
    if (existsSync(p)) return p;
  }
  const cwd = resolve(rel);
  if (existsSync(cwd)) return cwd;
  throw new Error(`filter module not found (${rel}); build it with: node filter/tools/build-filter.mjs`);
}
