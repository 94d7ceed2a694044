// WorkerPool: a few worker threads that run CPU-heavy jobs (tokenizing a prompt, parsing a large
// request body) so the event loop that serves every ext_proc stream never waits on them. Jobs go
// to the least-loaded worker; the queue is bounded (a job beyond it is refused at once, so the
// caller can fall back or answer); a job not answered in time resolves as a failure and its late
// answer is ignored; a worker that dies fails its jobs at once and is replaced. One answer per
// job, always: the pool never rejects and never leaves a promise pending after close().
//
// Worker side: the script calls serveJobs(kind, handler) at module level; it does nothing unless
// the module runs as a worker started by a pool of that kind, so the same file can hold both the
// main-thread face and the worker body (as the tokenizer and the body parser do).
import { Worker, isMainThread, parentPort, workerData, type Transferable } from 'node:worker_threads';

export type PoolAnswer<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly reason: string };

export interface WorkerPoolOptions {
  /** The worker script (a module calling serveJobs with the same kind). */
  readonly script: URL;
  /** Names the job protocol; a worker serves only its own kind. */
  readonly kind: string;
  readonly workers: number;
  /** Jobs waiting or running beyond this are refused. */
  readonly maxQueue: number;
}

interface JobMessage<J> {
  readonly id: number;
  readonly job: J;
}

interface ResultMessage<R> {
  readonly id: number;
  readonly result: R;
}

interface Pending<R> {
  readonly resolve: (a: PoolAnswer<R>) => void;
  readonly timer: NodeJS.Timeout;
  readonly worker: number;
}

export class WorkerPool<J, R> {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending<R>>();
  private readonly load: number[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    const n = Math.max(1, opts.workers);
    for (let i = 0; i < n; i++) {
      this.workers.push(this.spawn(i));
      this.load.push(0);
    }
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.workers.length;
  }

  /** Jobs waiting or running. */
  get queued(): number {
    return this.pending.size;
  }

  /** Runs a job on the least-loaded worker. `transfer` lists buffers moved (not copied) to it. */
  run(job: J, timeoutMs: number, transfer?: readonly Transferable[]): Promise<PoolAnswer<R>> {
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
    return this.runOn(w, job, timeoutMs, transfer);
  }

  /** Runs a job on one worker (e.g. to warm each of them). */
  runOn(w: number, job: J, timeoutMs: number, transfer?: readonly Transferable[]): Promise<PoolAnswer<R>> {
    if (this.closed) return Promise.resolve({ ok: false, reason: `${this.opts.kind} pool closed` });
    if (this.pending.size >= this.opts.maxQueue) return Promise.resolve({ ok: false, reason: `${this.opts.kind} queue full (${this.opts.maxQueue} jobs)` });
    const id = this.nextId++;
    return new Promise<PoolAnswer<R>>((resolve) => {
      const timer = setTimeout(() => this.settle(id, { ok: false, reason: `${this.opts.kind} job took longer than ${timeoutMs} ms` }), timeoutMs);
      this.pending.set(id, { resolve, timer, worker: w });
      this.load[w]++;
      this.workers[w].postMessage({ id, job } satisfies JobMessage<J>, transfer as Transferable[] | undefined);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.settle(id, { ok: false, reason: `${this.opts.kind} pool closed` });
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private spawn(index: number): Worker {
    const w = new Worker(this.opts.script, { workerData: { kind: this.opts.kind } });
    w.on('message', (m: ResultMessage<R>) => this.settle(m.id, { ok: true, value: m.result }));
    // 'error' is followed by 'exit'; a worker that exits (a crash, an out-of-memory in its heap)
    // fails its jobs now rather than at their timeouts, and a fresh one takes its place.
    w.on('error', () => {});
    w.on('exit', () => {
      if (this.closed || this.workers[index] !== w) return;
      for (const [id, p] of [...this.pending]) if (p.worker === index) this.settle(id, { ok: false, reason: `${this.opts.kind} worker exited` });
      this.workers[index] = this.spawn(index);
    });
    w.unref();
    return w;
  }

  private settle(id: number, answer: PoolAnswer<R>): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.load[p.worker]--;
    clearTimeout(p.timer);
    p.resolve(answer);
  }
}

/**
 * One process-wide instance shared by every plugin that uses it: acquire counts users, the last
 * release closes it.
 */
export class SharedInstance<T extends { close(): Promise<void> }, A extends unknown[]> {
  private current: { value: T; users: number } | undefined;

  constructor(private readonly create: (...args: A) => T) {}

  /** The shared instance, created with `args` by its first user (later users' args are ignored). */
  acquire(...args: A): T {
    this.current ??= { value: this.create(...args), users: 0 };
    this.current.users++;
    return this.current.value;
  }

  async release(value: T): Promise<void> {
    const c = this.current;
    if (!c || c.value !== value) return;
    if (--c.users > 0) return;
    this.current = undefined;
    await value.close();
  }
}

/** Worker side: answers the pool's jobs of `kind` with `handle` (a no-op on the main thread). */
export function serveJobs<J, R>(kind: string, handle: (job: J) => R): void {
  if (isMainThread || !parentPort || (workerData as { kind?: string } | null)?.kind !== kind) return;
  const port = parentPort;
  port.on('message', (m: JobMessage<J>) => {
    port.postMessage({ id: m.id, result: handle(m.job) } satisfies ResultMessage<R>);
  });
}

/** The bytes of a view as a buffer of their own, ready to transfer (a view into a pooled buffer would clone all of it). */
export function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
