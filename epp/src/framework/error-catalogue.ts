// Every error a user of tokenroute can see — a bad config, a bad flag, a failed start, a
// rejected request, a broken ext_proc stream — has a stable code here, a one-line meaning and
// what to do about it. The codes are an interface: users grep logs and alert on them, so a code
// is never reused for another meaning or renamed. docs/errors.md has one row per code (a test
// keeps the two equal). The model is fastify's error catalogue (fastify `lib/errors.js` and
// `docs/Reference/Errors.md`, v5): a code per cause instead of free text only.

export type ErrorArea = 'config' | 'cli' | 'startup' | 'request' | 'stream' | 'filter' | 'gateway';

/** The areas whose errors are HTTP responses: each of their codes has a status. */
export const REPLY_AREAS: readonly ErrorArea[] = ['request', 'filter', 'gateway'];

export interface ErrorDefinition {
  readonly code: string;
  readonly area: ErrorArea;
  /** What went wrong, one line. */
  readonly meaning: string;
  /** What the user does about it. */
  readonly fix: string;
  /** For the reply areas (request, filter, gateway): the HTTP status the client receives. */
  readonly status?: number;
}

function define<K extends string>(defs: Record<K, Omit<ErrorDefinition, 'code'>>): { readonly [P in K]: ErrorDefinition } {
  const out = {} as Record<K, ErrorDefinition>;
  for (const key of Object.keys(defs) as K[]) out[key] = { code: `TR_ERR_${key}`, ...defs[key] };
  return out;
}

export const ERRORS = define({
  // ---- EndpointPickerConfig (--config-file / --config-text). The loader reports every problem at
  // once, each naming its field path, e.g. `plugins[2].parameters.maxNumOfEndpoints`.
  CONFIG_SOURCE: {
    area: 'config',
    meaning: 'the config could not be read: the file is missing or unreadable, or both --config-file and --config-text were given',
    fix: 'give exactly one of --config-file (a readable file) or --config-text',
  },
  CONFIG_YAML: {
    area: 'config',
    meaning: 'the config is not valid YAML, or not a YAML mapping',
    fix: 'fix the YAML syntax at the line the message names; the document must be a mapping with apiVersion, kind, plugins, ...',
  },
  CONFIG_API_VERSION: {
    area: 'config',
    meaning: 'apiVersion or kind is missing or not an EndpointPickerConfig',
    fix: 'use the apiVersion and kind the message expects',
  },
  CONFIG_UNKNOWN_FIELD: {
    area: 'config',
    meaning: 'a key the schema does not know (often a typo, or a parameter of another plugin type)',
    fix: 'remove or rename the field; docs/configuration.md lists every plugin type and its parameters',
  },
  CONFIG_INVALID_VALUE: {
    area: 'config',
    meaning: 'a value of the wrong type or out of range (e.g. a string where a positive integer is expected)',
    fix: 'give a value of the type the message names',
  },
  CONFIG_UNKNOWN_FEATURE_GATE: {
    area: 'config',
    meaning: 'featureGates names a gate tokenroute does not know',
    fix: 'remove the gate or use one of the known gates the message lists',
  },
  CONFIG_UNKNOWN_PLUGIN_TYPE: {
    area: 'config',
    meaning: 'plugins[].type is not a registered plugin type',
    fix: 'use one of the types the message lists (docs/configuration.md)',
  },
  CONFIG_DUPLICATE_NAME: {
    area: 'config',
    meaning: 'two plugins, two profiles or two profileSelection routes have the same name',
    fix: 'give each a unique name (a plugin\'s name defaults to its type)',
  },
  CONFIG_UNDEFINED_REFERENCE: {
    area: 'config',
    meaning: 'a reference names a plugin or profile that is not declared',
    fix: 'declare the plugin under plugins (or the profile under schedulingProfiles), or fix the name',
  },
  CONFIG_WRONG_PLUGIN_KIND: {
    area: 'config',
    meaning: 'a reference names a plugin of the wrong kind (e.g. a scorer where a picker or saturation detector is expected)',
    fix: 'reference a plugin whose type implements the extension point the field needs',
  },
  CONFIG_PROFILE: {
    area: 'config',
    meaning: 'a scheduling profile or the profile handler is inconsistent (two pickers, a plugin listed twice, several profiles without a handler, more than one handler)',
    fix: 'give each profile at most one picker and each plugin once; declare exactly one profile handler when there are several profiles',
  },
  CONFIG_DEFAULTS: {
    area: 'config',
    meaning: 'a default plugin GIE adds implicitly cannot be added (its name is taken by a plugin of another type)',
    fix: 'rename the plugin that takes the default\'s name, or declare the default plugin explicitly',
  },
  CONFIG_PLUGIN_CREATE: {
    area: 'config',
    meaning: 'a plugin rejected its parameters when it was created',
    fix: 'read the plugin\'s reason in the message and fix its parameters',
  },
  CONFIG_DATA_LAYER: {
    area: 'config',
    meaning: 'the dataLayer section uses a shape tokenroute does not support',
    fix: 'use one metrics-data-source feeding one core-metrics-extractor',
  },
  CONFIG_DATA_DEPENDENCIES: {
    area: 'config',
    meaning: 'the plugins that prepare per-request data depend on each other in a cycle, a consumer has no producer, or it cannot tell which of several producers to use',
    fix: 'remove one plugin of the cycle, declare the producer the message names (e.g. a token-producer), or name the producer in the consumer\'s parameters (tokenProducerName)',
  },

  // ---- Command-line flags of `tokenroute` and its subcommands.
  CLI_INVALID_ARGUMENT: {
    area: 'cli',
    meaning: 'a flag\'s value is not of the expected form (a port, a duration, host:port, true/false, ...)',
    fix: 'see `tokenroute <command> --help` for the flag\'s form and default',
  },
  CLI_UNEXPECTED: {
    area: 'cli',
    meaning: 'a command stopped on an error tokenroute did not expect (not a bad flag, config or start-up condition it knows)',
    fix: 'report it with the whole message; it names what failed',
  },
  CLI_CONFLICTING_FLAGS: {
    area: 'cli',
    meaning: 'flags that exclude each other were given together (e.g. --static-endpoints with --endpoints-file or --endpoint-selector)',
    fix: 'keep one of them: standalone mode (--static-endpoints) or Kubernetes mode (--pool-name / --endpoint-selector)',
  },

  // ---- Starting the EPP (or the gateway / render server).
  STARTUP_GATEWAY_NO_ROUTE: {
    area: 'startup',
    meaning: 'the development gateway has nothing to route to: neither --epp nor --fallback-endpoints was given',
    fix: 'give --epp host:port (the EPP), or --fallback-endpoints host:port,... to route round-robin without one',
  },
  STARTUP_NO_ENDPOINT_SOURCE: {
    area: 'startup',
    meaning: 'no endpoint source: neither --static-endpoints, --endpoints-file nor --pool-name / --endpoint-selector was given',
    fix: 'give --static-endpoints host:port,... or --endpoints-file (standalone mode), or --pool-name (Kubernetes mode)',
  },
  STARTUP_ENDPOINTS_FILE: {
    area: 'startup',
    meaning: 'the --endpoints-file is unreadable or invalid (at start the EPP refuses it; later versions are refused and the previous pool kept)',
    fix: 'fix the field the message names: endpoints[].address (an IP), .port (1–65535), .labels (string map), .engine, .name',
  },
  STARTUP_TLS: {
    area: 'startup',
    meaning: 'the serving certificate in --cert-path is unreadable, not PEM, or does not match its key',
    fix: 'put a matching tls.crt / tls.key pair in --cert-path, or omit it for a self-signed certificate',
  },
  STARTUP_LISTEN: {
    area: 'startup',
    meaning: 'a port could not be bound (in use, or not permitted)',
    fix: 'free the port or choose another with --grpc-port / --grpc-health-port / --metrics-port',
  },
  STARTUP_KUBERNETES: {
    area: 'startup',
    meaning: 'Kubernetes mode cannot start: no credentials, a missing kubeconfig, no current cluster, or an inconsistent mode flag',
    fix: 'run in a pod with a service account, or pass --kubeconfig; give exactly one of --pool-name and --endpoint-selector',
  },
  STARTUP_LEADER_ELECTION: {
    area: 'startup',
    meaning: 'the leader-election settings are inconsistent (renew deadline + retry period exceed the lease, or the lease cannot be named)',
    fix: 'keep --leader-election-renew-deadline + --leader-election-retry-period ≤ --leader-election-lease-duration; set $POD_NAME with --endpoint-selector',
  },
  STARTUP_PLUGIN: {
    area: 'startup',
    meaning: 'a plugin\'s background work could not start (e.g. the KV-event subscriber could not bind its ZeroMQ endpoint)',
    fix: 'read the plugin\'s reason in the message; check the plugin\'s addresses and ports',
  },
  FILTER_CONFIG: {
    area: 'startup',
    meaning: 'the edge filter refused its plugin configuration; Envoy logs this line and rejects the filter (the last valid configuration stays in a running Envoy)',
    fix: 'fix the field the log line names; docs/filter.md lists the configuration fields',
  },
  STARTUP_FILTER_LOAD: {
    area: 'startup',
    meaning: 'the filter wasm could not be loaded or configured in the proxy-wasm host',
    fix: 'rebuild the filter (npm run build) and check the plugin configuration the log names',
  },

  // ---- Requests the EPP rejects. The client receives GIE's status and body
  // (`inference error: <GIE code> - <message>`) plus `x-tokenroute-error-code: <code>`.
  REQUEST_BODY_INVALID: {
    area: 'request',
    status: 400,
    meaning: 'the request body is not valid JSON, or lacks a field the API needs (e.g. model)',
    fix: 'send an OpenAI-style JSON body with a model field',
  },
  REQUEST_FIELD_TOO_LONG: {
    area: 'request',
    status: 400,
    meaning: 'a body field the EPP keeps or reports (model, cache_salt) is longer than the parser allows',
    fix: 'send a shorter value, or raise the openai-parser parameter the message names (maxModelNameBytes, maxCacheSaltBytes)',
  },
  REQUEST_BODY_TOO_LARGE: {
    area: 'request',
    status: 400,
    meaning: 'the request body is larger than --max-request-body-bytes',
    fix: 'send a smaller body, or raise the EPP\'s --max-request-body-bytes (and the proxy\'s buffer limit)',
  },
  REQUEST_BODY_TOO_FRAGMENTED: {
    area: 'request',
    status: 400,
    meaning: 'the request body arrived in more ext_proc messages than --max-request-body-messages (each costs the EPP a fixed amount of CPU)',
    fix: 'send the body in larger writes, or raise the EPP\'s --max-request-body-messages',
  },
  REQUEST_PARSER_UNAVAILABLE: {
    area: 'request',
    status: 503,
    meaning: 'a large request body could not be parsed off the event loop: the parse workers\' queue was full (openai-parser offThreadQueue), a parse took longer than offThreadTimeout, or a worker died',
    fix: 'retry; if it persists, raise the openai-parser\'s offThreadWorkers or offThreadQueue, or look for a flood of very large bodies (tokenroute_request_limit_rejections_total{limit="body_parse_queue"})',
  },
  REQUEST_SUBSET_NO_MATCH: {
    area: 'request',
    status: 503,
    meaning: 'the proxy\'s subset hint (envoy.lb.subset_hint) names no endpoint of the pool',
    fix: 'check the gateway\'s endpoint subset; --disable-endpoint-subset-filter ignores the hint',
  },
  REQUEST_NO_CANDIDATES: {
    area: 'request',
    status: 503,
    meaning: 'the pool has no ready endpoint to schedule on',
    fix: 'check that the pool\'s pods are Ready and their metrics are fresh',
  },
  REQUEST_NO_READY_ENDPOINT: {
    area: 'request',
    status: 500,
    meaning: 'a bodiless request arrived while the pool has no ready endpoint',
    fix: 'check that the pool\'s pods are Ready',
  },
  REQUEST_NO_TARGET: {
    area: 'request',
    status: 429,
    meaning: 'the scheduler found candidates but every filter left none (e.g. all saturated, none serving the adapter)',
    fix: 'add capacity or relax the profile\'s filters; the decision trace (--v 4) shows which filter removed each endpoint',
  },
  REQUEST_SHED: {
    area: 'request',
    status: 429,
    meaning: 'a sheddable request (objective priority < 0) arrived while the pool is saturated',
    fix: 'retry later, raise the objective\'s priority, or add capacity',
  },
  FLOW_REJECTED_CAPACITY: {
    area: 'request',
    status: 429,
    meaning: 'flow control: the queue is full (the global or the priority band\'s maxRequests / maxBytes) while the pool is saturated; x-llm-d-request-dropped-reason: rejected-saturated',
    fix: 'retry with backoff; raise flowControl maxRequests / maxBytes (global or the band\'s) or add capacity',
  },
  FLOW_TTL_EXPIRED: {
    area: 'request',
    status: 429,
    meaning: 'flow control: the request waited its whole queue budget (flowControl.defaultRequestTTL) for a saturated pool; x-llm-d-request-dropped-reason: rejected-ttl-expired',
    fix: 'retry with backoff; add capacity, or raise defaultRequestTTL if clients wait longer',
  },
  FLOW_NO_ENDPOINTS: {
    area: 'request',
    status: 503,
    meaning: 'flow control: the pool had no endpoint for the whole scale-from-zero budget (flowControl.noEndpointRequestTTL), or the queue was full while it had none; x-llm-d-request-dropped-reason: rejected-no-endpoints',
    fix: 'check that the pool\'s pods start and become Ready; raise noEndpointRequestTTL above pod start-up time',
  },
  FLOW_CONTEXT_CANCELLED: {
    area: 'request',
    status: 503,
    meaning: 'flow control: the client or the proxy gave up while the request was queued; x-llm-d-request-dropped-reason: rejected-context-cancelled',
    fix: 'nothing to fix on the EPP: the caller\'s timeout is shorter than the queue wait; raise it or add capacity',
  },
  FLOW_RATE_LIMITED: {
    area: 'request',
    status: 429,
    meaning: 'flow control: the tenant (fairness id) is over its requests- or tokens-per-minute limit (flow-rate-limit-policy); x-llm-d-request-dropped-reason: rejected-rate-limited, with retry-after',
    fix: 'retry after the retry-after seconds; raise the tenant\'s limit (an override in the policy\'s parameters) if it is too low',
  },
  FLOW_EVICTED: {
    area: 'request',
    status: 429,
    meaning: 'flow control (enableEviction): a running sheddable request (priority < 0) was ended to make room for a higher-priority one; x-llm-d-request-dropped-reason: evicted (a reset when its response had begun)',
    fix: 'retry later; give the request a higher priority (its InferenceObjective), or add capacity',
  },
  FLOW_SHUTTING_DOWN: {
    area: 'request',
    status: 503,
    meaning: 'flow control: the EPP is shutting down; queued requests are drained with x-llm-d-request-dropped-reason: rejected-shutting-down',
    fix: 'retry: another EPP replica (or this one, restarted) serves it',
  },
  REQUEST_SCHEDULER_FAILED: {
    area: 'request',
    status: 500,
    meaning: 'a scheduling plugin failed while deciding',
    fix: 'report it with the EPP log line (it names the plugin)',
  },
  REQUEST_INTERNAL: {
    area: 'request',
    status: 500,
    meaning: 'an unexpected error while handling the request',
    fix: 'report it with the EPP log line for the request id',
  },

  // ---- Requests the edge filter answers itself (its onError: reject). The filter cannot import
  // this file (it is AssemblyScript, below the EPP): filter/assembly/request/errors.ts spells the
  // same codes and statuses, and test/filter/error-codes.test.ts keeps the two equal.
  FILTER_BODY_TOO_LARGE: {
    area: 'filter',
    status: 413,
    meaning: 'the edge filter refused a request body larger than its maxBodyBytes',
    fix: 'send a smaller body, or raise the filter configuration\'s maxBodyBytes (and Envoy\'s buffer limit)',
  },
  FILTER_BODY_INVALID_JSON: {
    area: 'filter',
    status: 400,
    meaning: 'the edge filter could not parse the body as JSON (a syntax error, an empty body, or nesting deeper than its limit)',
    fix: 'send a valid JSON body; the message gives the byte offset of the error',
  },
  FILTER_BODY_INVALID_UTF8: {
    area: 'filter',
    status: 400,
    meaning: 'the body holds ill-formed UTF-8 or a lone surrogate in a \\u escape, which the model server\'s tokenizer would not accept',
    fix: 'send the body as well-formed UTF-8',
  },
  FILTER_REQUEST_INVALID: {
    area: 'filter',
    status: 400,
    meaning: 'the body is JSON of the wrong shape for the OpenAI API (a field of the wrong type, no prompt or messages, ...)',
    fix: 'fix the field the message names (the OpenAI completions / chat completions request shape)',
  },
  FILTER_UNKNOWN_MODEL: {
    area: 'filter',
    status: 400,
    meaning: 'the request\'s model is not in the edge filter\'s models configuration',
    fix: 'use a model the route serves, or add it (with its tokenizer) to the filter configuration\'s models',
  },
  FILTER_INTERNAL: {
    area: 'filter',
    status: 500,
    meaning: 'the edge filter\'s tokenizer or chat template failed unexpectedly on this request',
    fix: 'report it with the Envoy log line (tokenroute filter: internal ...); onError: passthrough lets such requests through to the EPP',
  },

  // ---- Responses the development gateway (tokenroute gateway) writes itself. Envoy writes its own
  // in production; these are the stand-in's.
  GATEWAY_EPP_UNAVAILABLE: {
    area: 'gateway',
    status: 503,
    meaning: 'the endpoint picker could not be reached or failed, and the gateway\'s failure mode is FailClose',
    fix: 'check that the EPP runs and --epp points at it; --failure-mode FailOpen routes round-robin to --fallback-endpoints instead',
  },
  GATEWAY_NO_FALLBACK: {
    area: 'gateway',
    status: 503,
    meaning: 'the gateway failed open (FailOpen) but has no --fallback-endpoints to route to',
    fix: 'give --fallback-endpoints host:port,..., or fix the EPP',
  },
  GATEWAY_BODY_TOO_LARGE: {
    area: 'gateway',
    status: 413,
    meaning: 'the request body is larger than the gateway\'s --buffer-limit',
    fix: 'send a smaller body or raise --buffer-limit',
  },
  GATEWAY_NO_HEALTHY_UPSTREAM: {
    area: 'gateway',
    status: 503,
    meaning: 'the EPP answered but named no valid destination endpoint (Envoy\'s text: no healthy upstream)',
    fix: 'check the EPP\'s log for the request: its pool may have no ready endpoint, or its reply is malformed',
  },
  GATEWAY_UPSTREAM_UNREACHABLE: {
    area: 'gateway',
    status: 503,
    meaning: 'every endpoint the gateway tried refused the connection or reset it before response headers (Envoy\'s text: upstream connect error or disconnect/reset before headers)',
    fix: 'check that the model servers run and listen on the addresses the EPP returns; the text names the last failure',
  },
  GATEWAY_UPSTREAM_TIMEOUT: {
    area: 'gateway',
    status: 504,
    meaning: 'the model server sent no response headers within --response-timeout (Envoy\'s text: upstream request timeout)',
    fix: 'raise --response-timeout, or look at why the server is slow to start answering (queueing, a long prefill)',
  },
  GATEWAY_FILTER_STALLED: {
    area: 'gateway',
    status: 500,
    meaning: 'the edge filter paused the request and never resumed it',
    fix: 'a filter defect: report it with the gateway log line for the request id',
  },
  GATEWAY_INTERNAL: {
    area: 'gateway',
    status: 500,
    meaning: 'an unexpected error in the development gateway while handling the request',
    fix: 'report it with the gateway log line for the request id',
  },

  // ---- The ext_proc stream itself (seen by the proxy as a gRPC status, and in the EPP log).
  STREAM_PROTOCOL_VIOLATION: {
    area: 'stream',
    meaning: 'the proxy sent ext_proc messages out of order (e.g. a body before headers) or an empty message',
    fix: 'check the proxy\'s ext_proc processing mode (GIE needs request/response headers SEND and FULL_DUPLEX_STREAMED bodies)',
  },
  STREAM_IDLE_TIMEOUT: {
    area: 'stream',
    meaning: 'the proxy sent nothing on an ext_proc stream for --stream-idle-timeout; the stream was closed and its request released',
    fix: 'a paused or partitioned proxy, or one that lost a stream reset; raise --stream-idle-timeout if model servers legitimately take longer to start answering',
  },
});

export type ErrorKey = keyof typeof ERRORS;

/** An error carrying its catalogue code; the message starts with the code. */
export class TokenrouteError extends Error {
  override readonly name = 'TokenrouteError';
  readonly code: string;
  readonly definition: ErrorDefinition;
  /** The message without its code, for a caller that reports it under a code of its own. */
  readonly detail: string;

  constructor(definition: ErrorDefinition, detail: string, options?: { cause?: unknown }) {
    super(`${definition.code}: ${detail}`, options);
    this.code = definition.code;
    this.definition = definition;
    this.detail = detail;
  }
}

/** The catalogue code an error carries, if it is one of ours. */
export function errorCode(err: unknown): string | undefined {
  return err instanceof TokenrouteError ? err.code : undefined;
}
