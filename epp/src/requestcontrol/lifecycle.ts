// RequestLifecycle: fans a routed request's events out to the plugins of each extension point
// (epp/src/framework/request-lifecycle.ts), in configuration order, and gives the ext_proc layer
// one RequestHandle per request. A plugin that throws is logged and skipped for the rest of that
// request; the others still run, and a throwing streaming plugin leaves the chunk as it was —
// failing a served inference over bookkeeping would be worse than losing the bookkeeping.
import type { Logger } from 'pino';
import { isPromiseLike } from '../util/promise.js';
import type { Plugin } from '../framework/plugins.js';
import type { Candidate } from '../framework/endpoint.js';
import type { InferenceRequest } from '../framework/request.js';
import type { RequestHandle } from '../framework/request-controller.js';
import {
  isAdmissionPlugin,
  isEndpointServedPlugin,
  isRequestRoutedPlugin,
  isResponseCompletePlugin,
  isResponseReceivedPlugin,
  isResponseStreamingPlugin,
  type AdmissionPlugin,
  type Rejection,
  type EndpointServedPlugin,
  type RequestOutcome,
  type RequestRoutedPlugin,
  type ResponseCompletePlugin,
  type ResponseReceivedPlugin,
  type ResponseStreamingPlugin,
  type RoutedRequest,
} from '../framework/request-lifecycle.js';

export class RequestLifecycle {
  private readonly admission: readonly AdmissionPlugin[];
  private readonly routed: readonly RequestRoutedPlugin[];
  private readonly served: readonly EndpointServedPlugin[];
  private readonly received: readonly ResponseReceivedPlugin[];
  private readonly streaming: readonly ResponseStreamingPlugin[];
  private readonly complete: readonly ResponseCompletePlugin[];

  constructor(
    plugins: readonly Plugin[],
    private readonly logger: Logger,
  ) {
    this.admission = plugins.filter(isAdmissionPlugin);
    this.routed = plugins.filter(isRequestRoutedPlugin);
    this.served = plugins.filter(isEndpointServedPlugin);
    this.received = plugins.filter(isResponseReceivedPlugin);
    this.streaming = plugins.filter(isResponseStreamingPlugin);
    this.complete = plugins.filter(isResponseCompletePlugin);
  }

  /**
   * The first admission plugin's rejection, or undefined to admit; a promise when one of them
   * decides later (flow control), the plugins after it then run when it admits. A throwing or
   * failing plugin admits.
   */
  admit(req: InferenceRequest, candidates: readonly Candidate[], now: number, from = 0): Rejection | undefined | Promise<Rejection | undefined> {
    const plugins = this.admission;
    for (let i = from; i < plugins.length; i++) {
      const p = plugins[i];
      try {
        const rejected = p.admit(req, candidates, now);
        if (isPromiseLike(rejected)) {
          return rejected.then(
            (r) => r ?? this.admit(req, candidates, now, i + 1),
            (err: unknown) => {
              this.logger.warn({ plugin: p.name, err, requestId: req.requestId }, 'admission plugin failed; admitting');
              return this.admit(req, candidates, now, i + 1);
            },
          );
        }
        if (rejected) return rejected;
      } catch (err) {
        this.logger.warn({ plugin: p.name, err, requestId: req.requestId }, 'admission plugin failed; admitting');
      }
    }
    return undefined;
  }

  /** Announces the routed request and returns the handle for its response path. */
  begin(req: RoutedRequest): RequestHandle {
    const handle = new LifecycleHandle(this, req);
    handle.routed();
    return handle;
  }

  /** @internal the points' plugins, for the handle. */
  plugins() {
    return { routed: this.routed, served: this.served, received: this.received, streaming: this.streaming, complete: this.complete };
  }

  /** @internal */
  failed(plugin: Plugin, point: string, err: unknown, req: RoutedRequest): void {
    this.logger.warn({ plugin: plugin.name, point, err, requestId: req.requestId }, 'request lifecycle plugin failed; skipped for this request');
  }
}

/** One routed request's response path: each ext_proc event goes to the plugins of its point. */
class LifecycleHandle implements RequestHandle {
  readonly requestId: string;
  private readonly points: ReturnType<RequestLifecycle['plugins']>;
  /** Plugins that threw during this request; they are not called again for it. */
  private broken: Set<Plugin> | undefined;
  private ended = false;

  constructor(
    private readonly lifecycle: RequestLifecycle,
    private readonly req: RoutedRequest,
  ) {
    this.requestId = req.requestId;
    this.points = lifecycle.plugins();
  }

  /** Logged or printed, a handle is its request id (not the lifecycle behind it). */
  toJSON(): { requestId: string } {
    return { requestId: this.requestId };
  }

  routed(): void {
    for (const p of this.points.routed) if (this.usable(p)) this.guard(p, 'RequestRouted', () => p.requestRouted(this.req));
  }

  onResponseHeaders(headers: ReadonlyMap<string, string>): ReadonlyMap<string, string> | void {
    let added: Map<string, string> | undefined;
    for (const p of this.points.received) {
      if (!this.usable(p)) continue;
      try {
        const h = p.responseReceived(this.req, headers);
        if (h) for (const [k, v] of h) (added ??= new Map()).set(k, v);
      } catch (err) {
        this.fail(p, 'ResponseReceived', err);
      }
    }
    return added;
  }

  onResponseBody(chunk: Buffer, endOfStream: boolean): Buffer {
    let out = chunk;
    for (const p of this.points.streaming) {
      if (!this.usable(p)) continue;
      try {
        out = p.responseStreaming(this.req, out, endOfStream);
      } catch (err) {
        this.fail(p, 'ResponseStreaming', err);
      }
    }
    return out;
  }

  onServed(endpoint: string): void {
    for (const p of this.points.served) if (this.usable(p)) this.guard(p, 'EndpointServed', () => p.endpointServed(this.req, endpoint));
  }

  onEnd(outcome: RequestOutcome): void {
    if (this.ended) return;
    this.ended = true;
    for (const p of this.points.complete) if (this.usable(p)) this.guard(p, 'ResponseComplete', () => p.responseComplete(this.req, outcome));
  }

  private usable(p: Plugin): boolean {
    return this.broken === undefined || !this.broken.has(p);
  }

  private guard(p: Plugin, point: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.fail(p, point, err);
    }
  }

  private fail(p: Plugin, point: string, err: unknown): void {
    (this.broken ??= new Set()).add(p);
    this.lifecycle.failed(p, point, err, this.req);
  }
}
