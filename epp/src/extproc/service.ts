// Binds ExtProcStream to grpc-js: one state machine per Process() call, fed from the call's
// messages, half-close and cancellation, writing back through the call. Kept thin so that all
// protocol decisions live in stream.ts.
import type * as grpc from '@grpc/grpc-js';
import type { Metadata as GrpcMetadata } from '@grpc/grpc-js';
import { extProcServiceDefinition } from '../protocol/proto.js';
import type { ProcessingRequest, ProcessingResponse } from '../protocol/types.js';
import { ExtProcStream, resolveExtProcOptions, type ExtProcOptions, type ExtProcSink } from './stream.js';

export type ExtProcServiceOptions = Pick<ExtProcOptions, 'controller' | 'logger'> & Partial<ExtProcOptions>;

type ProcessCall = grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>;

/**
 * Closes streams the proxy has gone silent on (ExtProcOptions.streamIdleTimeoutMs): one sweep
 * over the open streams every quarter of the timeout (at most every 5 s), running only while
 * streams are open, so the per-message cost is one clock read.
 */
class IdleReclaimer {
  private readonly open = new Set<ExtProcStream>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs: number) {}

  add(stream: ExtProcStream): void {
    if (this.idleMs <= 0) return;
    this.open.add(stream);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), Math.max(10, Math.min(5000, Math.floor(this.idleMs / 4))));
      this.timer.unref();
    }
  }

  delete(stream: ExtProcStream): void {
    this.open.delete(stream);
    if (this.open.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of this.open) {
      if (s.isIdle(now, this.idleMs)) s.onIdleTimeout(this.idleMs);
      if (s.closed) this.delete(s);
    }
  }
}

/** The `Process` handler: pass it to Server.addService under the ExternalProcessor definition. */
export function createProcessHandler(options: ExtProcServiceOptions): grpc.handleBidiStreamingCall<ProcessingRequest, ProcessingResponse> {
  const opts = resolveExtProcOptions({ ...options, logger: options.logger.child({ component: 'extproc' }) });
  const reclaimer = new IdleReclaimer(opts.streamIdleTimeoutMs);
  return (call: ProcessCall) => {
    const sink: ExtProcSink = {
      send: (r) => {
        call.write(r);
      },
      end: () => {
        call.end();
      },
      fail: (code, details) => {
        // grpc-js turns an 'error' event on a server stream into the call's final status.
        call.emit('error', { code, details });
      },
    };
    const stream = new ExtProcStream(opts, sink, grpcMetadataMap(call.metadata));
    reclaimer.add(stream);
    call.on('data', (msg: ProcessingRequest) => stream.onMessage(msg));
    call.on('end', () => stream.onClientEnd());
    call.on('cancelled', () => stream.onCancel());
    call.on('error', () => stream.onCancel());
    call.on('close', () => reclaimer.delete(stream));
  };
}

/** Registers the ExternalProcessor service on `server`. */
export function addExtProcService(server: grpc.Server, options: ExtProcServiceOptions): void {
  server.addService(extProcServiceDefinition(), { Process: createProcessHandler(options) });
}

/**
 * The call's initial metadata (where a route's `grpc_initial_metadata` lands) with lower-cased
 * keys; binary (`-bin`) values are base64, as they travel on the wire.
 */
export function grpcMetadataMap(md: GrpcMetadata | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!md) return out;
  const map = md.getMap();
  for (const key of Object.keys(map)) {
    const v = map[key];
    out.set(key.toLowerCase(), typeof v === 'string' ? v : v.toString('base64'));
  }
  return out;
}
