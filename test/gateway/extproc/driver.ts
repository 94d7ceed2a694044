// Test side of the gateway's ext_proc client (gateway/extproc/client.ts): a scriptable Envoy on one
// Process() stream — send messages, await the EPP's replies one by one, assert on their order, on
// their absence and on the final gRPC status — plus builders for the messages Envoy sends. The
// EPP's ext_proc, server and integration tests play the proxy with it.
import * as grpc from '@grpc/grpc-js';
import type { ExtProcClient } from '../../../gateway/index.js';
import type { HeaderMutation, ProcessingRequest, ProcessingResponse } from '../../../epp/src/protocol/index.js';

export interface CallStatus {
  code: number;
  details: string;
}

/** Drives one Process() call: send messages, await replies one by one, check the final status. */
export class StreamDriver {
  readonly call: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
  private readonly queue: ProcessingResponse[] = [];
  private waiters: ((r: ProcessingResponse | undefined) => void)[] = [];
  private ended = false;
  readonly status: Promise<CallStatus>;

  constructor(client: ExtProcClient, metadata?: grpc.Metadata) {
    this.call = client.Process(metadata ?? new grpc.Metadata());
    this.call.on('data', (r: ProcessingResponse) => {
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    this.status = new Promise((resolve) => {
      let settled = false;
      const done = (s: CallStatus) => {
        if (settled) return;
        settled = true;
        this.ended = true;
        for (const w of this.waiters.splice(0)) w(undefined);
        resolve(s);
      };
      this.call.on('status', (s: grpc.StatusObject) => done({ code: s.code, details: s.details }));
      this.call.on('error', (e: grpc.ServiceError) => done({ code: e.code, details: e.details }));
    });
  }

  send(msg: ProcessingRequest): this {
    this.call.write(msg);
    return this;
  }

  /** Next reply; rejects after `timeoutMs` or if the call ended without one. */
  next(timeoutMs = 3000): Promise<ProcessingResponse> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error('stream ended; no more replies'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: ProcessingResponse | undefined) => {
        clearTimeout(timer);
        if (r) resolve(r);
        else reject(new Error('stream ended; no more replies'));
      };
      this.waiters.push(waiter);
    });
  }

  async take(n: number): Promise<ProcessingResponse[]> {
    const out: ProcessingResponse[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }

  /** Resolves true if no reply arrives within `ms` (the reply must be deferred). */
  async silentFor(ms: number): Promise<boolean> {
    if (this.queue.length > 0) return false;
    try {
      const r = await this.next(ms);
      this.queue.unshift(r);
      return false;
    } catch {
      return this.queue.length === 0;
    }
  }

  pendingCount(): number {
    return this.queue.length;
  }

  end(): this {
    this.call.end();
    return this;
  }

  cancel(): void {
    this.call.cancel();
  }
}

// ---- message builders (the shapes Envoy sends) ----

export function headersMsg(
  headers: Record<string, string>,
  endOfStream = false,
  extra: Partial<ProcessingRequest> = {},
  field: 'raw_value' | 'value' = 'raw_value',
): ProcessingRequest {
  return {
    request_headers: {
      headers: {
        headers: Object.entries(headers).map(([key, v]) => (field === 'raw_value' ? { key, raw_value: Buffer.from(v) } : { key, value: v })),
      },
      end_of_stream: endOfStream,
    },
    ...extra,
  };
}

export function bodyMsg(body: Buffer | string, endOfStream: boolean, extra: Partial<ProcessingRequest> = {}): ProcessingRequest {
  return { request_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body), end_of_stream: endOfStream }, ...extra };
}

export function respHeadersMsg(headers: Record<string, string>, endOfStream = false, extra: Partial<ProcessingRequest> = {}): ProcessingRequest {
  return {
    response_headers: { headers: { headers: Object.entries(headers).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) }, end_of_stream: endOfStream },
    ...extra,
  };
}

export function respBodyMsg(body: Buffer | string, endOfStream: boolean, extra: Partial<ProcessingRequest> = {}): ProcessingRequest {
  return { response_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body), end_of_stream: endOfStream }, ...extra };
}

/** metadata_context with envoy.lb → x-gateway-destination-endpoint-served. */
export function servedMetadata(endpoint: string): Partial<ProcessingRequest> {
  return {
    metadata_context: {
      filter_metadata: { 'envoy.lb': { fields: { 'x-gateway-destination-endpoint-served': { stringValue: endpoint } } } },
    },
  };
}

/** A header mutation's set headers as name → value (whichever value field was used). */
export function setHeadersOf(m: HeaderMutation | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of m?.set_headers ?? []) {
    const h = o.header;
    out.set(h.key, h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? ''));
  }
  return out;
}
