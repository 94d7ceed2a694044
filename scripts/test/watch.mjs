#!/usr/bin/env node
// `npm run test:watch`: tsc recompiles changed sources into dist/ and vitest, watching dist/test,
// reruns the unit tests affected by what changed. Extra arguments go to vitest (e.g. a file filter).
// Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const children = [
  spawn(bin('tsc'), ['-p', 'tsconfig.json', '--watch', '--preserveWatchOutput'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] }),
  spawn(bin('vitest'), ['watch', '--project', 'unit', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' }),
];
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
for (const c of children) c.once('exit', (code) => {
  stop();
  process.exitCode = code ?? 1;
});
