// Integration test: MetricsCollector.stop() leaves nothing behind. Starts a child Node process
// (fixtures/lifecycle-child.ts) that runs real HTTP servers on 127.0.0.x and a collector with
// two real worker threads, stops them, and must then exit by itself.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('after stop() the process exits on its own: no worker, socket or timer left', async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/lifecycle-child.js', import.meta.url))], {
    env: { ...process.env, TOKENROUTE_LIFECYCLE_CHILD: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let stoppedAt = 0;
  child.stdout.on('data', () => {
    if (!stoppedAt && out.includes('"stopped":true')) stoppedAt = Date.now();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.equal(signal, null, `child had to be killed: it did not exit after stop(). stdout=${out} stderr=${err}`);
  assert.equal(code, 0, err);
  const report = JSON.parse(out.trim().split('\n').at(-1) as string) as { stopped: boolean; alive: string[] };
  assert.deepEqual(report.alive, [], 'resources still active after stop()');
  assert.ok(stoppedAt > 0 && Date.now() - stoppedAt < 8000, 'exited promptly after stop() (a leaked handle keeps it alive until the 15 s kill)');
});
