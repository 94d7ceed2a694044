// flow-control-admission (built in; replaces sheddable-admission when the `flowControl` feature
// gate is on): hands each request to the FlowController (epp/src/flowcontrol/controller.ts) —
// admitted at once while the pool has room, else held in the EPP until its band may dispatch — and
// maps how it left to the status and `x-llm-d-request-dropped-reason` llm-d's router sends
// (llm-d-router `pkg/epp/requestcontrol/admission.go` translateFlowControlOutcome, after #2047 and
// #2162: capacity and queue-TTL sheds are 429 while the pool has endpoints, 503 while it has none;
// a cancel and a shutdown are 503). A client may shorten its queue-wait budget with
// x-llm-d-inference-ttl and order itself by x-llm-d-slo-ttft-ms (slo-deadline-ordering-policy). It also tells the controller when capacity frees: every
// request that ends may let a waiting one go.
import { ERRORS, type ErrorDefinition } from '../../framework/error-catalogue.js';
import type { Candidate } from '../../framework/endpoint.js';
import { DROPPED_REASON_HEADER, type DroppedReason } from '../../framework/flow-control.js';
import type { InferenceRequest } from '../../framework/request.js';
import { RESPONSE_USAGE, type AdmissionPlugin, type Rejection, type RequestRoutedPlugin, type ResponseCompletePlugin, type RoutedRequest } from '../../framework/request-lifecycle.js';
import type { FlowController, FlowDecision } from '../../flowcontrol/controller.js';
import { isPromiseLike } from '../../util/promise.js';
import { INFERENCE_TTL_HEADER, SLO_TTFT_HEADER } from '../../protocol/keys.js';
import { parseGoDuration } from '../../framework/duration.js';
import { estimatePromptTokens } from '../parser.js';

export const FLOW_CONTROL_ADMISSION_TYPE = 'flow-control-admission';

/** The catalogue entry of each dropped reason (its status is the one llm-d's router answers). */
const REASON_ERRORS: Readonly<Record<DroppedReason, ErrorDefinition>> = {
  'rejected-saturated': ERRORS.FLOW_REJECTED_CAPACITY,
  'rejected-ttl-expired': ERRORS.FLOW_TTL_EXPIRED,
  'rejected-no-endpoints': ERRORS.FLOW_NO_ENDPOINTS,
  'rejected-context-cancelled': ERRORS.FLOW_CONTEXT_CANCELLED,
  'rejected-shutting-down': ERRORS.FLOW_SHUTTING_DOWN,
  'rejected-internal': ERRORS.REQUEST_INTERNAL,
  'rejected-rate-limited': ERRORS.FLOW_RATE_LIMITED,
  evicted: ERRORS.FLOW_EVICTED,
};

/** One header map per reason, shared by every rejection with it. */
const REASON_HEADERS = new Map<DroppedReason, ReadonlyMap<string, string>>(
  (Object.keys(REASON_ERRORS) as DroppedReason[]).map((r) => [r, new Map([[DROPPED_REASON_HEADER, r]])]),
);

export class FlowControlAdmission implements AdmissionPlugin, RequestRoutedPlugin, ResponseCompletePlugin {
  readonly type = FLOW_CONTROL_ADMISSION_TYPE;
  readonly name = FLOW_CONTROL_ADMISSION_TYPE;

  constructor(private readonly controller: FlowController) {}

  admit(req: InferenceRequest, _candidates: readonly Candidate[]): Rejection | undefined | Promise<Rejection | undefined> {
    const decision = this.controller.admit(
      {
        requestId: req.requestId,
        flow: { id: req.fairnessId, priority: req.priority },
        byteSize: req.bodyBytes,
        // The prompt alone: generated tokens are charged when the model server reports them.
        tokens: estimatePromptTokens(req.bodyBytes),
        sloTtftMs: sloTtftMs(req.headers.get(SLO_TTFT_HEADER)),
        ttlMs: clientTtlMs(req.headers.get(INFERENCE_TTL_HEADER)),
      },
      req.cancellation,
    );
    return isPromiseLike(decision) ? decision.then(rejectionOf) : rejectionOf(decision);
  }

  /** A sheddable request runs: with eviction on, flow control may end it to make room. */
  requestRouted(req: RoutedRequest): void {
    if (req.priority < 0 && req.evictor) this.controller.runningStarted(req.requestId, req.priority, req.routedAt, req.evictor);
  }

  /** Capacity freed: a waiting request may go; the tenant is charged what it generated. */
  responseComplete(req: RoutedRequest): void {
    this.controller.runningEnded(req.requestId);
    // Generated tokens count for the tenant's fairness and its token rate.
    const usage = req.state.read(RESPONSE_USAGE);
    if (usage && usage.completionTokens > 0) this.controller.served({ id: req.fairnessId, priority: req.priority }, usage.completionTokens);
    this.controller.nudge();
  }
}

function rejectionOf(d: FlowDecision): Rejection | undefined {
  if (d.dispatched) return undefined;
  // A rate-limited request is told when to come back (RFC 9110 retry-after, whole seconds).
  const headers =
    d.retryAfterMs !== undefined
      ? new Map([[DROPPED_REASON_HEADER, d.reason], ['retry-after', String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)))]])
      : REASON_HEADERS.get(d.reason);
  return { error: REASON_ERRORS[d.reason], message: d.message, headers };
}

/** `x-llm-d-inference-ttl`: a positive Go duration, else none (a bad value is ignored, not an error). */
function clientTtlMs(value: string | undefined): number | undefined {
  if (value === undefined || value.length > 32) return undefined;
  const d = parseGoDuration(value);
  return d.ok && d.ms > 0 ? d.ms : undefined;
}

/** `x-llm-d-slo-ttft-ms`: a positive number of milliseconds, else none. */
function sloTtftMs(value: string | undefined): number | undefined {
  if (value === undefined || value.length > 15) return undefined;
  const ms = Number(value);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
