// Step 3 of a request: the upstream, original-destination style. The endpoint list (the EPP's
// `x-gateway-destination-endpoint` value, or the gateway's own pick) is walked in order: a connect
// failure, a reset before the response headers or a 5xx from any but the last endpoint moves on,
// as Envoy's router retries on connect-failure / reset / 5xx (Envoy `source/common/router/
// router.cc` and `retry_state_impl.cc` at v1.35) — while nothing has reached the client. The
// request body is replayed from the gateway's buffer. Timeouts as Envoy has them: connect, the
// response headers (the route timeout: a hung server is left for the next endpoint, and the last
// one's expiry is a 504, `upstream_response_timeout`), and the body's idle time (the stream idle
// timeout: a server that stops mid-response has its stream reset).
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { EndpointAddress } from '../epp/src/protocol/index.js';
import { getHeader, setHeader, toNodeHeaders, type HeaderPair } from './headers.js';
import type { GatewayStats, RequestRecord } from './record.js';

export interface UpstreamRequest {
  readonly pairs: HeaderPair[];
  readonly body: Buffer;
  /** The Host to send when the headers carry no :authority. */
  readonly defaultAuthority: string;
  readonly signal: AbortSignal;
}

/** The response of the endpoint that answered, or why none did. */
export type ForwardResult = { res: IncomingMessage; endpoint: EndpointAddress } | { failure: string; timedOut: boolean };

type AttemptResult = { kind: 'response'; res: IncomingMessage } | { kind: 'connect-error' | 'reset' | 'timeout'; message: string };

export interface UpstreamTimeouts {
  readonly connectMs: number;
  readonly responseMs: number;
  readonly idleMs: number;
}

export class Upstream {
  private readonly agent = new Agent({ keepAlive: true, keepAliveMsecs: 5_000, scheduling: 'lifo' });

  constructor(
    private readonly timeouts: UpstreamTimeouts,
    private readonly stats: GatewayStats,
  ) {}

  /** Tries the endpoints in order; records every attempt in `rec`. */
  async forward(endpoints: readonly EndpointAddress[], req: UpstreamRequest, rec: RequestRecord): Promise<ForwardResult> {
    const { pairs, body, signal } = req;
    const method = getHeader(pairs, ':method') ?? 'GET';
    const path = getHeader(pairs, ':path') ?? '/';
    // The body may have been rewritten by the EPP: its length is what the upstream gets.
    const sized = body.length > 0 || getHeader(pairs, 'content-length') !== undefined ? setHeader(pairs, 'content-length', String(body.length)) : pairs;
    const headers = toNodeHeaders(sized);
    headers.host = getHeader(pairs, ':authority') ?? req.defaultAuthority;
    let failure = 'no endpoint';
    let timedOut = false;
    for (let i = 0; i < endpoints.length; i++) {
      if (signal.aborted) return { failure: 'client went away', timedOut: false };
      if (i > 0) this.stats.retries++;
      const ep = endpoints[i];
      const last = i === endpoints.length - 1;
      const r = await this.attempt(ep, method, path, headers, body, signal);
      if (r.kind === 'response') {
        const status = r.res.statusCode ?? 0;
        if (status >= 500 && !last) {
          rec.attempts.push({ endpoint: ep.key, outcome: 'retry-5xx', status });
          r.res.resume();
          failure = `${ep.key} answered ${status}`;
          continue;
        }
        rec.attempts.push({ endpoint: ep.key, outcome: 'response', status });
        return { res: r.res, endpoint: ep };
      }
      rec.attempts.push({ endpoint: ep.key, outcome: r.kind, error: r.message });
      failure = `${ep.key}: ${r.kind} (${r.message})`;
      timedOut = r.kind === 'timeout';
      if (timedOut) this.stats.upstreamTimeouts++;
    }
    return { failure, timedOut };
  }

  close(): void {
    this.agent.destroy();
  }

  /** One endpoint: a connect failure and a reset before the response headers are told apart. */
  private attempt(ep: EndpointAddress, method: string, path: string, headers: Record<string, string | string[]>, body: Buffer, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      let connected = false;
      const settle = (v: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const req = httpRequest({ host: ep.address, port: ep.port, method, path, headers, agent: this.agent, setHost: false });
      const { connectMs, responseMs, idleMs } = this.timeouts;
      let timedOut = false;
      let timer = setTimeout(() => req.destroy(new Error(`connect timeout (${connectMs} ms)`)), connectMs);
      const onAbort = () => req.destroy(new Error('client went away'));
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (s: Socket) => {
        const up = () => {
          connected = true;
          clearTimeout(timer);
          // From here the route timeout runs until the response headers.
          timer = setTimeout(() => {
            timedOut = true;
            req.destroy(new Error(`no response headers within ${responseMs} ms`));
          }, responseMs);
        };
        if (s.connecting) s.once('connect', up);
        else up();
      });
      req.on('response', (res) => {
        // The stream idle timeout: a body that stops flowing resets the stream.
        res.setTimeout(idleMs, () => res.destroy(new Error(`upstream idle for ${idleMs} ms`)));
        settle({ kind: 'response', res });
      });
      req.on('error', (err: Error) => settle({ kind: timedOut ? 'timeout' : connected ? 'reset' : 'connect-error', message: err.message }));
      req.end(body.length > 0 ? body : undefined);
    });
  }
}
