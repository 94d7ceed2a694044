// Test fixtures for scheduling: candidates with chosen metrics, requests, a seedable random
// source and a plugin context, so plugin formulas can be checked against hand-computed values.
import { z } from 'zod';
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { EMPTY_METRICS, type Candidate, type EndpointMetrics } from '../../../epp/src/framework/endpoint.js';
import type { InferenceRequest, ParsedBody } from '../../../epp/src/framework/request.js';
import { parseRequestBody } from '../../../epp/src/requestcontrol/parser.js';
import { silentLogger, type Logger } from '../../../epp/src/observability/logger.js';
import type { Plugin, Scorer } from '../../../epp/src/framework/plugins.js';
import { PluginRegistry, definePlugin, type PluginContext, type PluginType } from '../../../epp/src/framework/registry.js';
import { seededRandom } from '../../../epp/src/util/seeded-random.js';
import { RequestState } from '../../../epp/src/framework/cycle-state.js';

export { seededRandom };


export const NOW = 1_700_000_000_000;

export interface CandidateSpec {
  key?: string;
  waiting?: number;
  running?: number;
  kv?: number;
  activeLoras?: string[];
  waitingLoras?: string[];
  maxLoras?: number;
  /** Date.now() of the scrape; default NOW (fresh). 0 = never scraped. */
  updatedAt?: number;
  inflightRequests?: number;
  inflightTokens?: number;
  podName?: string;
  namespace?: string;
}

let counter = 0;

export function candidate(spec: CandidateSpec = {}): Candidate {
  const n = ++counter;
  const key = spec.key ?? `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}:8000`;
  const [address, port] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
  const metrics: EndpointMetrics = {
    ...EMPTY_METRICS,
    waitingRequests: spec.waiting ?? 0,
    runningRequests: spec.running ?? 0,
    kvCacheUsage: spec.kv ?? 0,
    activeLoras: spec.activeLoras ?? [],
    waitingLoras: spec.waitingLoras ?? [],
    maxLoras: spec.maxLoras ?? 0,
    updatedAt: spec.updatedAt ?? NOW,
  };
  return {
    endpoint: {
      key,
      address,
      port,
      podName: spec.podName ?? `pod-${n}`,
      namespace: spec.namespace ?? 'default',
      labels: {},
      engine: 'vllm',
    },
    metrics,
    inflight: { requests: spec.inflightRequests ?? 0, tokens: spec.inflightTokens ?? 0 },
  };
}

export function candidates(specs: CandidateSpec[]): Candidate[] {
  return specs.map(candidate);
}

/** A body as the EPP's parser reads it (the path names the API when given, else the body's shape does). */
export function parsedBody(json: Record<string, unknown>, path?: string): ParsedBody {
  const r = parseRequestBody(Buffer.from(JSON.stringify(json)), path);
  if (!r.ok) throw new Error(r.message);
  return r.body;
}

export function request(overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    requestId: 'req-1',
    incomingModel: 'm',
    targetModel: 'm',
    body: parsedBody({ model: 'm', prompt: 'hello' }),
    headers: new Map(),
    objective: undefined,
    priority: 0,
    fairnessId: 'default-flow',
    profile: undefined,
    inflightTokens: 2,
    bodyBytes: 32,
    ...overrides,
  };
}

export function context(opts: { random?: () => number; now?: () => number; logger?: Logger; seed?: number } = {}): PluginContext {
  return {
    datastore: new Datastore(),
    logger: opts.logger ?? silentLogger(),
    random: opts.random ?? seededRandom(opts.seed ?? 42),
    now: opts.now ?? (() => NOW),
  };
}

/** Creates a plugin of `type` with parameters validated by its schema (throws on bad ones). */
export function make<T extends Plugin>(pluginType: PluginType, params: unknown = {}, ctx: PluginContext = context(), name?: string): T {
  const parsed = pluginType.parameters.parse(params ?? {});
  return pluginType.create(name ?? pluginType.type, parsed, ctx) as T;
}

/** Runs a scorer and returns its raw scores (as the framework hands them: pre-zeroed buffer). */
export function scores(scorer: Scorer, cands: readonly Candidate[], req: InferenceRequest = request()): number[] {
  const out = new Float64Array(cands.length);
  scorer.score(req, cands, new RequestState(), out);
  return Array.from(out);
}

export function close(actual: number, expected: number, eps = 1e-9): boolean {
  return Math.abs(actual - expected) <= eps;
}

/** Stand-ins for the data layer's plugin types, which another module registers in production. */
export const stubDataSourceType = definePlugin({
  type: 'metrics-data-source',
  parameters: z.strictObject({
    scheme: z.enum(['http', 'https']).default('http'),
    path: z.string().default('/metrics'),
    insecureSkipVerify: z.boolean().default(true),
  }),
  create: (name) => ({ type: 'metrics-data-source', name }),
});
export const stubExtractorType = definePlugin({
  type: 'core-metrics-extractor',
  parameters: z.looseObject({}),
  create: (name) => ({ type: 'core-metrics-extractor', name }),
});

export function registerStubDataLayer(registry: PluginRegistry): PluginRegistry {
  return registry.register(stubDataSourceType).register(stubExtractorType);
}
