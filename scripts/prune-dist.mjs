#!/usr/bin/env node
// The build is incremental (tsc --incremental, no `rm -rf dist`), so a source file that was moved
// or deleted would leave its compiled copy behind — and the test runner, which runs dist/test,
// would still run a stale test. This removes every dist/**/*.js (and its .map) whose .ts source
// is gone.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
let removed = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      walk(p);
      if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
    } else if (name.endsWith('.js') || name.endsWith('.js.map')) {
      const source = join(root, relative(dist, p)).replace(/\.js(\.map)?$/, '.ts');
      if (!existsSync(source)) {
        rmSync(p);
        removed++;
      }
    }
  }
}

if (existsSync(dist)) walk(dist);
if (removed > 0) console.log(`prune-dist: removed ${removed} compiled file(s) whose source is gone`);
