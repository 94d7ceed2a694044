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
} from '../../../epp/src/framework/request-controller.js';
import type { ProcessingResponse } from '../../../epp/src/protocol/types.js';
import { startEppGrpcServers, type EppGrpcServerOptions, type EppGrpcServers } from '../../../epp/src/server/server.js';
import { newExtProcClient, type ExtProcClient } from '../../../gateway/index.js';
import { StreamDriver, respBodyMsg, respHeadersMsg } from '../../gateway/extproc/driver.js';

export { newExtProcClient, type ExtProcClient } from '../../../gateway/index.js';
export * from '../../gateway/extproc/driver.js';

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

/**
 * Completes a routed full-duplex stream as Envoy does: reads the request-body echo to its end,
 * then sends the response headers and a one-chunk body, half-closes and waits for the status.
 */
export async function completeRoutedStream(d: StreamDriver): Promise<void> {
  for (;;) {
    const r = await d.next();
    if (r.request_body?.response?.body_mutation?.streamed_response?.end_of_stream) break;
  }
  d.send(respHeadersMsg({ ':status': '200' }));
  await d.next();
  d.send(respBodyMsg('{"ok":true}', true));
  await d.next();
  d.end();
  await d.status;
}

/** The HTTP status of an immediate response (the proto enum arrives by name); 0 when the reply is not one. */
export function immediateStatus(r: ProcessingResponse): number {
  const code = r.immediate_response?.status?.code;
  if (code === undefined) return 0;
  if (typeof code === 'number') return code;
  return ({ BadRequest: 400, TooManyRequests: 429, ServiceUnavailable: 503, InternalServerError: 500 } as Record<string, number>)[code] ?? -1;
}
