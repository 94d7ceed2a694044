// BlockIndex: which endpoint holds which 64-bit block key, in typed arrays (no JS objects per
// entry), shared by the approximate index (prefix-cache-scorer, fed by routing history) and the
// precise index (precise-prefix-cache-scorer, fed by vLLM KV events).
//
// Layout (why: ≤ 64 bytes per block-endpoint pair at 10 M pairs, and a 512-key lookup in
// microseconds, which JS Maps of BigInt cannot give):
//  - a node table, open addressing with linear probing, one node per distinct block key, its
//    fields interleaved in one Int32Array (one cache line per probe): key as two 32-bit halves,
//    the head of its pair list, and a presence bitmask of the endpoint ids holding it (W words;
//    W grows with the number of endpoint ids). Lookup ANDs masks.
//  - a pair arena, one record per (block, endpoint): endpoint id (u16), flags (u8: tier GPU/CPU,
//    speculative, uncertain), its node, the next pair of the same node, and prev/next links of
//    the endpoint's intrusive LRU list (most recent at the head), so an endpoint is cleared or
//    trimmed in O(its entries).
//  - per endpoint: entry count, capacity (LRU bound), LRU head, and how many of its pairs are
//    not plain GPU entries (when 0, its score is its matched length with no per-block walk).
// Deleting a node shifts the probe run backwards (no tombstones) and re-points its pairs.
// Single-threaded by design: only the event-loop thread reads and writes it.

export const FLAG_GPU = 1;
export const FLAG_CPU = 2;
export const FLAG_SPECULATIVE = 4;
export const FLAG_UNCERTAIN = 8;
const TIER_FLAGS = FLAG_GPU | FLAG_CPU;

const NIL = -1;
/** Blocks whose nodes are looked up ahead of the mask walk (a power of two). */
const LOOKAHEAD = 16;
/** Endpoint ids are u16. */
export const MAX_ENDPOINTS = 65535;

export interface LookupWeights {
  /** Weight of a block held on GPU (default 1). */
  readonly gpu: number;
  /** Weight of a block held only on CPU (offloaded; default 0.8, llm-d's). */
  readonly cpu: number;
  /** Weight of a speculative entry (default 1: counts like a real one until confirmed or expired). */
  readonly speculative: number;
  /** Multiplier for entries whose presence is uncertain after a missed event sequence (default 0.5). */
  readonly uncertain: number;
}

export const DEFAULT_WEIGHTS: LookupWeights = Object.freeze({ gpu: 1, cpu: 0.8, speculative: 1, uncertain: 0.5 });

export interface BlockIndexOptions {
  /** Pairs to allocate room for up front (grows by 1.5× beyond). */
  readonly initialPairs?: number;
  /** Hard bound on pairs across all endpoints; the largest endpoints lose their oldest first. */
  readonly maxPairs?: number;
  /** Default per-endpoint LRU capacity. */
  readonly capacityPerEndpoint?: number;
}

export interface BlockIndexStats {
  readonly pairs: number;
  readonly nodes: number;
  readonly endpoints: number;
  readonly bytes: number;
  readonly evictions: number;
}

function hashSlot(lo: number, hi: number, mask: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return h & mask;
}

export class BlockIndex {
  // ---- nodes (open addressing; stride S = 3 + W int32s: lo, hi, head, W mask words;
  // head === NIL marks an empty slot)
  private nodeCap = 0;
  private nodeMask = 0;
  private nodeCount = 0;
  /** W mask words per node. */
  private words = 1;
  private stride = 4;
  private nodes: Int32Array = new Int32Array(0);

  // ---- pairs (arena with a free list threaded through lruNext)
  private pairCap = 0;
  private pairCount = 0;
  private freeHead = NIL;
  private arenaTop = 0;
  private pEp = new Uint16Array(0);
  private pFlags = new Uint8Array(0);
  private pNode = new Int32Array(0);
  private pNextInNode = new Int32Array(0);
  private pPrev = new Int32Array(0);
  private pNext = new Int32Array(0);

  // ---- endpoints (dense ids; names map to ids)
  private readonly ids = new Map<string, number>();
  private names: (string | undefined)[] = [];
  private freeIds: number[] = [];
  private epCount: Int32Array = new Int32Array(16);
  private epCapacity: Int32Array = new Int32Array(16);
  private epHead: Int32Array = new Int32Array(16).fill(NIL);
  private epNonPlain: Int32Array = new Int32Array(16);

  private readonly maxPairs: number;
  private readonly defaultCapacity: number;
  private evictionCount = 0;

  // ---- lookup scratch
  private alive = new Uint32Array(1);
  private next = new Uint32Array(1);
  private lengths = new Int32Array(16);
  private readonly batch = new Int32Array(LOOKAHEAD);

  constructor(opts: BlockIndexOptions = {}) {
    this.maxPairs = Math.max(1, opts.maxPairs ?? 16_000_000);
    this.defaultCapacity = Math.max(1, opts.capacityPerEndpoint ?? 31_250);
    const initial = Math.max(64, Math.min(opts.initialPairs ?? 1024, this.maxPairs));
    this.allocNodes(nodeCapacityFor(initial));
    this.allocPairs(initial);
  }

  // ------------------------------------------------------------------ endpoints

  /** The endpoint's small id, creating it when new. */
  endpointId(name: string): number {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.names.length;
    if (id >= MAX_ENDPOINTS) throw new Error(`block index: more than ${MAX_ENDPOINTS} endpoints`);
    if (id === this.names.length) this.names.push(name);
    else this.names[id] = name;
    this.ids.set(name, id);
    this.ensureEndpointArrays(id + 1);
    this.epCount[id] = 0;
    this.epCapacity[id] = this.defaultCapacity;
    this.epHead[id] = NIL;
    this.epNonPlain[id] = 0;
    if (id >= this.words * 32) this.growWords(Math.ceil((id + 1) / 32));
    return id;
  }

  /** The id of a known endpoint, or -1. */
  idOf(name: string): number {
    return this.ids.get(name) ?? -1;
  }

  nameOf(id: number): string | undefined {
    return this.names[id];
  }

  endpointNames(): string[] {
    return [...this.ids.keys()];
  }

  /** Sets an endpoint's LRU capacity (entries); trims it when over. */
  setCapacity(name: string, capacity: number): void {
    const id = this.endpointId(name);
    this.epCapacity[id] = Math.max(1, Math.floor(capacity));
    while (this.epCount[id] > this.epCapacity[id]) this.evictOldest(id);
  }

  capacityOf(name: string): number {
    const id = this.ids.get(name);
    return id === undefined ? this.defaultCapacity : this.epCapacity[id];
  }

  /** Entries held for an endpoint (0 when unknown). */
  countOf(name: string): number {
    const id = this.ids.get(name);
    return id === undefined ? 0 : this.epCount[id];
  }

  /** Drops every entry of an endpoint (AllBlocksCleared, restart); keeps its id. */
  clearEndpoint(name: string): number {
    const id = this.ids.get(name);
    if (id === undefined) return 0;
    let removed = 0;
    while (this.epHead[id] !== NIL) {
      this.removePair(this.epHead[id]);
      removed++;
    }
    return removed;
  }

  /** Drops an endpoint and its entries; its id is reused. */
  removeEndpoint(name: string): number {
    const id = this.ids.get(name);
    if (id === undefined) return 0;
    const removed = this.clearEndpoint(name);
    this.ids.delete(name);
    this.names[id] = undefined;
    this.freeIds.push(id);
    return removed;
  }

  /** Sets `flag` on every entry of an endpoint (e.g. FLAG_UNCERTAIN after a missed sequence). */
  flagEndpoint(name: string, flag: number): number {
    const id = this.ids.get(name);
    if (id === undefined) return 0;
    let n = 0;
    const head = this.epHead[id];
    if (head === NIL) return 0;
    let p = head;
    do {
      this.setFlags(p, this.pFlags[p] | flag);
      n++;
      p = this.pNext[p];
    } while (p !== head);
    return n;
  }

  // ------------------------------------------------------------------ entries

  /**
   * Records that endpoint `ep` (an id from endpointId) holds block (lo, hi), moving it to the
   * head of the endpoint's LRU. `tierFlags` (FLAG_GPU / FLAG_CPU) are added to what is there;
   * a confirmed store clears FLAG_SPECULATIVE and FLAG_UNCERTAIN. With `speculative`, a new entry
   * is marked speculative and an existing one is only touched.
   */
  add(lo: number, hi: number, ep: number, tierFlags: number = FLAG_GPU, speculative = false): void {
    let node = this.findNode(lo, hi);
    if (node !== NIL) {
      const p = this.findPair(node, ep);
      if (p !== NIL) {
        if (!speculative) this.setFlags(p, (this.pFlags[p] | (tierFlags & TIER_FLAGS)) & ~(FLAG_SPECULATIVE | FLAG_UNCERTAIN));
        this.touch(p, ep);
        return;
      }
    }
    if (this.epCount[ep] >= this.epCapacity[ep]) this.evictOldest(ep);
    if (this.pairCount >= this.maxPairs) this.evictGlobal();
    const S = this.stride;
    if (node === NIL || this.nodes[node * S + 2] === NIL || this.nodes[node * S] !== (lo | 0) || this.nodes[node * S + 1] !== (hi | 0)) {
      // (re)find: an eviction above may have removed or moved the node
      node = this.findOrInsertNode(lo | 0, hi | 0);
    }
    const nb = node * this.stride;
    const p = this.allocPair();
    this.pEp[p] = ep;
    this.pFlags[p] = 0;
    this.pNode[p] = node;
    this.pNextInNode[p] = this.nodes[nb + 2];
    this.nodes[nb + 2] = p;
    this.nodes[nb + 3 + (ep >>> 5)] |= 1 << (ep & 31);
    this.linkHead(p, ep);
    this.epCount[ep]++;
    this.pairCount++;
    this.setFlags(p, speculative ? FLAG_SPECULATIVE : (tierFlags & TIER_FLAGS) || FLAG_GPU);
  }

  /** Removes (lo, hi) for endpoint `ep`; returns whether it was there. */
  remove(lo: number, hi: number, ep: number, tierFlags = 0): boolean {
    const node = this.findNode(lo, hi);
    if (node === NIL) return false;
    const p = this.findPair(node, ep);
    if (p === NIL) return false;
    if (tierFlags !== 0) {
      // A tier-specific removal (e.g. the CPU copy went away) keeps the other tier.
      const left = this.pFlags[p] & TIER_FLAGS & ~tierFlags;
      if (left !== 0) {
        this.setFlags(p, (this.pFlags[p] & ~TIER_FLAGS) | left);
        return true;
      }
    }
    this.removePair(p);
    return true;
  }

  /** Removes (lo, hi) for `ep` only if the entry is still speculative (a TTL expired). */
  removeIfSpeculative(lo: number, hi: number, ep: number): boolean {
    const node = this.findNode(lo, hi);
    if (node === NIL) return false;
    const p = this.findPair(node, ep);
    if (p === NIL || (this.pFlags[p] & FLAG_SPECULATIVE) === 0) return false;
    this.removePair(p);
    return true;
  }

  /** Flags of (lo, hi) on `ep`, or 0 when absent. */
  flagsOf(lo: number, hi: number, ep: number): number {
    const node = this.findNode(lo, hi);
    if (node === NIL) return 0;
    const p = this.findPair(node, ep);
    return p === NIL ? 0 : this.pFlags[p];
  }

  has(lo: number, hi: number, ep: number): boolean {
    return this.flagsOf(lo, hi, ep) !== 0;
  }

  // ------------------------------------------------------------------ lookup

  /**
   * Longest consecutive prefix match: for each endpoint id in `eps`, counts the blocks of `keys`
   * (interleaved lo, hi u32 pairs; `n` keys) it holds from block 0 until the first miss, each
   * weighted by `weights`, into `out` (same index as `eps`). With `positions` (a prefix digest:
   * key k stands for block positions[k] and, chained, for every block before it) a match through
   * key k counts positions[k] + 1 blocks, each key weighing for the blocks since the previous
   * one. Returns the longest raw length in blocks.
   */
  longestPrefix(keys: Uint32Array, n: number, eps: ArrayLike<number>, out: Float64Array, weights: LookupWeights = DEFAULT_WEIGHTS, positions?: Uint32Array): number {
    const W = this.words;
    if (this.alive.length < W) {
      this.alive = new Uint32Array(W);
      this.next = new Uint32Array(W);
    }
    const alive = this.alive;
    const next = this.next;
    alive.fill(0, 0, W);
    let any = false;
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i];
      out[i] = 0;
      if (ep < 0 || ep >= this.names.length || this.names[ep] === undefined) continue;
      alive[ep >>> 5] |= 1 << (ep & 31);
      any = true;
    }
    if (this.lengths.length < this.names.length) this.lengths = new Int32Array(Math.max(this.names.length, this.lengths.length * 2));
    const lengths = this.lengths;
    let best = 0;
    let step = 0;
    if (any) {
      // Nodes are found a batch ahead: the probes are independent loads the CPU can overlap
      // (a miss per block otherwise serialises on memory latency).
      const batch = this.batch;
      let filled = 0;
      for (; step < n; step++) {
        const j = step & (LOOKAHEAD - 1);
        if (j === 0 || step >= filled) {
          const end = Math.min(n, step + LOOKAHEAD);
          for (let q = step; q < end; q++) batch[q & (LOOKAHEAD - 1)] = this.findNode(keys[2 * q], keys[2 * q + 1]);
          filled = end;
        }
        const node = batch[j];
        let still = 0;
        const base = node * this.stride + 3;
        const nodes = this.nodes;
        for (let w = 0; w < W; w++) {
          const a = alive[w];
          if (a === 0) {
            next[w] = 0;
            continue;
          }
          const m = node === NIL ? 0 : (a & nodes[base + w]) >>> 0;
          next[w] = m;
          still |= m;
          let dropped = a & ~m;
          while (dropped !== 0) {
            const bit = 31 - Math.clz32(dropped & -dropped);
            lengths[w * 32 + bit] = step;
            dropped &= dropped - 1;
          }
        }
        for (let w = 0; w < W; w++) alive[w] = next[w];
        if (still === 0) break;
      }
      if (step === n) {
        for (let w = 0; w < W; w++) {
          let a = alive[w];
          while (a !== 0) {
            const bit = 31 - Math.clz32(a & -a);
            lengths[w * 32 + bit] = n;
            a &= a - 1;
          }
        }
      }
    }
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i];
      if (ep < 0 || ep >= this.names.length || this.names[ep] === undefined) continue;
      const len = lengths[ep];
      if (len === 0) continue;
      const blocks = positions ? positions[len - 1] + 1 : len;
      if (blocks > best) best = blocks;
      if (this.epNonPlain[ep] === 0) {
        out[i] = blocks * weights.gpu;
        continue;
      }
      // Some of this endpoint's entries are CPU-only, speculative or uncertain: weigh each block.
      let sum = 0;
      for (let b = 0; b < len; b++) {
        const node = this.findNode(keys[2 * b], keys[2 * b + 1]);
        const p = node === NIL ? NIL : this.findPair(node, ep);
        if (p === NIL) break;
        const f = this.pFlags[p];
        let w = (f & FLAG_GPU) !== 0 ? weights.gpu : (f & FLAG_CPU) !== 0 ? weights.cpu : weights.speculative;
        if ((f & FLAG_UNCERTAIN) !== 0) w *= weights.uncertain;
        sum += positions ? w * (positions[b] - (b === 0 ? -1 : positions[b - 1])) : w;
      }
      out[i] = sum;
    }
    return best;
  }

  // ------------------------------------------------------------------ stats

  stats(): BlockIndexStats {
    return { pairs: this.pairCount, nodes: this.nodeCount, endpoints: this.ids.size, bytes: this.bytes(), evictions: this.evictionCount };
  }

  size(): number {
    return this.pairCount;
  }

  /** Bytes held by the typed arrays (the index's memory, excluding small per-endpoint maps). */
  bytes(): number {
    return (
      this.nodes.byteLength +
      this.pEp.byteLength +
      this.pFlags.byteLength +
      this.pNode.byteLength +
      this.pNextInNode.byteLength +
      this.pPrev.byteLength +
      this.pNext.byteLength +
      this.epCount.byteLength * 4
    );
  }

  /** Keys an endpoint holds, most recent first (tests, debugging). */
  keysOf(name: string, limit = Infinity): bigint[] {
    const id = this.ids.get(name);
    const out: bigint[] = [];
    if (id === undefined || this.epHead[id] === NIL) return out;
    const head = this.epHead[id];
    let p = head;
    do {
      const node = this.pNode[p];
      const b = node * this.stride;
      out.push((BigInt(this.nodes[b + 1] >>> 0) << 32n) | BigInt(this.nodes[b] >>> 0));
      p = this.pNext[p];
    } while (p !== head && out.length < limit);
    return out;
  }

  // ------------------------------------------------------------------ internals

  private setFlags(p: number, flags: number): void {
    const ep = this.pEp[p];
    const wasPlain = this.pFlags[p] === FLAG_GPU || this.pFlags[p] === 0;
    const isPlain = flags === FLAG_GPU;
    this.pFlags[p] = flags;
    if (wasPlain && !isPlain) this.epNonPlain[ep]++;
    else if (!wasPlain && isPlain) this.epNonPlain[ep]--;
  }

  private findNode(lo: number, hi: number): number {
    lo |= 0;
    hi |= 0;
    const mask = this.nodeMask;
    const S = this.stride;
    const nodes = this.nodes;
    let i = hashSlot(lo, hi, mask);
    for (;;) {
      const b = i * S;
      if (nodes[b + 2] === NIL) return NIL;
      if (nodes[b] === lo && nodes[b + 1] === hi) return i;
      i = (i + 1) & mask;
    }
  }

  private findOrInsertNode(lo: number, hi: number): number {
    if ((this.nodeCount + 1) * 4 > this.nodeCap * 3) this.growNodes();
    const mask = this.nodeMask;
    const S = this.stride;
    const nodes = this.nodes;
    let i = hashSlot(lo, hi, mask);
    for (;;) {
      const b = i * S;
      if (nodes[b + 2] === NIL) {
        nodes[b] = lo;
        nodes[b + 1] = hi;
        nodes.fill(0, b + 3, b + S);
        this.nodeCount++;
        // head stays NIL until the caller links the first pair.
        return i;
      }
      if (nodes[b] === lo && nodes[b + 1] === hi) return i;
      i = (i + 1) & mask;
    }
  }

  private findPair(node: number, ep: number): number {
    const b = node * this.stride;
    if ((this.nodes[b + 3 + (ep >>> 5)] & (1 << (ep & 31))) === 0) return NIL;
    for (let p = this.nodes[b + 2]; p !== NIL; p = this.pNextInNode[p]) {
      if (this.pEp[p] === ep) return p;
    }
    return NIL;
  }

  private removePair(p: number): void {
    const ep = this.pEp[p];
    const node = this.pNode[p];
    // unlink from the node's list
    const nb = node * this.stride;
    let prev = NIL;
    for (let q = this.nodes[nb + 2]; q !== NIL; prev = q, q = this.pNextInNode[q]) {
      if (q !== p) continue;
      if (prev === NIL) this.nodes[nb + 2] = this.pNextInNode[q];
      else this.pNextInNode[prev] = this.pNextInNode[q];
      break;
    }
    this.nodes[nb + 3 + (ep >>> 5)] &= ~(1 << (ep & 31));
    this.unlink(p, ep);
    this.epCount[ep]--;
    if (this.pFlags[p] !== FLAG_GPU && this.pFlags[p] !== 0) this.epNonPlain[ep]--;
    this.pFlags[p] = 0;
    this.pairCount--;
    this.pNext[p] = this.freeHead;
    this.freeHead = p;
    if (this.nodes[nb + 2] === NIL) this.deleteNode(node);
  }

  /** Backward-shift deletion for linear probing; moved nodes get their pairs re-pointed. */
  private deleteNode(slot: number): void {
    const mask = this.nodeMask;
    const S = this.stride;
    const nodes = this.nodes;
    this.nodeCount--;
    let hole = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      const jb = j * S;
      if (nodes[jb + 2] === NIL) break;
      const home = hashSlot(nodes[jb], nodes[jb + 1], mask);
      // Move j into the hole if its home is not cyclically in (hole, j].
      const inRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (inRange) continue;
      nodes.copyWithin(hole * S, jb, jb + S);
      for (let p = nodes[hole * S + 2]; p !== NIL; p = this.pNextInNode[p]) this.pNode[p] = hole;
      hole = j;
    }
    nodes[hole * S + 2] = NIL;
  }

  private linkHead(p: number, ep: number): void {
    const head = this.epHead[ep];
    if (head === NIL) {
      this.pPrev[p] = p;
      this.pNext[p] = p;
    } else {
      const tail = this.pPrev[head];
      this.pNext[p] = head;
      this.pPrev[p] = tail;
      this.pNext[tail] = p;
      this.pPrev[head] = p;
    }
    this.epHead[ep] = p;
  }

  private unlink(p: number, ep: number): void {
    const next = this.pNext[p];
    if (next === p) {
      this.epHead[ep] = NIL;
      return;
    }
    const prev = this.pPrev[p];
    this.pNext[prev] = next;
    this.pPrev[next] = prev;
    if (this.epHead[ep] === p) this.epHead[ep] = next;
  }

  private touch(p: number, ep: number): void {
    if (this.epHead[ep] === p) return;
    this.unlink(p, ep);
    this.linkHead(p, ep);
  }

  private evictOldest(ep: number): void {
    const head = this.epHead[ep];
    if (head === NIL) return;
    this.removePair(this.pPrev[head]);
    this.evictionCount++;
  }

  /** Over the global bound: the endpoints holding the most lose their oldest 1/64 of entries. */
  private evictGlobal(): void {
    let target = Math.max(1, this.pairCount >>> 6);
    while (target > 0) {
      let biggest = -1;
      for (let id = 0; id < this.names.length; id++) {
        if (this.names[id] !== undefined && (biggest < 0 || this.epCount[id] > this.epCount[biggest])) biggest = id;
      }
      if (biggest < 0 || this.epCount[biggest] === 0) return;
      const n = Math.min(target, Math.max(1, this.epCount[biggest] >>> 6));
      for (let i = 0; i < n; i++) this.evictOldest(biggest);
      target -= n;
    }
  }

  private allocPair(): number {
    if (this.freeHead !== NIL) {
      const p = this.freeHead;
      this.freeHead = this.pNext[p];
      return p;
    }
    if (this.arenaTop >= this.pairCap) this.allocPairs(Math.min(Math.max(this.pairCap + 1, Math.ceil(this.pairCap * 1.5)), this.maxPairs + 1));
    return this.arenaTop++;
  }

  private allocPairs(cap: number): void {
    const grow = <T extends Uint16Array | Uint8Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const a = make(cap);
      a.set(old.subarray(0, Math.min(old.length, cap)));
      return a;
    };
    this.pEp = grow(this.pEp, (n) => new Uint16Array(n));
    this.pFlags = grow(this.pFlags, (n) => new Uint8Array(n));
    this.pNode = grow(this.pNode, (n) => new Int32Array(n));
    this.pNextInNode = grow(this.pNextInNode, (n) => new Int32Array(n));
    this.pPrev = grow(this.pPrev, (n) => new Int32Array(n));
    this.pNext = grow(this.pNext, (n) => new Int32Array(n));
    this.pairCap = cap;
  }

  private allocNodes(cap: number): void {
    this.nodeCap = cap;
    this.nodeMask = cap - 1;
    this.stride = 3 + this.words;
    this.nodes = new Int32Array(cap * this.stride);
    for (let i = 2; i < this.nodes.length; i += this.stride) this.nodes[i] = NIL;
  }

  private growNodes(): void {
    this.rehash(this.nodeCap * 2, this.words);
  }

  private growWords(words: number): void {
    this.rehash(this.nodeCap, words);
  }

  private rehash(cap: number, words: number): void {
    const old = this.nodes;
    const oldCap = this.nodeCap;
    const oldS = this.stride;
    const oldW = this.words;
    this.words = words;
    this.allocNodes(cap);
    const mask = this.nodeMask;
    const S = this.stride;
    const nodes = this.nodes;
    for (let s = 0; s < oldCap; s++) {
      const ob = s * oldS;
      const head = old[ob + 2];
      if (head === NIL) continue;
      let i = hashSlot(old[ob], old[ob + 1], mask);
      while (nodes[i * S + 2] !== NIL) i = (i + 1) & mask;
      const b = i * S;
      nodes[b] = old[ob];
      nodes[b + 1] = old[ob + 1];
      nodes[b + 2] = head;
      for (let w = 0; w < Math.min(oldW, words); w++) nodes[b + 3 + w] = old[ob + 3 + w];
      for (let p = head; p !== NIL; p = this.pNextInNode[p]) this.pNode[p] = i;
    }
  }

  private ensureEndpointArrays(n: number): void {
    if (n <= this.epCount.length) return;
    const cap = Math.max(n, this.epCount.length * 2);
    const grow = (a: Int32Array, fill = 0): Int32Array => {
      const b = new Int32Array(cap).fill(fill);
      b.set(a);
      return b;
    };
    this.epCount = grow(this.epCount);
    this.epCapacity = grow(this.epCapacity);
    this.epHead = grow(this.epHead, NIL);
    this.epNonPlain = grow(this.epNonPlain);
  }
}

function nodeCapacityFor(pairs: number): number {
  let cap = 64;
  while (cap * 3 < pairs * 4) cap *= 2;
  return cap;
}

/** Splits 64-bit keys into interleaved (lo, hi) u32 halves, the form lookups take. */
export function splitKeys(keys: ArrayLike<bigint>, max = keys.length): Uint32Array {
  const n = Math.min(max, keys.length);
  const out = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const k = BigInt.asUintN(64, keys[i]);
    out[2 * i] = Number(k & 0xffffffffn);
    out[2 * i + 1] = Number(k >> 32n);
  }
  return out;
}
