// PreciseIndex: the event-loop side of the precise prefix index. It applies op batches decoded
// by the subscriber worker to a BlockIndex (pods named by topic or by the dialled endpoint are
// resolved to pool endpoints; events of pods outside the pool are counted and dropped), keeps
// optional speculative entries with a TTL in a bounded ring (a decision's keys, counted until the
// pod's BlockStored confirms them or the TTL expires), marks a pod's entries uncertain after a
// sequence gap, and scores candidates by longest consecutive prefix with tier weights.
import { BlockIndex, DEFAULT_WEIGHTS, FLAG_UNCERTAIN, type LookupWeights } from './block-index.js';
import type { Candidate } from '../../framework/endpoint.js';

export interface PreciseIndexOptions {
  readonly maxPairs?: number;
  readonly initialPairs?: number;
  readonly capacityPerEndpoint?: number;
  readonly weights?: LookupWeights;
  /** 0 disables speculative entries. */
  readonly speculativeTtlMs?: number;
  /** Ring size for speculative entries (oldest expire early when full). */
  readonly speculativeCapacity?: number;
  readonly now?: () => number;
}

export interface PreciseIndexCounters {
  unknownPod: number;
  cleared: number;
  uncertainMarks: number;
  speculativeAdded: number;
  speculativeExpired: number;
  opsApplied: number;
}

/** Implements events/ingest.ts's OpTarget structurally (the index room does not import the events room). */
export class PreciseIndex {
  readonly index: BlockIndex;
  readonly weights: LookupWeights;
  readonly counters: PreciseIndexCounters = { unknownPod: 0, cleared: 0, uncertainMarks: 0, speculativeAdded: 0, speculativeExpired: 0, opsApplied: 0 };
  /** Pod name (topic pod id or endpoint key) → endpoint keys; set by the owner. */
  resolve: (pod: string) => readonly string[] = (pod) => [pod];
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly specCap: number;
  private specLo: Uint32Array;
  private specHi: Uint32Array;
  private specEp: Int32Array;
  private specAt: Float64Array;
  private specHead = 0;
  private specLen = 0;
  private epScratch = new Int32Array(64);

  constructor(opts: PreciseIndexOptions = {}) {
    this.index = new BlockIndex({ maxPairs: opts.maxPairs, initialPairs: opts.initialPairs, capacityPerEndpoint: opts.capacityPerEndpoint ?? 1 << 20 });
    this.weights = opts.weights ?? DEFAULT_WEIGHTS;
    this.ttl = opts.speculativeTtlMs ?? 0;
    this.now = opts.now ?? Date.now;
    this.specCap = this.ttl > 0 ? Math.max(16, opts.speculativeCapacity ?? 1 << 18) : 0;
    this.specLo = new Uint32Array(this.specCap);
    this.specHi = new Uint32Array(this.specCap);
    this.specEp = new Int32Array(this.specCap);
    this.specAt = new Float64Array(this.specCap);
  }

  // ---- OpTarget (from the worker)

  add(pod: string, flags: number, halves: Uint32Array, from: number, n: number): void {
    for (const ep of this.endpointsOf(pod)) {
      const id = this.index.endpointId(ep);
      for (let k = 0; k < n; k++) this.index.add(halves[from + 2 * k], halves[from + 2 * k + 1], id, flags);
    }
    this.counters.opsApplied += n;
  }

  remove(pod: string, flags: number, halves: Uint32Array, from: number, n: number): void {
    for (const ep of this.endpointsOf(pod)) {
      const id = this.index.idOf(ep);
      if (id < 0) continue;
      for (let k = 0; k < n; k++) this.index.remove(halves[from + 2 * k], halves[from + 2 * k + 1], id, flags);
    }
    this.counters.opsApplied += n;
  }

  clear(pod: string): void {
    for (const ep of this.endpointsOf(pod)) this.index.clearEndpoint(ep);
    this.counters.cleared++;
  }

  uncertain(pod: string): void {
    for (const ep of this.endpointsOf(pod)) this.index.flagEndpoint(ep, FLAG_UNCERTAIN);
    this.counters.uncertainMarks++;
  }

  private endpointsOf(pod: string): readonly string[] {
    const eps = this.resolve(pod);
    if (eps.length === 0) this.counters.unknownPod++;
    return eps;
  }

  // ---- request path

  /** Drops an endpoint that left the pool. */
  dropEndpoint(key: string): void {
    this.index.removeEndpoint(key);
  }

  /** Records a decision's keys for `endpoint` as speculative (no-op when speculation is off). */
  addSpeculative(endpoint: string, halves: Uint32Array, n: number): void {
    if (this.ttl <= 0 || n === 0) return;
    this.expire();
    const id = this.index.endpointId(endpoint);
    const at = this.now() + this.ttl;
    for (let k = 0; k < n; k++) {
      const lo = halves[2 * k];
      const hi = halves[2 * k + 1];
      if (this.index.has(lo, hi, id)) continue;
      this.index.add(lo, hi, id, 0, true);
      if (this.specLen === this.specCap) this.expireOne(true);
      const slot = (this.specHead + this.specLen) % this.specCap;
      this.specLo[slot] = lo;
      this.specHi[slot] = hi;
      this.specEp[slot] = id;
      this.specAt[slot] = at;
      this.specLen++;
      this.counters.speculativeAdded++;
    }
  }

  /** Removes speculative entries whose TTL has passed. */
  expire(): void {
    if (this.specLen === 0) return;
    const now = this.now();
    while (this.specLen > 0 && this.specAt[this.specHead] <= now) this.expireOne(false);
  }

  private expireOne(early: boolean): void {
    const s = this.specHead;
    const name = this.index.nameOf(this.specEp[s]);
    if (name !== undefined && this.index.removeIfSpeculative(this.specLo[s], this.specHi[s], this.specEp[s])) this.counters.speculativeExpired++;
    void early;
    this.specHead = (s + 1) % this.specCap;
    this.specLen--;
  }

  /**
   * Weighted longest-prefix match of `n` keys (at `positions` when a digest) for each candidate
   * into `out` (blocks, not normalised). Returns the longest raw match.
   */
  match(halves: Uint32Array, n: number, candidates: readonly Candidate[], out: Float64Array, positions?: Uint32Array): number {
    this.expire();
    if (this.epScratch.length < candidates.length) this.epScratch = new Int32Array(candidates.length * 2);
    const eps = this.epScratch.subarray(0, candidates.length);
    for (let i = 0; i < candidates.length; i++) eps[i] = this.index.idOf(candidates[i].endpoint.key);
    return this.index.longestPrefix(halves, n, eps, out, this.weights, positions);
  }

  bytes(): number {
    return this.index.bytes() + this.specLo.byteLength * 2 + this.specEp.byteLength + this.specAt.byteLength;
  }
}
