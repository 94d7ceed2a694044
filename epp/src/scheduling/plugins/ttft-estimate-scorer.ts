// ttft-estimate-scorer — tokenroute's: scores each endpoint by the time to first token the
// request would see there, estimated in milliseconds from the prefix a prefix plugin found cached
// on it (the uncached tokens to prefill), the prefill work the EPP already sent there and the wait
// for a sequence slot (scheduling/latency/ttft-model.ts), and scores best ÷ estimate (1 for the
// fastest). Why: GIE's blend adds min–max-normalised scores, so a one-request difference in
// queue length swings a load scorer's full weight while a partial prefix hit counts only its
// fraction — at the knee, with the cache under pressure, load wins too early and hits are thrown
// away (issue 15's decision traces); prefill cost and queueing compared in one currency do not
// have that problem. The model's coefficients start from priors (peakPrefillThroughput,
// prefillOverheadMs) and are learned from the TTFTs the EPP sees on streamed responses (first
// response chunk − decision); the slot capacity is the largest running count an endpoint reported
// while requests waited there, the decode time runs from first chunk to end. It is also a
// lifecycle plugin: it keeps, per endpoint, the requests it routed that have not produced a token.
// What a placement evicts is charged too. The uncached blocks a request brings to a server go into
// its LRU cache and push everything held there that many places towards eviction; on a full cache
// as many cached blocks go at once, which a later request may have to prefill again. When every
// cache is full that is the price of any placement; what differs is using a full cache while
// another has room. When the prefix plugin knows what each server holds (precise-prefix-cache-
// scorer, from KV events) and the server reports its KV size (vllm:cache_config_info
// num_gpu_blocks), the charge is new blocks × (the cache's fill after them − the emptiest
// candidate's; fill = held + new ÷ size, at most 1) × block size × the learned ms per token ×
// evictionWeight, and the score ranks by estimate + charge. Without it, a prompt nobody holds goes
// wherever the queue is shortest, so one server can take more prefixes than fit while another's
// cache stands half empty, and its requests then miss on blocks it evicted itself (issue 15's
// shared-prefix runs: every request of one server in four missed its 200-token question at QPS 7,
// TTFT p90 1.1 s vs llm-d's 0.09 s). The decision trace notes the charge per candidate
// (<name>.evictionMs). The estimate itself (what is learned, what ttftSource readers get) stays
// the TTFT.
// Parameters: prefixPluginName (the prefix plugin whose match to use; default the first that
// published one), peakPrefillThroughput (tokens/s, default 15928 as llm-d's affinity filter),
// prefillOverheadMs (20), learn (true), window (500 observations), minObservations (5),
// slotCapacity (0 = learned from metrics), decodeMsPrior (1000, until a decode is observed),
// evictionWeight (1; 0 ranks by the TTFT estimate alone).
import { z } from 'zod';
import { stateKey, type RequestState } from '../../framework/cycle-state.js';
import type { Candidate } from '../../framework/endpoint.js';
import type { LifecyclePlugin, Scorer } from '../../framework/plugins.js';
import type {
  EndpointServedPlugin,
  RequestRoutedPlugin,
  ResponseCompletePlugin,
  ResponseReceivedPlugin,
  ResponseStreamingPlugin,
  RoutedRequest,
} from '../../framework/request-lifecycle.js';
import { definePlugin } from '../../framework/registry.js';
import { readMatch } from '../../prefix/plugin-support.js';
import { TtftModel } from '../latency/ttft-model.js';

export const TTFT_ESTIMATE_SCORER_TYPE = 'ttft-estimate-scorer';
const TERMS = ['overhead_ms', 'prefill_ms_per_token', 'backlog_ms_per_token', 'slot_wait_factor'] as const;

export const ttftEstimateScorerParameters = z.strictObject({
  prefixPluginName: z.string().min(1).optional(),
  peakPrefillThroughput: z.number().positive().default(15_928),
  prefillOverheadMs: z.number().nonnegative().default(20),
  learn: z.boolean().default(true),
  window: z.number().int().min(10).default(500),
  minObservations: z.number().int().min(1).default(5),
  slotCapacity: z.number().int().nonnegative().default(0),
  decodeMsPrior: z.number().positive().default(1000),
  evictionWeight: z.number().nonnegative().default(1),
});
export type TtftEstimateScorerParameters = z.output<typeof ttftEstimateScorerParameters>;

/** The features a candidate was scored with, kept for the one the request is routed to. */
interface Features {
  uncached: number;
  backlog: number;
  slotWaitMs: number;
  estimateMs: number;
}
/**
 * The last scoring's candidates and their features, FEATURES numbers per candidate in the order of
 * Features (read back for the one the request is routed to; flat, so a scoring allocates one array).
 */
interface Scored {
  readonly candidates: readonly Candidate[];
  readonly features: Float64Array;
}
const FEATURES = 4;
const SCORED = (name: string) => stateKey<Scored>(`ttft-estimate.${name}.scored`);
/** What the routed request charges its endpoint until its first token. */
interface Pending {
  endpoint: string;
  features: Features;
  streamed: boolean;
  /** False once a fallback endpoint served: the features were the first choice's. */
  learn: boolean;
  firstAt: number; // NaN until the first chunk
}
const PENDING = (name: string) => stateKey<Pending>(`ttft-estimate.${name}.pending`);

/** Per endpoint: prompt tokens routed and not yet prefilled, the largest running count seen. */
interface EndpointLoad {
  backlogTokens: number;
  capacity: number;
}

export interface TtftEstimator {
  /**
   * Estimated TTFT (ms) per candidate for this request, given the (weighted) blocks of its prompt
   * each candidate holds; also what score() ranks by.
   */
  estimateTtftMs(candidates: readonly Candidate[], state: RequestState, promptTokens: number, matchedBlocks: Float64Array | undefined, blockSize: number): Float64Array;
  readonly model: TtftModel;
}

export type TtftEstimateScorer = Scorer &
  TtftEstimator &
  LifecyclePlugin &
  RequestRoutedPlugin &
  EndpointServedPlugin &
  ResponseReceivedPlugin &
  ResponseStreamingPlugin &
  ResponseCompletePlugin & { readonly parameters: TtftEstimateScorerParameters };

export function isTtftEstimator(p: unknown): p is TtftEstimator {
  return typeof (p as TtftEstimator | undefined)?.estimateTtftMs === 'function';
}

export const ttftEstimateScorerPlugin = definePlugin({
  type: TTFT_ESTIMATE_SCORER_TYPE,
  parameters: ttftEstimateScorerParameters,
  create(name, params, ctx): TtftEstimateScorer {
    const model = new TtftModel({
      prefillMsPerToken: 1000 / params.peakPrefillThroughput,
      overheadMs: params.prefillOverheadMs,
      learn: params.learn,
      window: params.window,
      minObservations: params.minObservations,
      refreshEvery: 5,
    });
    const loads = new Map<string, EndpointLoad>();
    const scoredKey = SCORED(name);
    const pendingKey = PENDING(name);
    const load = (key: string): EndpointLoad => {
      let l = loads.get(key);
      if (!l) loads.set(key, (l = { backlogTokens: 0, capacity: params.slotCapacity }));
      return l;
    };
    let cycles = 0;
    /** Forgets endpoints that left the pool with nothing pending (checked every 1,000 scorings). */
    const prune = () => {
      for (const [key, l] of loads) if (l.backlogTokens === 0 && !ctx.datastore.get(key)) loads.delete(key);
    };
    const release = (p: Pending) => {
      const l = loads.get(p.endpoint);
      if (l) l.backlogTokens = Math.max(0, l.backlogTokens - p.features.uncached);
      p.features.uncached = 0;
    };

    const estimateTtftMs: TtftEstimator['estimateTtftMs'] = (candidates, state, promptTokens, matchedBlocks, blockSize) => {
      if (++cycles % 1000 === 0) prune();
      const out = new Float64Array(candidates.length);
      const features = new Float64Array(candidates.length * FEATURES);
      const decodeMs = model.meanDecodeMs(params.decodeMsPrior);
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i];
        const l = load(c.endpoint.key);
        // Learned from scrapes when not configured: the most sequences it ran while requests waited
        // (only a full server queues), so a lightly loaded server is not taken for a small one.
        if (params.slotCapacity === 0 && c.metrics.waitingRequests > 0 && c.metrics.runningRequests > l.capacity) l.capacity = c.metrics.runningRequests;
        const occupancy = Math.max(c.inflight.requests, c.metrics.runningRequests + c.metrics.waitingRequests);
        const capacity = l.capacity > 0 ? l.capacity : Infinity;
        const slotWaitMs = occupancy + 1 > capacity ? ((occupancy + 1 - capacity) * decodeMs) / capacity : 0;
        const uncached = Math.max(0, promptTokens - (matchedBlocks ? matchedBlocks[i] * blockSize : 0));
        const estimateMs = Math.max(1, model.estimate(uncached, l.backlogTokens, slotWaitMs));
        out[i] = estimateMs;
        const f = i * FEATURES;
        features[f] = uncached;
        features[f + 1] = l.backlogTokens;
        features[f + 2] = slotWaitMs;
        features[f + 3] = estimateMs;
      }
      state.write(scoredKey, { candidates, features });
      return out;
    };

    /**
     * Per candidate, what routing this request there costs the server's cache (ms of re-prefill at
     * the learned prefill cost): its uncached blocks × how much fuller that cache would be than the
     * emptiest candidate's (each fill = held + new over the KV size, capped at 1). Where every cache
     * is full, evicting is the price of any placement and ranks nothing (charging it would only
     * double the weight of a hit against the queue); what a placement should pay for is using room
     * on a full cache while another has some. 0 where the KV size or the holdings are unknown.
     */
    const evictionMs = (candidates: readonly Candidate[], state: RequestState, held: Float64Array, blockSize: number): Float64Array | undefined => {
      const scored = state.read(scoredKey);
      if (!scored || scored.candidates !== candidates) return undefined;
      // The fill each cache would have after this request's new blocks (NaN: KV size unknown).
      const fills = new Float64Array(candidates.length);
      let emptiest = Infinity;
      for (let i = 0; i < candidates.length; i++) {
        const m = candidates[i].metrics;
        if (!(m.cacheNumBlocks > 0)) {
          fills[i] = NaN;
          continue;
        }
        const capacity = (m.cacheNumBlocks * (m.cacheBlockSize > 0 ? m.cacheBlockSize : blockSize)) / blockSize;
        fills[i] = Math.min(1, (held[i] + Math.ceil(scored.features[i * FEATURES] / blockSize)) / capacity);
        if (fills[i] < emptiest) emptiest = fills[i];
      }
      if (emptiest === Infinity) return undefined;
      // Each fill becomes its candidate's charge in place (one array per scoring).
      const charges = fills;
      const msPerToken = model.coefficients()[1];
      for (let i = 0; i < candidates.length; i++) {
        const incoming = Math.ceil(scored.features[i * FEATURES] / blockSize);
        const over = fills[i] - emptiest; // NaN where unknown: no charge
        charges[i] = over > 0 && incoming > 0 ? params.evictionWeight * incoming * over * blockSize * msPerToken : 0;
      }
      return charges;
    };
    const evictionNote = `${name}.evictionMs`;

    // Observed ÷ estimated TTFT of the endpoint a request was routed to: how well the model fits.
    const fit = ctx.metrics?.histogram('tokenroute_ttft_estimate_observed_ratio', 'Observed TTFT divided by the ttft-estimate-scorer estimate for the chosen endpoint (streamed responses).', [0.1, 0.25, 0.5, 0.8, 1, 1.25, 2, 4, 10]);
    let unregister: (() => void) | undefined;

    return {
      type: TTFT_ESTIMATE_SCORER_TYPE,
      name,
      parameters: params,
      model,
      estimateTtftMs,
      async start() {
        unregister = ctx.metrics?.gauge('tokenroute_ttft_estimate_coefficient', 'The TTFT model of a ttft-estimate-scorer: overhead_ms, prefill_ms_per_token, backlog_ms_per_token, slot_wait_factor; observations.', ['plugin', 'term'], (set) => {
          const c = model.coefficients();
          TERMS.forEach((term, i) => set({ plugin: name, term }, c[i]));
          set({ plugin: name, term: 'observations' }, model.observationCount());
        });
      },
      async close() {
        unregister?.();
      },
      score(req, candidates, state, out) {
        const info = readMatch(state, params.prefixPluginName);
        // Without a prefix plugin in the profile every endpoint prefills the whole prompt (~4 chars a token).
        const est = info
          ? estimateTtftMs(candidates, state, info.promptTokens, info.matched(candidates), info.blockSize)
          : estimateTtftMs(candidates, state, Math.ceil(req.body.content.textChars / 4), undefined, 1);
        const held = info?.heldBlocks && params.evictionWeight > 0 ? info.heldBlocks(candidates) : undefined;
        const evict = held ? evictionMs(candidates, state, held, info!.blockSize) : undefined;
        let best = Infinity;
        for (let i = 0; i < est.length; i++) {
          out[i] = evict ? est[i] + evict[i] : est[i];
          if (out[i] < best) best = out[i];
        }
        for (let i = 0; i < est.length; i++) out[i] = best / out[i];
        state.note(name, Array.from(est, Math.round));
        if (evict) state.note(evictionNote, Array.from(evict, Math.round));
      },

      requestRouted(req: RoutedRequest) {
        const scored = req.state.read(scoredKey);
        const i = scored ? scored.candidates.findIndex((c) => c.endpoint.key === req.endpoint) : -1;
        if (i < 0) return;
        const x = scored!.features;
        const f = i * FEATURES;
        const features: Features = { uncached: x[f], backlog: x[f + 1], slotWaitMs: x[f + 2], estimateMs: x[f + 3] };
        load(req.endpoint).backlogTokens += features.uncached;
        req.state.write(pendingKey, { endpoint: req.endpoint, features, streamed: false, learn: true, firstAt: NaN });
      },

      endpointServed(req: RoutedRequest, endpoint: string) {
        const p = req.state.read(pendingKey);
        if (!p || endpoint === p.endpoint || !ctx.datastore.get(endpoint)) return;
        release(p);
        p.learn = false;
      },

      responseReceived(req: RoutedRequest, headers: ReadonlyMap<string, string>) {
        const p = req.state.read(pendingKey);
        if (p) p.streamed = (headers.get('content-type') ?? '').startsWith('text/event-stream');
      },

      responseStreaming(req: RoutedRequest, chunk: Buffer) {
        const p = req.state.read(pendingKey);
        if (p && Number.isNaN(p.firstAt) && chunk.length > 0) {
          p.firstAt = ctx.now();
          const f = p.features;
          // Only a streamed response's first chunk is its first token; a whole JSON body is the end.
          if (p.streamed && p.learn) {
            const ttft = p.firstAt - req.routedAt;
            fit?.observe(ttft / f.estimateMs);
            model.observe(f.uncached, f.backlog, f.slotWaitMs, ttft);
          }
          release(p);
        }
        return chunk;
      },

      responseComplete(req: RoutedRequest, outcome) {
        const p = req.state.read(pendingKey);
        if (!p) return;
        if (Number.isNaN(p.firstAt)) release(p);
        else if (outcome === 'complete' && p.streamed && p.learn) model.observeDecode(ctx.now() - p.firstAt);
      },
    };
  },
});
