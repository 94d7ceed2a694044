// Request control: for each request, parse → objective → model rewrite → admission → candidate
// set (subset hint) → prepare data → schedule → decision. What happens to a routed request after
// that — in-flight load, the served endpoint, model-name restore, per-request metrics — is the
// RequestLifecycle's plugins' business (lifecycle.ts, plugins/). Implements RequestController, so
// the ext_proc layer never sees a scheduling concept and this layer never sees protobuf.
import { randomInt } from 'node:crypto';
import type { Datastore } from '../datastore/datastore.js';
import { modelRewriter, type ModelRewriter } from '../datastore/model-rewriter.js';
import type { Candidate } from '../framework/endpoint.js';
import { ERRORS, type ErrorDefinition } from '../framework/error-catalogue.js';
import { UPSTREAM_HEADERS, type CycleState, type PrepareDataPlugin, type PreRequestPlugin } from '../framework/plugins.js';
import type { InferenceRequest } from '../framework/request.js';
import { RequestState } from '../framework/cycle-state.js';
import { GIE_ERROR_CODES, type Decision, type RejectDecision, type RequestController, type RequestInput, type RejectStatus } from '../framework/request-controller.js';
import type { Logger } from '../observability/logger.js';
import type { EppMetrics } from '../observability/metrics.js';
import { parseEndpointAddress } from '../protocol/endpoint-address.js';
import {
  DEFAULT_FAIRNESS_ID,
  DESTINATION_ENDPOINT_KEY,
  FAIRNESS_ID_HEADER,
  LLMD_FAIRNESS_ID_HEADER,
  LLMD_OBJECTIVE_HEADER,
  MODEL_NAME_REWRITE_HEADER,
  OBJECTIVE_HEADER,
  SUBSET_HINT_KEY,
  SUBSET_HINT_NAMESPACE,
  isInternalHeader,
} from '../protocol/keys.js';
import type { ScheduleOutcome } from '../scheduling/scheduler.js';
import type { RequestLifecycle } from './lifecycle.js';
import type { FlowController } from '../flowcontrol/controller.js';
import type { Rejection } from '../framework/request-lifecycle.js';
import { estimateInflightTokens, type ParseResult, type RequestParser } from './parser.js';
import { isPromiseLike } from '../util/promise.js';

/** The one scheduling call the director needs (the Scheduler implements it). */
export interface RequestScheduler {
  schedule(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState): ScheduleOutcome;
}

export interface DirectorOptions {
  /** Endpoints, in-flight load, and the pool's objectives and model rewrites. */
  readonly datastore: Datastore;
  readonly parser: RequestParser;
  readonly scheduler: RequestScheduler;
  /**
   * Run before scheduling, once per request, in this order (the config loader puts producers
   * before their consumers); one may be async (e.g. tokenizing in a worker), and the plugins
   * after it wait for it.
   */
  readonly prepareData?: readonly PrepareDataPlugin[];
  /** Run after a successful decision, before the request goes upstream. */
  readonly preRequest?: readonly PreRequestPlugin[];
  /** Admission and everything after the decision (lifecycle.ts). */
  readonly lifecycle: RequestLifecycle;
  /** The scheduling profile the route selected (from gateway-set attributes / gRPC metadata). */
  readonly selectProfile: (input: RequestInput) => string | undefined;
  /** GIE's --disable-endpoint-subset-filter. */
  readonly disableSubsetFilter: boolean;
  readonly metrics: EppMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Source of randomness for weighted model rewrites; tests pass a seeded one. */
  readonly random?: () => number;
  /** Flow control's queue (the flowControl gate), which close() drains. */
  readonly flowController?: FlowController;
}

/** A routed request before the lifecycle sees it. */
interface Route {
  readonly incomingModel: string;
  readonly targetModel: string;
  readonly priority: number;
  readonly fairnessId: string;
  readonly inflightTokens: number;
  readonly requestBytes: number;
  readonly targets: readonly string[];
  readonly body: Buffer | undefined;
  readonly extraHeaders: ReadonlyMap<string, string>;
  readonly hasBody: boolean;
}

export class Director implements RequestController {
  private readonly now: () => number;
  private readonly rewriteModel: ModelRewriter;

  private readonly onEndpoints: (() => void) | undefined;

  constructor(private readonly opts: DirectorOptions) {
    this.now = opts.now ?? Date.now;
    this.rewriteModel = modelRewriter(opts.datastore.rewrites, opts.random);
    const fc = opts.flowController;
    if (fc) {
      // Scale from zero: requests waiting for an empty pool move on as soon as endpoints appear.
      this.onEndpoints = () => fc.endpointsChanged();
      opts.datastore.on('endpoints', this.onEndpoints);
    }
  }

  /** Stops taking requests into flow control and answers every waiting one (rejected-shutting-down). */
  close(): void {
    if (this.onEndpoints) this.opts.datastore.off('endpoints', this.onEndpoints);
    this.opts.flowController?.shutdown();
  }

  handleBodiless(input: RequestInput): Decision {
    const candidates = this.candidatesFor(input);
    if (!candidates.ok) return candidates.reject;
    if (candidates.list.length === 0) return this.reject(ERRORS.REQUEST_NO_READY_ENDPOINT, 'no ready endpoints in the pool', '', '');
    // GIE: a bodiless request (e.g. GET /v1/models) is not parsed or scheduled; any endpoint serves.
    const target = candidates.list[randomInt(candidates.list.length)];
    return this.route(input, new RequestState(), {
      incomingModel: '',
      targetModel: '',
      priority: 0,
      fairnessId: DEFAULT_FAIRNESS_ID,
      inflightTokens: 0,
      requestBytes: 0,
      targets: [target.endpoint.key],
      body: undefined,
      extraHeaders: new Map(),
      hasBody: false,
    });
  }

  handleRequest(input: RequestInput): Decision | Promise<Decision> {
    const started = this.now();
    const parsed = this.opts.parser.parse(input.body, input.headers);
    // A large body is parsed off the event loop: the rest of the cycle runs when it is done.
    if (isPromiseLike(parsed)) return parsed.then((p) => this.handleParsed(input, p, started));
    return this.handleParsed(input, parsed, started);
  }

  /**
   * A decision at the request's headers, before its body (issue 13): when the parser can read the
   * request from them (the edge filter's verified headers) and nothing needs the body — a model
   * rewrite does, so such a request waits for its body. Undefined: read the body first.
   */
  handleHeaders(input: RequestInput): Decision | Promise<Decision> | undefined {
    const started = this.now();
    const parsed = this.opts.parser.parseHeaders?.(input.headers);
    if (!parsed?.ok) return undefined;
    const target = this.targetModel(parsed.body.model, input.headers);
    if (target.model !== parsed.body.model) return undefined;
    this.opts.metrics.headerDecisions.inc();
    return this.handleParsed(input, parsed, started, target);
  }

  /** The model to serve: the rewrite header, else a matching rewrite rule (a weighted draw), else the client's. */
  private targetModel(model: string, headers: ReadonlyMap<string, string>): { model: string; rule?: string } {
    if (!this.opts.parser.parsesBody) return { model };
    const headerRewrite = headers.get(MODEL_NAME_REWRITE_HEADER);
    if (headerRewrite) return { model: headerRewrite };
    const rw = this.rewriteModel(model);
    return rw ? { model: rw.target, rule: rw.ruleName } : { model };
  }

  private handleParsed(input: RequestInput, parsed: ParseResult, started: number, target?: { model: string; rule?: string }): Decision | Promise<Decision> {
    if (!parsed.ok) {
      if (parsed.limit !== undefined) this.opts.metrics.limitRejections.inc({ limit: parsed.limit });
      const cause = parsed.status === 503 ? ERRORS.REQUEST_PARSER_UNAVAILABLE : parsed.limit === undefined ? ERRORS.REQUEST_BODY_INVALID : ERRORS.REQUEST_FIELD_TOO_LONG;
      return this.reject(cause, parsed.message, '', '');
    }
    const body = parsed.body;

    const objective = input.headers.get(LLMD_OBJECTIVE_HEADER) || input.headers.get(OBJECTIVE_HEADER) || undefined;
    const priority = (objective !== undefined ? this.opts.datastore.objectives.priority(objective) : undefined) ?? 0;

    const chosen = target ?? this.targetModel(body.model, input.headers);
    const targetModel = chosen.model;
    if (chosen.rule !== undefined) {
      const m = this.opts.metrics;
      m.modelRewriteDecisions.inc({ model_rewrite_name: chosen.rule, model_name: m.modelLabel(body.model), target_model: m.modelLabel(targetModel) });
    }
    // Decided at the headers, the body's size is what the proxy announced.
    const bodyBytes = input.body.length > 0 ? input.body.length : contentLength(input.headers);

    const candidates = this.candidatesFor(input);
    if (!candidates.ok) return this.countReject(candidates.reject, body.model, targetModel);

    const req: InferenceRequest = {
      requestId: input.requestId,
      incomingModel: body.model,
      targetModel,
      body,
      headers: input.headers,
      objective,
      priority,
      fairnessId: fairnessIdOf(input.headers),
      cancellation: input.cancellation,
      profile: this.opts.selectProfile(input),
      inflightTokens: estimateInflightTokens(bodyBytes),
      bodyBytes,
    };

    const admitted = this.opts.lifecycle.admit(req, candidates.list, started);
    // Flow control may hold the request until the pool has capacity: the rest of the cycle runs
    // then, over the pool as it is at that moment.
    if (isPromiseLike(admitted)) {
      return admitted.then((rejected) => {
        if (rejected) return this.rejectFor(rejected, body.model, targetModel);
        const now = this.candidatesFor(input);
        if (!now.ok) return this.countReject(now.reject, body.model, targetModel);
        return this.prepareAndDecide(input, req, now.list);
      });
    }
    if (admitted) return this.rejectFor(admitted, body.model, targetModel);
    return this.prepareAndDecide(input, req, candidates.list);
  }

  private prepareAndDecide(input: RequestInput, req: InferenceRequest, candidateList: readonly Candidate[]): Decision | Promise<Decision> {
    // One state per request: PrepareData fills it, the scheduler reads it, and it travels on to
    // the response-side plugins with the routed request.
    const state: CycleState = new RequestState();
    const pending = this.prepare(req, candidateList, state);
    if (!pending) return this.decide(input, req, candidateList, state);
    // Endpoints may have left the pool while data was prepared off the event loop (e.g. a pod
    // went NotReady): schedule over the pool as it is now, never over the earlier snapshot.
    return pending.then(() => {
      const now = this.candidatesFor(input);
      if (!now.ok) return this.countReject(now.reject, req.body.model, req.targetModel);
      return this.decide(input, req, now.list, state);
    });
  }

  /**
   * Runs the PrepareData plugins in order, synchronously until one goes off the event loop; the
   * rest run when it is done. A promise when any of them did. A failing plugin is logged and the
   * others still run (its consumers find nothing in the state and score nothing).
   */
  private prepare(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState, from = 0): Promise<void> | undefined {
    const plugins = this.opts.prepareData;
    if (!plugins) return undefined;
    for (let i = from; i < plugins.length; i++) {
      const p = plugins[i];
      try {
        const r = p.prepareRequestData(req, candidates, state);
        if (r) {
          return r.then(
            () => this.prepare(req, candidates, state, i + 1),
            (err) => {
              this.opts.logger.warn({ plugin: p.name, err }, 'prepare-data plugin failed');
              return this.prepare(req, candidates, state, i + 1);
            },
          );
        }
      } catch (err) {
        this.opts.logger.warn({ plugin: p.name, err }, 'prepare-data plugin failed');
      }
    }
    return undefined;
  }

  private decide(input: RequestInput, req: InferenceRequest, candidateList: readonly Candidate[], state: CycleState): Decision {
    const body = req.body;
    const targetModel = req.targetModel;
    const priority = req.priority;
    const outcome = this.opts.scheduler.schedule(req, candidateList, state);
    // GIE: no candidates → 503; candidates but none chosen → 429; a failing plugin → 500. The
    // scheduler counts the attempt (inference_extension_scheduler_attempts_total), once.
    if (!outcome.ok) return this.reject(SCHEDULE_FAILURES[outcome.status], outcome.message, body.model, targetModel);

    for (const p of this.opts.preRequest ?? []) {
      try {
        p.preRequest(req, outcome.result, state);
      } catch (err) {
        this.opts.logger.warn({ plugin: p.name, err }, 'pre-request plugin failed');
      }
    }

    const rewritten = targetModel !== body.model;
    return this.route(input, state, {
      incomingModel: body.model,
      targetModel,
      priority,
      fairnessId: req.fairnessId,
      inflightTokens: req.inflightTokens,
      requestBytes: req.bodyBytes,
      targets: outcome.targets.map((t) => t.endpoint.key),
      body: rewritten ? body.withModel(targetModel) : undefined,
      // Headers the PreRequest plugins set for the upstream (e.g. disagg-headers-handler's).
      extraHeaders: state.read(UPSTREAM_HEADERS) ?? NO_HEADERS,
      hasBody: true,
    });
  }

  /** The pool's endpoints, narrowed by the proxy's subset hint unless disabled. */
  private candidatesFor(input: RequestInput): { ok: true; list: readonly Candidate[] } | { ok: false; reject: RejectDecision } {
    const all = this.opts.datastore.candidates();
    if (this.opts.disableSubsetFilter) return { ok: true, list: all };
    const ns = input.filterMetadata[SUBSET_HINT_NAMESPACE];
    if (!ns || !(SUBSET_HINT_KEY in ns)) return { ok: true, list: all };
    const subset = subsetEntries(ns[SUBSET_HINT_KEY]);
    const list = subset.size === 0 ? [] : all.filter((c) => subset.has(c.endpoint.key) || subset.has(c.endpoint.address));
    if (list.length === 0) {
      return { ok: false, reject: rejection(ERRORS.REQUEST_SUBSET_NO_MATCH, 'no endpoint in the pool matches the subset hint') };
    }
    return { ok: true, list };
  }

  /** The decision for a routed request; the lifecycle's plugins take it from here. */
  private route(input: RequestInput, state: CycleState, route: Route): Decision {
    const handle = this.opts.lifecycle.begin({
      requestId: input.requestId,
      incomingModel: route.incomingModel,
      targetModel: route.targetModel,
      priority: route.priority,
      fairnessId: route.fairnessId,
      inflightTokens: route.inflightTokens,
      requestBytes: route.requestBytes,
      endpoint: route.targets[0],
      routedAt: this.now(),
      hasBody: route.hasBody,
      state,
      evictor: input.evictor,
    });
    return {
      kind: 'route',
      endpoints: route.targets,
      setHeaders: route.extraHeaders,
      removeHeaders: internalHeadersIn(input.headers),
      body: route.body,
      metadata: new Map(),
      handle,
    };
  }

  private reject(definition: ErrorDefinition, message: string, model: string, targetModel: string): RejectDecision {
    return this.countReject(rejection(definition, message), model, targetModel);
  }

  /** An admission plugin's rejection, with the response headers it asked for. */
  private rejectFor(rejected: Rejection, model: string, targetModel: string): RejectDecision {
    const decision = rejection(rejected.error, rejected.message);
    return this.countReject(rejected.headers ? { ...decision, headers: rejected.headers } : decision, model, targetModel);
  }

  private countReject(reject: RejectDecision, model: string, targetModel: string): RejectDecision {
    const m = this.opts.metrics;
    m.requestErrorTotal.inc({ model_name: m.modelLabel(model), target_model_name: m.modelLabel(targetModel), error_code: GIE_ERROR_CODES[reject.status] });
    this.opts.logger.debug({ status: reject.status, errorCode: reject.code, reason: reject.message, model }, 'request rejected');
    return reject;
  }
}

/** GIE's statuses of a failed scheduling cycle, by the catalogue's causes. */
const SCHEDULE_FAILURES: Readonly<Record<429 | 500 | 503, ErrorDefinition>> = {
  429: ERRORS.REQUEST_NO_TARGET,
  500: ERRORS.REQUEST_SCHEDULER_FAILED,
  503: ERRORS.REQUEST_NO_CANDIDATES,
};

/** A rejection with the status and code of its catalogue entry. */
function rejection(definition: ErrorDefinition, message: string): RejectDecision {
  return { kind: 'reject', status: definition.status as RejectStatus, message, code: definition.code };
}

/** The subset hint is a list of `ip:port` (GIE) or, as lwepp also accepts, a comma-separated string. */
function subsetEntries(value: unknown): Set<string> {
  const raw: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  const out = new Set<string>();
  for (const v of raw) {
    if (typeof v !== 'string' || v.trim() === '') continue;
    const hp = parseEndpointAddress(v, 'any');
    if (hp) out.add(hp.key);
    else out.add(v.trim().replace(/^\[(.*)\]$/, '$1')); // a bare IP: every port of that pod
  }
  return out;
}

/**
 * The flow-control tenant: llm-d's header, else GIE's, else GIE's default flow. A client chooses
 * it, so it is cut to MAX_FAIRNESS_ID_CHARS (flows are keyed and labelled by it).
 */
function fairnessIdOf(headers: ReadonlyMap<string, string>): string {
  const id = headers.get(LLMD_FAIRNESS_ID_HEADER) || headers.get(FAIRNESS_ID_HEADER) || DEFAULT_FAIRNESS_ID;
  return id.length > MAX_FAIRNESS_ID_CHARS ? id.slice(0, MAX_FAIRNESS_ID_CHARS) : id;
}

const MAX_FAIRNESS_ID_CHARS = 128;

/** The announced content-length, 0 when absent or malformed. */
function contentLength(headers: ReadonlyMap<string, string>): number {
  const v = headers.get('content-length');
  const n = v === undefined || v.length > 15 ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Headers only the gateway or the EPP may set: a client's copies are dropped before the upstream. */
function internalHeadersIn(headers: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const name of headers.keys()) {
    if (name !== DESTINATION_ENDPOINT_KEY && isInternalHeader(name)) out.push(name);
  }
  return out;
}

const NO_HEADERS: ReadonlyMap<string, string> = new Map();
