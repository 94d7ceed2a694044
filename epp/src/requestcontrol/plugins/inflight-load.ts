// inflight-load (built in, always on): the EPP's own count of requests and tokens in flight per
// endpoint, which the load scorers read (queue-scorer's fallback, running-requests-size-scorer,
// token-load-scorer, least-request). Charged when the request is routed, moved to the endpoint
// that really served when the proxy walked the fallback list, released exactly once at the end.
// GIE keeps the same count in its datastore (`pkg/epp/datastore`, v1.5.0: running requests per pod).
import { stateKey } from '../../framework/cycle-state.js';
import type { EndpointServedPlugin, RequestRoutedPlugin, ResponseCompletePlugin, RoutedRequest } from '../../framework/request-lifecycle.js';
import type { Datastore } from '../../datastore/datastore.js';

export const INFLIGHT_LOAD_TYPE = 'inflight-load';

/** The endpoint currently charged with the request. */
const CHARGED = stateKey<string>('inflight-load.charged');

export class InflightLoad implements RequestRoutedPlugin, EndpointServedPlugin, ResponseCompletePlugin {
  readonly type = INFLIGHT_LOAD_TYPE;
  readonly name = INFLIGHT_LOAD_TYPE;

  constructor(private readonly datastore: Datastore) {}

  requestRouted(req: RoutedRequest): void {
    this.datastore.addInflight(req.endpoint, req.inflightTokens);
    req.state.write(CHARGED, req.endpoint);
  }

  endpointServed(req: RoutedRequest, endpoint: string): void {
    const charged = req.state.read(CHARGED);
    if (charged === undefined || !endpoint || endpoint === charged || !this.datastore.get(endpoint)) return;
    this.datastore.removeInflight(charged, req.inflightTokens);
    this.datastore.addInflight(endpoint, req.inflightTokens);
    req.state.write(CHARGED, endpoint);
  }

  responseComplete(req: RoutedRequest): void {
    const charged = req.state.read(CHARGED);
    if (charged !== undefined) this.datastore.removeInflight(charged, req.inflightTokens);
  }
}
