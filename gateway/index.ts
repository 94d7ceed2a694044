// The development gateway: a LOCAL STAND-IN FOR ENVOY, NOT A PRODUCTION PROXY. It runs the edge
// filter, an Endpoint Picker and model servers end to end on one machine (`tokenroute gateway`,
// `npm run demo`, the e2e tests, the routing benchmark) without installing Envoy. In a cluster use
// Envoy (Envoy Gateway, Istio, plain Envoy) as docs/filter.md describes.
//
// Differences from Envoy worth knowing (docs/gateway.md has the full list): HTTP/1.1 only,
// downstream and upstream; the request body is buffered up to the buffer limit (413 beyond) so it
// can be replayed on a fallback endpoint; no route table, TLS termination, trailers, retry budgets
// or outlier detection; the EPP's request phase fails open even after body chunks were sent (the
// gateway keeps a copy).
export { startGateway, type RunningGateway } from './listener.js';
export type { FailureMode, FilterOptions, GatewayOptions } from './options.js';
export type { AttemptRecord, GatewayStats, PickSource, RequestRecord } from './record.js';
export { newExtProcClient, type ExtProcClient } from './extproc/client.js';
