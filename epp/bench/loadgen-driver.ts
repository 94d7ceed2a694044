// The Go ext_proc load generator (epp/bench/loadgen: one core of load saturates one core of EPP)
// as the EPP benchmarks drive it, and the /proc readings they take of the process under test.
// Shared by bench:epp's in-house rows and its side-by-side run with llm-d's EPP (their CPU readings:
// extproc-client.ts processCpuSeconds).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findPackageRoot } from '../src/protocol/proto.js';

const ROOT = findPackageRoot();
export const LOADGEN = join(ROOT, '.cache', 'bin', 'extproc-loadgen');

export function ensureLoadgen(): void {
  if (existsSync(LOADGEN)) return;
  console.log('building the Go ext_proc load generator (once) ...');
  execFileSync('go', ['build', '-o', LOADGEN, '.'], { cwd: join(ROOT, 'epp', 'bench', 'loadgen'), stdio: 'inherit' });
}

export interface LoadOut {
  perSecond: number;
  decisionP50: number;
  decisionP99: number;
  streamP50: number;
  streamP99: number;
  errors: number;
  destinations?: Record<string, number>;
}

/**
 * `concurrency` Envoy-shaped streams (request headers + a `bodyBytes` chat body, response headers +
 * body) in flight against `port` for `seconds` after a 2 s warm-up; the generator pinned to `cpus`.
 * Asynchronous, so the caller's event loop (and the pipes of the processes it started) keep running.
 */
export async function runLoad(port: number, concurrency: number, seconds: number, o: { cpus?: string; bodyBytes?: number } = {}): Promise<LoadOut> {
  const args = [LOADGEN, '--target', `127.0.0.1:${port}`, '--concurrency', String(concurrency), '--seconds', String(seconds), '--warmup', '2', '--body-bytes', String(o.bodyBytes ?? 4096)];
  const { stdout } = await promisify(execFile)('taskset', ['-c', o.cpus ?? '1', ...args], { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  return JSON.parse(stdout) as LoadOut;
}

/** Resident memory now and at its peak (VmRSS, VmHWM), MiB. */
export function residentMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}
