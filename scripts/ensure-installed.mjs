#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm dependencies when node_modules is missing or the
// lockfile changed since the last install, so `npm test` / `npm run demo` are the only commands
// a new machine needs. Cheap when nothing changed (one hash of package-lock.json).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = readFileSync(join(root, 'package-lock.json'));
const digest = createHash('sha256').update(lock).digest('hex');
const stamp = join(root, 'node_modules', '.tokenroute-lock-sha256');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== digest) {
  console.log('ensure-installed: installing npm dependencies (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  writeFileSync(stamp, digest);
}
