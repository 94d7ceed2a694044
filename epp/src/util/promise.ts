// A synchronous-or-async answer: hot paths return values directly and go async only when work
// leaves the event loop (a worker, a network call), so callers test which one they got.

export function isPromiseLike<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
