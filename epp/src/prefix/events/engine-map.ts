// EngineKeyMap: engine block hash (vLLM's / the simulator's) → tokenroute block key, the dual-key
// design of llm-d's indexer (llm-d-kv-cache `pkg/kvcache/kvblock`, the engine-key → request-key map). KV events name blocks by the engine's hash; the
// index and the filter use our chained keys, recomputed from the events' token_ids. The map is
// needed to (a) find the parent's key to continue a chain and (b) translate BlockRemoved.
//
// It is a bounded 4-way set-associative cache in typed arrays (16 bytes a mapping, no load-factor
// slack, no per-pod bookkeeping): a full set replaces its least recently used way. Entries are
// keyed by (engine hash ⊕ a per-model salt, sub-block j), so pods of one model that hash alike
// share mappings, and an engine block of m × our block size maps to its m keys. A lost mapping
// only means a later event for that block cannot be applied (counted as orphaned by the caller).

const WAYS = 4;

function mix32(lo: number, hi: number, j: number): number {
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi + j * 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

export class EngineKeyMap {
  private readonly sets: number;
  private readonly setMask: number;
  // per way: engine lo, hi (with j folded in), our lo, hi
  private readonly eLo: Uint32Array;
  private readonly eHi: Uint32Array;
  private readonly oLo: Uint32Array;
  private readonly oHi: Uint32Array;
  /** Per way: 0 = empty, else a recency stamp (u8 wrap-safe within a set). */
  private readonly age: Uint8Array;
  private clock = 1;
  private used = 0;
  /** Out-params of get(). */
  lo = 0;
  hi = 0;

  /** `capacity` mappings (rounded up to a power of two of 4-way sets). */
  constructor(capacity: number) {
    let sets = 1;
    while (sets * WAYS < capacity) sets *= 2;
    this.sets = sets;
    this.setMask = sets - 1;
    const n = sets * WAYS;
    this.eLo = new Uint32Array(n);
    this.eHi = new Uint32Array(n);
    this.oLo = new Uint32Array(n);
    this.oHi = new Uint32Array(n);
    this.age = new Uint8Array(n);
  }

  get capacity(): number {
    return this.sets * WAYS;
  }

  size(): number {
    return this.used;
  }

  bytes(): number {
    return this.eLo.byteLength * 4 + this.age.byteLength;
  }

  private tick(): number {
    this.clock = this.clock >= 255 ? 1 : this.clock + 1;
    return this.clock;
  }

  /** Stores engine (lo, hi) sub-block j → our (lo, hi). */
  set(eLo: number, eHi: number, j: number, oLo: number, oHi: number): void {
    const kLo = (eLo ^ Math.imul(j, 0x9e3779b1)) >>> 0;
    const kHi = eHi >>> 0;
    const base = (mix32(kLo, kHi, j) & this.setMask) * WAYS;
    let victim = base;
    let worst = -1;
    const now = this.tick();
    for (let w = 0; w < WAYS; w++) {
      const i = base + w;
      const a = this.age[i];
      if (a !== 0 && this.eLo[i] === kLo && this.eHi[i] === kHi) {
        this.oLo[i] = oLo >>> 0;
        this.oHi[i] = oHi >>> 0;
        this.age[i] = now;
        return;
      }
      // An empty way wins; otherwise the one touched longest ago (u8 stamps, wrap-safe distance).
      const dist = a === 0 ? 256 : (now - a) & 255;
      if (dist > worst) {
        worst = dist;
        victim = i;
      }
    }
    if (this.age[victim] === 0) this.used++;
    this.eLo[victim] = kLo;
    this.eHi[victim] = kHi;
    this.oLo[victim] = oLo >>> 0;
    this.oHi[victim] = oHi >>> 0;
    this.age[victim] = now;
  }

  /** Looks up engine (lo, hi) sub-block j; on success sets this.lo / this.hi and returns true. */
  get(eLo: number, eHi: number, j: number): boolean {
    const kLo = (eLo ^ Math.imul(j, 0x9e3779b1)) >>> 0;
    const kHi = eHi >>> 0;
    const base = (mix32(kLo, kHi, j) & this.setMask) * WAYS;
    for (let w = 0; w < WAYS; w++) {
      const i = base + w;
      if (this.age[i] !== 0 && this.eLo[i] === kLo && this.eHi[i] === kHi) {
        this.lo = this.oLo[i];
        this.hi = this.oHi[i];
        this.age[i] = this.tick();
        return true;
      }
    }
    return false;
  }

  /** Forgets a mapping (e.g. after BlockRemoved on the only holder is not known: callers keep it). */
  delete(eLo: number, eHi: number, j: number): void {
    const kLo = (eLo ^ Math.imul(j, 0x9e3779b1)) >>> 0;
    const kHi = eHi >>> 0;
    const base = (mix32(kLo, kHi, j) & this.setMask) * WAYS;
    for (let w = 0; w < WAYS; w++) {
      const i = base + w;
      if (this.age[i] !== 0 && this.eLo[i] === kLo && this.eHi[i] === kHi) {
        this.age[i] = 0;
        this.used--;
        return;
      }
    }
  }
}
