// One ext_proc Process() stream as the development gateway drives it (one per HTTP request, on
// the gateway's single gRPC channel, as Envoy opens one stream per request on a worker's HTTP/2
// connection). Replies are queued and taken one at a time with an optional deadline; every way
// the stream can fail (gRPC error status, the server closing the stream early, a reply that does
// not arrive within the message timeout) surfaces as an ExtProcFailure, so the gateway applies
// the pool's failure mode in one place.
import * as grpc from '@grpc/grpc-js';
import type { ExtProcClient } from './client.js';
import type { ProcessingRequest, ProcessingResponse } from '../../epp/src/protocol/index.js';

export type ExtProcFailureKind =
  /** The channel is down (connection refused, not ready within the connect timeout). */
  | 'unavailable'
  /** The stream ended with a gRPC error, or the server closed it while a reply was due. */
  | 'stream'
  /** No reply within the message timeout. */
  | 'timeout'
  /** The reply does not fit the FULL_DUPLEX_STREAMED protocol (e.g. a body reply before the headers reply). */
  | 'protocol';

export class ExtProcFailure extends Error {
  constructor(
    readonly kind: ExtProcFailureKind,
    message: string,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve(r: ProcessingResponse): void;
  reject(e: ExtProcFailure): void;
  timer?: NodeJS.Timeout;
}

export class ExtProcCall {
  private readonly call: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
  private readonly queue: ProcessingResponse[] = [];
  private waiter: Waiter | undefined;
  private failure: ExtProcFailure | undefined;
  private halfClosed = false;
  private done = false;

  constructor(client: ExtProcClient, metadata: grpc.Metadata) {
    this.call = client.Process(metadata);
    this.call.on('data', (r: ProcessingResponse) => {
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        if (w.timer) clearTimeout(w.timer);
        w.resolve(r);
      } else {
        this.queue.push(r);
      }
    });
    // grpc-js emits 'error' for a non-OK status and 'status' for every status; both end the call.
    this.call.on('error', (e: grpc.ServiceError) => this.ended(new ExtProcFailure(e.code === grpc.status.UNAVAILABLE ? 'unavailable' : 'stream', `ext_proc stream failed: ${grpc.status[e.code] ?? e.code} ${e.details ?? e.message}`)));
    this.call.on('status', (s: grpc.StatusObject) => {
      this.ended(s.code === grpc.status.OK ? new ExtProcFailure('stream', 'ext_proc stream closed by the server') : new ExtProcFailure(s.code === grpc.status.UNAVAILABLE ? 'unavailable' : 'stream', `ext_proc stream failed: ${grpc.status[s.code] ?? s.code} ${s.details}`));
    });
  }

  /** True once the stream is over (by either side); later sends are dropped. */
  get closed(): boolean {
    return this.done;
  }

  private ended(f: ExtProcFailure): void {
    if (this.done) return;
    this.done = true;
    this.failure = f;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.reject(f);
    }
  }

  /** Sends one message; false when the stream is already over. */
  send(msg: ProcessingRequest): boolean {
    if (this.done || this.halfClosed) return false;
    this.call.write(msg);
    return true;
  }

  /** The next reply. Rejects with an ExtProcFailure when the stream ends first or `timeoutMs` passes. */
  next(timeoutMs?: number): Promise<ProcessingResponse> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.done) return Promise.reject(this.failure ?? new ExtProcFailure('stream', 'ext_proc stream ended'));
    if (this.waiter) return Promise.reject(new ExtProcFailure('protocol', 'internal: two readers on one ext_proc stream'));
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          if (this.waiter !== w) return;
          this.waiter = undefined;
          const f = new ExtProcFailure('timeout', `no ext_proc reply within the message timeout (${timeoutMs} ms)`);
          reject(f);
          this.cancel();
        }, timeoutMs);
      }
      this.waiter = w;
    });
  }

  /** Half-closes our side: the exchange is complete (Envoy closes the stream after the last reply). */
  finish(): void {
    if (this.done || this.halfClosed) return;
    this.halfClosed = true;
    this.call.end();
    // Nothing more is expected from the server; do not treat its closing as a failure.
    this.done = true;
  }

  /** Resets the stream (client gone, upstream failed, failure mode applied). */
  cancel(): void {
    if (!this.done) this.ended(new ExtProcFailure('stream', 'ext_proc stream cancelled by the gateway'));
    this.call.cancel();
  }
}
