// TokenizerPool: worker threads that run computeRequestKeys (the shared core wasm) so EPP-side
// tokenization never blocks the event loop. One process-wide pool, shared by every prefix
// plugin and the render server (acquire/release count users; the last release stops the
// workers). The threads, queue bound, timeouts and crash handling are util/worker-pool.ts's; a
// job that is not answered in time resolves as a failure (the caller falls back to character
// blocks).
import { TokenrouteCore } from '../../../../filter/core/tokenroute-core.js';
import { ownBuffer, serveJobs, SharedInstance, WorkerPool } from '../../util/worker-pool.js';
import { computeRequestKeys, type KeyJob, type KeyResult } from './request-keys.js';

const KIND = 'tokenroute-tokenizer';

export interface TokenizerPoolOptions {
  readonly workers: number;
  /** Jobs waiting or running beyond this are refused (the caller falls back). */
  readonly maxQueue?: number;
}

export class TokenizerPool {
  private readonly pool: WorkerPool<KeyJob, KeyResult>;

  constructor(opts: TokenizerPoolOptions) {
    this.pool = new WorkerPool({ script: new URL('./tokenizer-pool.js', import.meta.url), kind: KIND, workers: opts.workers, maxQueue: opts.maxQueue ?? 1024 });
  }

  /** Runs a job off the event loop; resolves with a failure on timeout or overload. */
  async run(job: KeyJob, timeoutMs: number): Promise<KeyResult> {
    // The body travels as a buffer of its own, moved rather than cloned; the parsed JSON only
    // when there are no bytes to read (cloning a large object costs the event loop its size).
    const body = job.body ? new Uint8Array(ownBuffer(job.body)) : undefined;
    const sent: KeyJob = body ? { ...job, body, json: undefined } : job;
    const a = await this.pool.run(sent, timeoutMs, body ? [body.buffer] : undefined);
    return a.ok ? a.value : { ok: false, reason: a.reason.replace(KIND, 'tokenizer') };
  }

  /**
   * Loads the core and builds each tokenizer's tables in every worker (≈ 0.1 s a model), so the
   * first requests do not time out into the character fallback.
   */
  async warmup(bindings: readonly { tokenizer: string; template?: string }[], timeoutMs = 30_000): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    for (let w = 0; w < this.pool.size; w++) {
      for (const binding of bindings) {
        jobs.push(this.pool.runOn(w, { kind: 'completions', json: { model: 'warmup', prompt: 'warm up' }, model: 'warmup', binding, blockSize: 16, maxBlocks: 1 }, timeoutMs));
      }
    }
    await Promise.all(jobs);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

const shared = new SharedInstance((workers: number) => new TokenizerPool({ workers }));

/** The process-wide pool (created on first use with `workers` threads). */
export function acquireTokenizerPool(workers: number): TokenizerPool {
  return shared.acquire(workers);
}

export function releaseTokenizerPool(pool: TokenizerPool): Promise<void> {
  return shared.release(pool);
}

// ---- worker side
serveJobs<KeyJob, KeyResult>(KIND, (() => {
  let core: TokenrouteCore | undefined;
  return (job: KeyJob) => computeRequestKeys((core ??= TokenrouteCore.load()), job);
})());
