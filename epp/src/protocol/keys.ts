// The names the EPP and the proxy exchange, exactly as GIE's protocol spec and Go constants spell
// them (GIE `pkg/epp/metadata/consts.go` and `pkg/epp/handlers/`, v1.5.0). They are interface facts: a typo here silently
// breaks routing, so every other module imports them from this one place.

/** Request header and `envoy.lb` metadata key carrying the chosen endpoint(s), `ip:port[,ip:port...]`. */
export const DESTINATION_ENDPOINT_KEY = 'x-gateway-destination-endpoint';
/** Dynamic-metadata namespace Envoy's load balancers read host metadata from. */
export const DESTINATION_ENDPOINT_NAMESPACE = 'envoy.lb';
/** Filter-metadata namespace of the proxy's optional candidate subset. */
export const SUBSET_HINT_NAMESPACE = 'envoy.lb.subset_hint';
/** Key (in SUBSET_HINT_NAMESPACE) of the list of `ip:port` the EPP must pick from. */
export const SUBSET_HINT_KEY = 'x-gateway-destination-endpoint-subset';
/** Key (in `envoy.lb` on response-path messages) of the endpoint that actually served. */
export const DESTINATION_ENDPOINT_SERVED_KEY = 'x-gateway-destination-endpoint-served';

/** Client control headers. */
export const OBJECTIVE_HEADER = 'x-gateway-inference-objective';
export const FAIRNESS_ID_HEADER = 'x-gateway-inference-fairness-id';
export const MODEL_NAME_REWRITE_HEADER = 'x-gateway-model-name-rewrite';
export const REQUEST_ID_HEADER = 'x-request-id';
/**
 * llm-d's router spells the objective and fairness headers with its own prefix (llm-d-router
 * `pkg/common/request`, the canonical names since its rename; the x-gateway-* names stay as the
 * legacy ones): both are read, llm-d's first.
 */
export const LLMD_OBJECTIVE_HEADER = 'x-llm-d-inference-objective';
export const LLMD_FAIRNESS_ID_HEADER = 'x-llm-d-inference-fairness-id';
/** A request's time-to-first-token objective in ms (slo-deadline-ordering-policy orders by it). */
export const SLO_TTFT_HEADER = 'x-llm-d-slo-ttft-ms';
/** A request's own queue-wait budget, a Go duration ("2s"): shortens flowControl.defaultRequestTTL. */
export const INFERENCE_TTL_HEADER = 'x-llm-d-inference-ttl';

/**
 * llm-d's disaggregation headers, set on the request to the decode endpoint for its routing
 * sidecar (llm-d-inference-scheduler `pkg/common/common.go`, v0.7.1): the chosen prefill
 * endpoint `ip:port`, the encoder endpoints `ip:port,ip:port`, and the data-parallel rank's
 * `ip:port`. A client must never set them (request control strips its copies).
 */
export const PREFILL_ENDPOINT_HEADER = 'x-prefiller-host-port';
export const ENCODER_ENDPOINTS_HEADER = 'x-encoder-hosts-ports';
export const DATA_PARALLEL_ENDPOINT_HEADER = 'x-data-parallel-host-port';

/** Default fairness id when the client sends none (GIE: `default-flow`). */
export const DEFAULT_FAIRNESS_ID = 'default-flow';

/** Debug header GIE's EPP adds to every response-headers reply; kept for parity with its tests. */
export const WENT_INTO_RESP_HEADERS_HEADER = 'x-went-into-resp-headers';

/** Fully-qualified gRPC service name; also a health-check service name (GIE `cmd/epp/runner/health.go`). */
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor';

/**
 * Largest body chunk sent back in one StreamedBodyResponse. GIE uses 62,000 bytes so that a
 * message (chunk + framing) stays under the proxy's 64 KiB per-message default.
 */
export const MAX_BODY_CHUNK_BYTES = 62_000;

/**
 * Routing headers only the gateway or the EPP may set: a client's own copies are removed before
 * the request goes upstream (the destination, llm-d's P/D and data-parallel headers, and every
 * `x-tokenroute-*` header — the edge filter's are verified separately).
 */
export function isInternalHeader(name: string): boolean {
  return (
    name.startsWith(DESTINATION_ENDPOINT_KEY) ||
    name === PREFILL_ENDPOINT_HEADER ||
    name === ENCODER_ENDPOINTS_HEADER ||
    name === DATA_PARALLEL_ENDPOINT_HEADER ||
    name.startsWith('x-tokenroute-')
  );
}
