// TokenizerPool: worker threads that run computeRequestKeys (the shared core wasm) so EPP-side
// tokenization never blocks the event loop. One process-wide pool, shared by every prefix
// plugin (acquire/release count users; the last release stops the workers). Jobs are queued
// round-robin with a bound; a job that is not answered in time resolves as a failure (the caller
// falls back to character blocks) and its late answer is ignored.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { TokenrouteCore } from '../../../../filter/core/tokenroute-core.js';
import { computeRequestKeys, type KeyJob, type KeyResult } from './request-keys.js';

interface JobMessage {
  readonly id: number;
  readonly job: KeyJob;
}

interface ResultMessage {
  readonly id: number;
  readonly result: KeyResult;
}

export interface TokenizerPoolOptions {
  readonly workers: number;
  /** Jobs waiting or running beyond this are refused (the caller falls back). */
  readonly maxQueue?: number;
}

export class TokenizerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: KeyResult) => void; timer: NodeJS.Timeout; worker: number }>();
  private readonly load: number[] = [];
  private nextId = 1;
  private readonly maxQueue: number;
  private closed = false;

  constructor(opts: TokenizerPoolOptions) {
    this.maxQueue = opts.maxQueue ?? 1024;
    const n = Math.max(1, opts.workers);
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./tokenizer-pool.js', import.meta.url), { workerData: { kind: 'tokenroute-tokenizer' } });
      w.on('message', (m: ResultMessage) => this.done(m));
      w.on('error', () => {
        /* jobs time out; the pool keeps working with the others */
      });
      w.unref();
      this.workers.push(w);
      this.load.push(0);
    }
  }

  /** Runs a job off the event loop; resolves with a failure on timeout or overload. */
  run(job: KeyJob, timeoutMs: number): Promise<KeyResult> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'tokenizer pool closed' });
    if (this.pending.size >= this.maxQueue) return Promise.resolve({ ok: false, reason: 'tokenizer queue full' });
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
    const id = this.nextId++;
    return new Promise<KeyResult>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        this.load[w]--;
        resolve({ ok: false, reason: `tokenization took longer than ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer, worker: w });
      this.load[w]++;
      // A view into a larger buffer (a pooled Buffer) would clone all of it: send just the body.
      const body = job.body;
      const sent = body && (body.byteOffset !== 0 || body.byteLength !== body.buffer.byteLength) ? { ...job, body: new Uint8Array(body) } : job;
      this.workers[w].postMessage({ id, job: sent } satisfies JobMessage);
    });
  }

  /**
   * Loads the core and builds each tokenizer's tables in every worker (≈ 0.1 s a model), so the
   * first requests do not time out into the character fallback.
   */
  async warmup(bindings: readonly { tokenizer: string; template?: string }[], timeoutMs = 30_000): Promise<void> {
    const jobs: Promise<KeyResult>[] = [];
    for (let w = 0; w < this.workers.length; w++) {
      for (const b of bindings) {
        const id = this.nextId++;
        jobs.push(
          new Promise<KeyResult>((resolve) => {
            const timer = setTimeout(() => {
              if (this.pending.delete(id)) this.load[w]--;
              resolve({ ok: false, reason: 'warmup timed out' });
            }, timeoutMs);
            this.pending.set(id, { resolve, timer, worker: w });
            this.load[w]++;
            const job: KeyJob = { kind: 'completions', json: { model: 'warmup', prompt: 'warm up' }, model: 'warmup', binding: b, blockSize: 16, maxBlocks: 1 };
            this.workers[w].postMessage({ id, job } satisfies JobMessage);
          }),
        );
      }
    }
    await Promise.all(jobs);
  }

  private done(m: ResultMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.load[p.worker]--;
    clearTimeout(p.timer);
    p.resolve(m.result);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, reason: 'tokenizer pool closed' });
      this.pending.delete(id);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let shared: { pool: TokenizerPool; users: number } | undefined;

/** The process-wide pool (created on first use with `workers` threads). */
export function acquireTokenizerPool(workers: number): TokenizerPool {
  if (!shared) shared = { pool: new TokenizerPool({ workers }), users: 0 };
  shared.users++;
  return shared.pool;
}

export async function releaseTokenizerPool(pool: TokenizerPool): Promise<void> {
  if (!shared || shared.pool !== pool) return;
  if (--shared.users > 0) return;
  shared = undefined;
  await pool.close();
}

// ---- worker side
if (!isMainThread && parentPort && (workerData as { kind?: string } | null)?.kind === 'tokenroute-tokenizer') {
  const core = TokenrouteCore.load();
  const port = parentPort;
  port.on('message', (m: JobMessage) => {
    const result = computeRequestKeys(core, m.job);
    port.postMessage({ id: m.id, result } satisfies ResultMessage);
  });
}
