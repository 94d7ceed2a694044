// Request-body accumulation for the full-duplex path, where the body arrives as many chunks and
// routing waits for the last one. Long prompts (hundreds of KB) made this a measured hot spot in
// GIE (#2928, fixed by preallocating in PR #2924), so: when the proxy announced content-length we
// copy each chunk into one preallocated buffer (and let the gRPC frames go); otherwise we keep the
// chunk views and concatenate once at the end; a single-chunk body is never copied.

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the maximum of ${limit} bytes`);
  }
}

export class BodyAccumulator {
  private prealloc: Buffer | undefined;
  private chunks: Buffer[] = [];
  private total = 0;

  /**
   * @param limit maximum total bytes; exceeding it throws BodyTooLargeError.
   * @param expectedLength the request's content-length when known and within the limit.
   */
  constructor(private readonly limit: number, expectedLength?: number) {
    if (expectedLength !== undefined && expectedLength > 0 && expectedLength <= limit) {
      this.prealloc = Buffer.allocUnsafe(expectedLength);
    }
  }

  get length(): number {
    return this.total;
  }

  append(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    const next = this.total + n;
    if (next > this.limit) throw new BodyTooLargeError(this.limit);
    const pre = this.prealloc;
    if (pre) {
      if (next <= pre.length) {
        pre.set(chunk, this.total);
        this.total = next;
        return;
      }
      // The proxy sent more than content-length promised: fall back to the chunk list.
      this.chunks.push(pre.subarray(0, this.total));
      this.prealloc = undefined;
    }
    this.chunks.push(asBuffer(chunk));
    this.total = next;
  }

  /** The whole body. Call once, after the last chunk. */
  finish(): Buffer {
    const pre = this.prealloc;
    if (pre) {
      this.prealloc = undefined;
      return this.total === pre.length ? pre : pre.subarray(0, this.total);
    }
    const chunks = this.chunks;
    this.chunks = [];
    if (chunks.length === 0) return EMPTY;
    if (chunks.length === 1) return chunks[0];
    return Buffer.concat(chunks, this.total);
  }

  /** Drops what was collected (cancel/reject), so a dead stream holds no body memory. */
  discard(): void {
    this.prealloc = undefined;
    this.chunks = [];
    this.total = 0;
  }
}

export const EMPTY: Buffer = Buffer.alloc(0);

export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Parses a content-length header value; undefined when absent or malformed (then the
 * accumulator simply does not preallocate).
 */
export function parseContentLength(v: string | undefined): number | undefined {
  if (v === undefined || v.length === 0 || v.length > 15) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
