// util/worker-pool.ts: every job gets exactly one answer — its result, or a failure when the
// queue is full, the job is late, its worker dies (and is replaced) or the pool closes.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerPool } from '../../../epp/src/util/worker-pool.js';

type Job = { op: 'echo'; v: number } | { op: 'spin'; ms: number } | { op: 'die' };

const dir = mkdtempSync(join(tmpdir(), 'tr-worker-pool-'));
const script = join(dir, 'worker.mjs');
writeFileSync(
  script,
  `import { serveJobs } from ${JSON.stringify(new URL('../../../epp/src/util/worker-pool.js', import.meta.url).href)};
serveJobs('test-pool', (job) => {
  if (job.op === 'die') process.exit(3);
  if (job.op === 'spin') { const end = Date.now() + job.ms; while (Date.now() < end); return job.ms; }
  return job.v * 2;
});
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pool = (workers = 1, maxQueue = 8) => new WorkerPool<Job, number>({ script: pathToFileURL(script), kind: 'test-pool', workers, maxQueue });

describe('WorkerPool', () => {
  it('answers jobs, refuses past the queue bound, and frees the slot after the answer', async () => {
    const p = pool(1, 2);
    try {
      const all = await Promise.all([p.run({ op: 'spin', ms: 200 }, 60_000), p.run({ op: 'echo', v: 21 }, 60_000), p.run({ op: 'echo', v: 1 }, 60_000)]);
      assert.deepEqual(all[0], { ok: true, value: 200 });
      assert.deepEqual(all[1], { ok: true, value: 42 });
      assert.equal(all[2].ok, false);
      assert.match((all[2] as { reason: string }).reason, /queue full \(2 jobs\)/);
      assert.equal(p.queued, 0);
      assert.deepEqual(await p.run({ op: 'echo', v: 2 }, 60_000), { ok: true, value: 4 });
    } finally {
      await p.close();
    }
  });

  it('a late job fails at its timeout and its late answer is ignored', async () => {
    const p = pool();
    try {
      const late = await p.run({ op: 'spin', ms: 1500 }, 50);
      assert.equal(late.ok, false);
      assert.match((late as { reason: string }).reason, /took longer than 50 ms/);
      assert.deepEqual(await p.run({ op: 'echo', v: 5 }, 60_000), { ok: true, value: 10 }, 'the worker still serves after finishing the late job');
    } finally {
      await p.close();
    }
  });

  it('a dying worker fails its jobs at once and is replaced', async () => {
    const p = pool();
    try {
      const started = Date.now();
      const [dead, queued] = await Promise.all([p.run({ op: 'die' }, 60_000), p.run({ op: 'echo', v: 1 }, 60_000)]);
      assert.equal(dead.ok, false);
      assert.match((dead as { reason: string }).reason, /worker exited/);
      assert.equal(queued.ok, false, 'a job queued on the dead worker fails too, not at its timeout');
      assert.ok(Date.now() - started < 30_000);
      assert.deepEqual(await p.run({ op: 'echo', v: 3 }, 60_000), { ok: true, value: 6 }, 'a fresh worker took its place');
    } finally {
      await p.close();
    }
  });

  it('close answers every pending job and refuses new ones', async () => {
    const p = pool();
    const pending = p.run({ op: 'spin', ms: 2000 }, 60_000);
    await p.close();
    const a = await pending;
    assert.equal(a.ok, false);
    assert.match((a as { reason: string }).reason, /pool closed/);
    assert.equal((await p.run({ op: 'echo', v: 1 }, 1000)).ok, false);
  });
});
