// Test helpers shared by the ext_proc and server tests: a scriptable RequestController whose
// handles record every call, a real gRPC ext_proc client built from Envoy's own protos (the same
// loader the server uses), and a stream driver that queues replies so a test can assert on their
// order, on their absence, and on the final gRPC status.
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';
import type {
  Decision,
  RequestController,
  RequestHandle,
  RequestInput,
  RouteDecision,
} from '../../../epp/src/requestcontrol/handler.js';
import { loadExtProcPackage } from '../../../epp/src/protocol/proto.js';
import type { HeaderMutation, ProcessingRequest, ProcessingResponse } from '../../../epp/src/protocol/types.js';
import { startEppGrpcServers, type EppGrpcServerOptions, type EppGrpcServers } from '../../../epp/src/server/server.js';

export class RecordingHandle implements RequestHandle {
  readonly responseHeaders: Map<string, string>[] = [];
  readonly bodyCalls: { bytes: number; eos: boolean }[] = [];
  readonly served: string[] = [];
  readonly ends: string[] = [];
  constructor(
    readonly requestId: string,
    private readonly transform?: (chunk: Buffer, eos: boolean) => Buffer,
  ) {}
  onResponseHeaders(headers: ReadonlyMap<string, string>): void {
    this.responseHeaders.push(new Map(headers));
  }
  onResponseBody(chunk: Buffer, endOfStream: boolean): Buffer {
    this.bodyCalls.push({ bytes: chunk.length, eos: endOfStream });
    return this.transform ? this.transform(chunk, endOfStream) : chunk;
  }
  onServed(endpoint: string): void {
    this.served.push(endpoint);
  }
  onEnd(outcome: 'complete' | 'cancelled' | 'error'): void {
    this.ends.push(outcome);
  }
}

type Decide = (input: RequestInput, c: TestController) => Decision | Promise<Decision>;

/** A RequestController whose answers a test scripts; it records inputs and the handles it made. */
export class TestController implements RequestController {
  readonly requests: RequestInput[] = [];
  readonly bodiless: RequestInput[] = [];
  readonly handles: RecordingHandle[] = [];
  decideBody: Decide;
  decideBodiless: (input: RequestInput, c: TestController) => Decision;
  transform: ((chunk: Buffer, eos: boolean) => Buffer) | undefined;

  constructor(endpoints: readonly string[] = ['10.0.0.1:8000']) {
    this.decideBody = (input, c) => c.route(input, endpoints);
    this.decideBodiless = (input, c) => c.route(input, endpoints);
  }

  handleRequest(input: RequestInput): Decision | Promise<Decision> {
    this.requests.push(input);
    return this.decideBody(input, this);
  }

  handleBodiless(input: RequestInput): Decision {
    this.bodiless.push(input);
    return this.decideBodiless(input, this);
  }

  route(input: RequestInput, endpoints: readonly string[], extra: Partial<Omit<RouteDecision, 'kind' | 'handle'>> = {}): RouteDecision {
    const handle = new RecordingHandle(input.requestId, this.transform);
    this.handles.push(handle);
    return {
      kind: 'route',
      endpoints,
      setHeaders: extra.setHeaders ?? new Map(),
      removeHeaders: extra.removeHeaders ?? [],
      body: extra.body,
      metadata: extra.metadata ?? new Map(),
      handle,
    };
  }
}

export interface Started {
  servers: EppGrpcServers;
  controller: TestController;
  metrics: EppMetrics;
  client: ExtProcClient;
  close(): Promise<void>;
}

/** Starts the real servers on 127.0.0.1 ephemeral ports (plaintext unless told) with a client. */
export async function startWithClient(
  controller: TestController = new TestController(),
  overrides: Partial<EppGrpcServerOptions> = {},
  clientCreds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Promise<Started> {
  const metrics = new EppMetrics();
  const servers = await startEppGrpcServers({
    controller,
    host: '127.0.0.1',
    grpcPort: 0,
    healthPort: 0,
    secureServing: false,
    isReady: () => true,
    logger: silentLogger(),
    metrics,
    ...overrides,
  });
  const client = newExtProcClient(`127.0.0.1:${servers.grpcPort}`, clientCreds);
  return {
    servers,
    controller,
    metrics,
    client,
    async close() {
      client.close();
      await servers.close({ graceMs: 2000 });
    },
  };
}

export type ExtProcClient = grpc.Client & {
  Process(metadata?: grpc.Metadata): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
};

export function newExtProcClient(address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): ExtProcClient {
  const pkg = grpc.loadPackageDefinition(loadExtProcPackage()) as unknown as {
    envoy: { service: { ext_proc: { v3: { ExternalProcessor: grpc.ServiceClientConstructor } } } };
  };
  const Ctor = pkg.envoy.service.ext_proc.v3.ExternalProcessor;
  return new Ctor(address, creds, options) as unknown as ExtProcClient;
}

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

export function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function counterValue(metrics: EppMetrics, outcome: string): Promise<number> {
  const m = await metrics.extprocStreams.get();
  return m.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}
