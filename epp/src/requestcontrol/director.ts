// Request control: for each request, parse → objective → model rewrite → admission → candidate
// set (subset hint) → schedule → decision, and on the way back the response bookkeeping
// (in-flight load, served endpoint, model-name restore, metrics). Implements RequestController,
// so the ext_proc layer never sees a scheduling concept and this layer never sees protobuf.
import { randomInt } from 'node:crypto';
import type { Datastore } from '../datastore/datastore.js';
import type { Candidate } from '../framework/endpoint.js';
import { parseEndpointAddress } from '../protocol/endpoint-address.js';
import type { EppMetrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';
import type { CycleState, PrepareDataPlugin, PreRequestPlugin, SchedulingResult } from '../framework/plugins.js';
import { GIE_ERROR_CODES, type Decision, type RejectDecision, type RequestController, type RequestHandle, type RequestInput, type RejectStatus } from '../framework/request-controller.js';
import { ModelNameRestorer } from './model-restore.js';
import type { ModelRewriter } from '../datastore/model-rewriter.js';
import { ERRORS, type ErrorDefinition } from '../framework/error-catalogue.js';
import type { InferenceRequest, ParsedBody } from '../framework/request.js';
import * as keys from './keys.js';
import { estimateInflightTokens } from './parser.js';

export type ParseOutcome = { ok: true; body: ParsedBody } | { ok: false; status: 400; message: string };

export type ScheduleOutcome =
  | { ok: true; result: SchedulingResult }
  | { ok: false; status: 429 | 500 | 503; message: string };


export interface DirectorOptions {
  readonly datastore: Datastore;
  readonly parse: (body: Buffer, headers: ReadonlyMap<string, string>) => ParseOutcome;
  readonly schedule: (req: InferenceRequest, candidates: readonly Candidate[], state: CycleState) => ScheduleOutcome;
  /** Run before scheduling, once per request (may be async: e.g. tokenizing in a worker). */
  readonly prepareData?: readonly PrepareDataPlugin[];
  /** Run after a successful decision, before the request goes upstream. */
  readonly preRequest?: readonly PreRequestPlugin[];
  /** Pool saturation over the candidates; ≥ 1 = saturated (sheddable requests get 429). */
  readonly saturation: (candidates: readonly Candidate[], now: number) => number;
  /** Priority of an InferenceObjective by name; undefined when no such objective. */
  readonly objectivePriority: (name: string) => number | undefined;
  readonly rewriteModel?: ModelRewriter;
  /** False with a passthrough parser: the body is opaque, so the model is never rewritten in it. */
  readonly bodyIsParsed: boolean;
  /** The scheduling profile the route selected (from gateway-set attributes / gRPC metadata). */
  readonly selectProfile: (input: RequestInput) => string | undefined;
  /** GIE's --disable-endpoint-subset-filter. */
  readonly disableSubsetFilter: boolean;
  readonly metrics: EppMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class Director implements RequestController {
  private readonly now: () => number;

  constructor(private readonly opts: DirectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  handleBodiless(input: RequestInput): Decision {
    const candidates = this.candidatesFor(input);
    if (!candidates.ok) return candidates.reject;
    if (candidates.list.length === 0) return this.reject(ERRORS.REQUEST_NO_READY_ENDPOINT, 'no ready endpoints in the pool', '', '');
    // GIE: a bodiless request (e.g. GET /v1/models) is not parsed or scheduled; any endpoint serves.
    const target = candidates.list[randomInt(candidates.list.length)];
    return this.route(input, target, [target.endpoint.key], undefined, {
      incomingModel: '',
      targetModel: '',
      inflightTokens: 0,
      priority: 0,
      restore: undefined,
      bodyBytes: 0,
      extraHeaders: new Map(),
    });
  }

  handleRequest(input: RequestInput): Decision | Promise<Decision> {
    const started = this.now();
    const parsed = this.opts.parse(input.body, input.headers);
    if (!parsed.ok) return this.reject(ERRORS.REQUEST_BODY_INVALID, parsed.message, '', '');
    const body = parsed.body;

    const objective = input.headers.get(keys.OBJECTIVE_HEADER) || undefined;
    const priority = (objective !== undefined ? this.opts.objectivePriority(objective) : undefined) ?? 0;

    let targetModel = body.model;
    const headerRewrite = this.opts.bodyIsParsed ? input.headers.get(keys.MODEL_REWRITE_HEADER) : undefined;
    if (headerRewrite) {
      targetModel = headerRewrite;
    } else if (this.opts.rewriteModel && this.opts.bodyIsParsed) {
      const rw = this.opts.rewriteModel(body.model);
      if (rw) {
        targetModel = rw.target;
        this.opts.metrics.modelRewriteDecisions.inc({ model_rewrite_name: rw.ruleName, model_name: body.model, target_model: rw.target });
      }
    }

    const candidates = this.candidatesFor(input);
    if (!candidates.ok) return this.countReject(candidates.reject, body.model, targetModel);

    if (priority < 0 && this.opts.saturation(candidates.list, started) >= 1) {
      return this.reject(ERRORS.REQUEST_SHED, 'request dropped: pool is saturated and the request is sheddable', body.model, targetModel);
    }

    const req: InferenceRequest = {
      requestId: input.requestId,
      incomingModel: body.model,
      targetModel,
      body,
      headers: input.headers,
      objective,
      priority,
      fairnessId: input.headers.get(keys.FAIRNESS_ID_HEADER) || keys.DEFAULT_FAIRNESS_ID,
      profile: this.opts.selectProfile(input),
      inflightTokens: estimateInflightTokens(input.body.length),
      bodyBytes: input.body.length,
    };

    const state: CycleState = new Map();
    const pending = this.prepare(req, candidates.list, state);
    if (!pending) return this.decide(input, req, candidates.list, state);
    // Endpoints may have left the pool while data was prepared off the event loop (e.g. a pod
    // went NotReady): schedule over the pool as it is now, never over the earlier snapshot.
    return pending.then(() => {
      const now = this.candidatesFor(input);
      if (!now.ok) return this.countReject(now.reject, body.model, targetModel);
      return this.decide(input, req, now.list, state);
    });
  }

  /** Runs the PrepareData plugins; a promise when any of them went off the event loop. */
  private prepare(req: InferenceRequest, candidates: readonly Candidate[], state: CycleState): Promise<void> | undefined {
    const plugins = this.opts.prepareData;
    if (!plugins || plugins.length === 0) return undefined;
    let waits: Promise<void>[] | undefined;
    for (const p of plugins) {
      try {
        const r = p.prepareRequestData(req, candidates, state);
        if (r) (waits ??= []).push(r.catch((err) => this.opts.logger.warn({ plugin: p.name, err }, 'prepare-data plugin failed')));
      } catch (err) {
        this.opts.logger.warn({ plugin: p.name, err }, 'prepare-data plugin failed');
      }
    }
    return waits ? Promise.all(waits).then(() => undefined) : undefined;
  }

  private decide(input: RequestInput, req: InferenceRequest, candidateList: readonly Candidate[], state: CycleState): Decision {
    const body = req.body;
    const targetModel = req.targetModel;
    const priority = req.priority;
    const outcome = this.opts.schedule(req, candidateList, state);
    if (!outcome.ok) {
      this.opts.metrics.schedulerAttempts.inc({ status: 'failure', target_model_name: targetModel, pod_name: '', namespace: '', port: '' });
      // GIE: no candidates → 503; candidates but none chosen → 429; a failing plugin → 500.
      return this.reject(SCHEDULE_FAILURES[outcome.status], outcome.message, body.model, targetModel);
    }
    const primary = outcome.result.profileResults.get(outcome.result.primaryProfile);
    const targets = primary?.targets ?? [];
    if (targets.length === 0) return this.reject(ERRORS.REQUEST_NO_TARGET, 'failed to find a target endpoint', body.model, targetModel);
    const target = targets[0];
    this.opts.metrics.schedulerAttempts.inc({
      status: 'success',
      target_model_name: targetModel,
      pod_name: target.endpoint.podName,
      namespace: target.endpoint.namespace,
      port: String(target.endpoint.port),
    });

    for (const p of this.opts.preRequest ?? []) {
      try {
        p.preRequest(req, outcome.result, state);
      } catch (err) {
        this.opts.logger.warn({ plugin: p.name, err }, 'pre-request plugin failed');
      }
    }

    const newBody = targetModel !== body.model ? Buffer.from(JSON.stringify({ ...body.json, model: targetModel })) : undefined;
    return this.route(input, target, targets.map((t) => t.endpoint.key), newBody, {
      incomingModel: body.model,
      targetModel,
      inflightTokens: req.inflightTokens,
      priority,
      restore: targetModel !== body.model ? new ModelNameRestorer(targetModel, body.model) : undefined,
      bodyBytes: input.body.length,
      extraHeaders: prefillHeaders(outcome.result),
    });
  }

  /** The pool's endpoints, narrowed by the proxy's subset hint unless disabled. */
  private candidatesFor(input: RequestInput): { ok: true; list: readonly Candidate[] } | { ok: false; reject: RejectDecision } {
    const all = this.opts.datastore.candidates();
    if (this.opts.disableSubsetFilter) return { ok: true, list: all };
    const ns = input.filterMetadata[keys.SUBSET_HINT_NAMESPACE];
    if (!ns || !(keys.SUBSET_HINT_KEY in ns)) return { ok: true, list: all };
    const subset = subsetEntries(ns[keys.SUBSET_HINT_KEY]);
    const list = subset.size === 0 ? [] : all.filter((c) => subset.has(c.endpoint.key) || subset.has(c.endpoint.address));
    if (list.length === 0) {
      return { ok: false, reject: rejection(ERRORS.REQUEST_SUBSET_NO_MATCH, 'no endpoint in the pool matches the subset hint') };
    }
    return { ok: true, list };
  }

  private route(
    input: RequestInput,
    target: Candidate,
    endpoints: string[],
    body: Buffer | undefined,
    info: RequestInfo,
  ): Decision {
    const ds = this.opts.datastore;
    const metrics = this.opts.metrics;
    const labels = { model_name: info.incomingModel, target_model_name: info.targetModel };
    if (info.incomingModel) {
      metrics.requestTotal.inc({ ...labels, priority: String(info.priority) });
      metrics.requestSizes.observe(labels, info.bodyBytes);
      metrics.runningRequests.inc({ model_name: info.incomingModel });
    }
    let charged = target.endpoint.key;
    ds.addInflight(charged, info.inflightTokens);
    const started = this.now();
    const now = this.now;
    let responseBytes = 0;
    let status = '';
    let ended = false;
    const handle: RequestHandle = {
      requestId: input.requestId,
      onResponseHeaders(headers) {
        status = headers.get(':status') ?? headers.get('status') ?? '';
      },
      onResponseBody(chunk, endOfStream) {
        responseBytes += chunk.length;
        return info.restore ? info.restore.push(chunk, endOfStream) : chunk;
      },
      onServed(endpoint) {
        // A fallback served: move the in-flight charge to the endpoint that really has the load.
        if (endpoint && endpoint !== charged && ds.get(endpoint)) {
          ds.removeInflight(charged, info.inflightTokens);
          ds.addInflight(endpoint, info.inflightTokens);
          charged = endpoint;
        }
      },
      onEnd(outcome) {
        if (ended) return;
        ended = true;
        ds.removeInflight(charged, info.inflightTokens);
        if (!info.incomingModel) return;
        metrics.runningRequests.dec({ model_name: info.incomingModel });
        if (outcome === 'complete' && (status === '' || status.startsWith('2'))) {
          metrics.requestDuration.observe(labels, (now() - started) / 1000);
          metrics.responseSizes.observe(labels, responseBytes);
        } else if (status !== '' && !status.startsWith('2')) {
          metrics.requestErrorTotal.inc({ ...labels, error_code: status });
        }
      },
    };
    return {
      kind: 'route',
      endpoints,
      setHeaders: info.extraHeaders,
      removeHeaders: internalHeadersIn(input.headers),
      body,
      metadata: new Map(),
      handle,
    };
  }

  private reject(definition: ErrorDefinition, message: string, model: string, targetModel: string): RejectDecision {
    return this.countReject(rejection(definition, message), model, targetModel);
  }

  private countReject(reject: RejectDecision, model: string, targetModel: string): RejectDecision {
    this.opts.metrics.requestErrorTotal.inc({ model_name: model, target_model_name: targetModel, error_code: GIE_ERROR_CODES[reject.status] });
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

interface RequestInfo {
  incomingModel: string;
  targetModel: string;
  inflightTokens: number;
  priority: number;
  restore: ModelNameRestorer | undefined;
  bodyBytes: number;
  extraHeaders: ReadonlyMap<string, string>;
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

/** Headers only the gateway or the EPP may set: a client's copies are dropped before the upstream. */
function internalHeadersIn(headers: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const name of headers.keys()) {
    if (name !== keys.DESTINATION_HEADER && keys.isInternalHeader(name)) out.push(name);
  }
  return out;
}

/** When a profile named `prefill` chose an endpoint (P/D), llm-d's header names it. */
function prefillHeaders(result: SchedulingResult): ReadonlyMap<string, string> {
  const prefill = result.primaryProfile !== 'prefill' ? result.profileResults.get('prefill') : undefined;
  if (!prefill || prefill.targets.length === 0) return new Map();
  return new Map([[keys.PREFILL_HEADER, prefill.targets.map((t) => t.endpoint.key).join(',')]]);
}
