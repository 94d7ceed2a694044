// Helpers for the Kubernetes integration tests that run a whole EPP: start it in Kubernetes mode
// (in this process, against the test API server) and send it full-duplex ext_proc requests the
// way Envoy does, returning the routing decision, the rewritten request body and the response
// body after the EPP restored the model name.
import * as grpc from '@grpc/grpc-js';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../../epp/src/main.js';
import type { KubernetesFlags } from '../../../epp/src/k8s/mode.js';
import type { Logger } from '../../../epp/src/observability/logger.js';
import { structToJson } from '../../../epp/src/protocol/struct.js';
import type { ProcessingResponse } from '../../../epp/src/protocol/types.js';
import { StreamDriver, bodyMsg, headersMsg, newExtProcClient, respBodyMsg, respHeadersMsg, setHeadersOf, type ExtProcClient } from '../../epp/extproc/harness.js';

export interface KubeEppOptions {
  readonly kubeconfig: string;
  readonly pool: string;
  readonly namespace: string;
  readonly configText?: string;
  readonly kubernetes?: KubernetesFlags;
  readonly logger?: Logger;
}

export async function startKubeEpp(o: KubeEppOptions): Promise<{ epp: RunningEpp; client: ExtProcClient; close(): Promise<void> }> {
  const epp = await startEpp(
    embeddedEppOptions({
      metricsPort: -1,
      configText: o.configText,
      poolName: o.pool,
      poolNamespace: o.namespace,
      kubernetes: { kubeconfigPath: o.kubeconfig, ...o.kubernetes },
      refreshMetricsIntervalMs: 20,
      refreshPrometheusMetricsIntervalMs: 500,
      maxRequestBodyBytes: 1 << 20,
      ...(o.logger ? { logger: o.logger } : {}),
    }),
  );
  const client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  return {
    epp,
    client,
    async close() {
      client.close();
      await epp.close();
    },
  };
}

export interface Decision {
  /** x-gateway-destination-endpoint, when routed. */
  readonly endpoint?: string;
  /** Every header the EPP set on the upstream request (e.g. x-prefiller-host-port), when routed. */
  readonly setHeaders?: ReadonlyMap<string, string>;
  /** ImmediateResponse HTTP status, when rejected. */
  readonly status?: number;
  /** Headers the EPP added to the client's response (e.g. x-session-token). */
  readonly responseHeaders?: ReadonlyMap<string, string>;
  /** The request body as forwarded upstream (the EPP may have rewritten `model`). */
  readonly upstreamBody?: string;
  /** The response body the client gets back (after the EPP's model-name restore). */
  readonly clientBody?: string;
}

const HEADERS = { ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json' };

/**
 * One request through ext_proc. When routed, the "model server" answers with `respond(model)`
 * (model = the model it was asked for) and the response body the EPP hands back is returned.
 */
export async function decide(
  client: ExtProcClient,
  opts: { model?: string; content?: string; headers?: Record<string, string>; respond?: (upstreamModel: string) => string } = {},
): Promise<Decision> {
  const body = JSON.stringify({ model: opts.model ?? 'llama', messages: [{ role: 'user', content: opts.content ?? 'hello' }] });
  const d = new StreamDriver(client);
  d.send(headersMsg({ ...HEADERS, ...(opts.headers ?? {}) }, false));
  d.send(bodyMsg(body, true));
  const first = await d.next(5000);
  const code = first.immediate_response?.status?.code;
  if (code !== undefined) {
    d.end();
    await d.status;
    return { status: httpStatus(code) };
  }
  const endpoint = destinationOf(first);
  const setHeaders = setHeadersOf(first.request_headers?.response?.header_mutation);
  let upstream = '';
  for (;;) {
    const r = await d.next(5000);
    const sr = r.request_body?.response?.body_mutation?.streamed_response;
    if (sr?.body) upstream += Buffer.from(sr.body).toString('utf8');
    if (sr?.end_of_stream) break;
  }
  const upstreamModel = (JSON.parse(upstream || body) as { model: string }).model;
  d.send(respHeadersMsg({ ':status': '200', 'content-type': 'application/json' }));
  const responseHeaders = setHeadersOf((await d.next(5000)).response_headers?.response?.header_mutation);
  d.send(respBodyMsg(opts.respond ? opts.respond(upstreamModel) : JSON.stringify({ model: upstreamModel, choices: [] }), true));
  const rb = await d.next(5000);
  const out = rb.response_body?.response?.body_mutation;
  const clientBody = out?.streamed_response?.body ? Buffer.from(out.streamed_response.body).toString('utf8') : out?.body ? Buffer.from(out.body).toString('utf8') : undefined;
  d.end();
  await d.status;
  return { endpoint, setHeaders, responseHeaders, upstreamBody: upstream, clientBody };
}

function destinationOf(r: ProcessingResponse): string {
  const header = setHeadersOf(r.request_headers?.response?.header_mutation).get('x-gateway-destination-endpoint') ?? '';
  if (header) return header;
  const md = structToJson(r.dynamic_metadata) as Record<string, Record<string, string>> | undefined;
  return md?.['envoy.lb']?.['x-gateway-destination-endpoint'] ?? '';
}

/** envoy.type.v3.StatusCode as decoded (enum name or number) → HTTP status. */
function httpStatus(code: number | string): number {
  if (typeof code === 'number') return code;
  const names: Record<string, number> = { BadRequest: 400, Forbidden: 403, NotFound: 404, TooManyRequests: 429, InternalServerError: 500, ServiceUnavailable: 503 };
  return names[code] ?? -1;
}
