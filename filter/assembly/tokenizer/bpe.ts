/**
 * Byte-level BPE over one pre-token (a byte range), with HF semantics: repeatedly merge the adjacent pair of lowest
 * rank (leftmost among equal ranks) until no adjacent pair is a merge; `ignore_merges` emits a whole-word vocab hit
 * directly. Short words use an O(n^2) array scan (fast for n <= 48), long words a binary min-heap (O(n log n)).
 * A bounded per-tokenizer word cache remembers results for words < 256 bytes.
 */
import { Model, FLAG_IGNORE_MERGES } from "./tables";
import { TokenBuffer } from "./buffer";
import { hashBytes, bytesEqual } from "./hash";

const NONE: u64 = u64.MAX_VALUE;
const SHORT_WORD: i32 = 48;
const CACHE_SLOTS: u32 = 16384; // power of two; at most CACHE_SLOTS/2 entries
const CACHE_KEY_BYTES: i32 = 512 * 1024;
const CACHE_IDS: i32 = 128 * 1024;
const CACHE_MAX_WORD: i32 = 256;

export class Bpe {
  model: Model;
  ignoreMerges: bool;
  // scratch for the merge loop
  sym: usize = 0; // u32 ids
  rank: usize = 0; // u64 (rank << 32 | merged) per pair position (short path)
  nxt: usize = 0; // i32 (heap path)
  prv: usize = 0; // i32
  heapBuf: usize = 0; // u64 (rank << 32 | pos)
  cap: i32 = 0;
  // cache
  slots: usize; // per slot 16 bytes: u32 hash, u32 keyOff, u16 keyLen, u16 nIds, u32 idsOff
  keys: usize;
  ids: usize;
  keyUsed: i32 = 0;
  idsUsed: i32 = 0;
  entries: u32 = 0;
  // stats
  cacheHits: i64 = 0;
  cacheMisses: i64 = 0;

  constructor(model: Model) {
    this.model = model;
    this.ignoreMerges = (model.flags & FLAG_IGNORE_MERGES) != 0;
    this.slots = heap.alloc((<usize>CACHE_SLOTS) << 4);
    memory.fill(this.slots, 0, (<usize>CACHE_SLOTS) << 4);
    this.keys = heap.alloc(<usize>CACHE_KEY_BYTES);
    this.ids = heap.alloc((<usize>CACHE_IDS) << 2);
    this.ensure(256);
  }

  private ensure(n: i32): void {
    if (n <= this.cap) return;
    let c = this.cap < 256 ? 256 : this.cap;
    while (c < n) c <<= 1;
    if (this.cap) {
      heap.free(this.sym);
      heap.free(this.rank);
      heap.free(this.nxt);
      heap.free(this.prv);
      heap.free(this.heapBuf);
    }
    this.sym = heap.alloc((<usize>c) << 2);
    this.rank = heap.alloc((<usize>c) << 3);
    this.nxt = heap.alloc((<usize>c) << 2);
    this.prv = heap.alloc((<usize>c) << 2);
    this.heapBuf = heap.alloc((<usize>c) << 4); // up to ~3n pushes
    this.cap = c;
  }

  clearCache(): void {
    memory.fill(this.slots, 0, (<usize>CACHE_SLOTS) << 4);
    this.keyUsed = 0;
    this.idsUsed = 0;
    this.entries = 0;
  }

  /** Appends the ids of the word [p, p+len) (len >= 1) to out. */
  encodeWord(p: usize, len: i32, out: TokenBuffer): void {
    let model = this.model;
    if (len == 1) {
      out.push(unchecked(model.byteId[<i32>load<u8>(p)]));
      return;
    }
    let h = hashBytes(p, len);
    let cacheable = len < CACHE_MAX_WORD;
    if (cacheable) {
      let mask = CACHE_SLOTS - 1;
      let i = h & mask;
      while (true) {
        let s = this.slots + ((<usize>i) << 4);
        let sh = load<u32>(s);
        if (sh == 0) break;
        if (sh == h && <i32>load<u16>(s + 8) == len && bytesEqual(this.keys + <usize>load<u32>(s + 4), p, len)) {
          let n = <i32>load<u16>(s + 10);
          let src = this.ids + ((<usize>load<u32>(s + 12)) << 2);
          let o = out.length;
          out.grow(o + n);
          memory.copy(out.dataStart() + ((<usize>o) << 2), src, (<usize>n) << 2);
          out.length = o + n;
          this.cacheHits++;
          return;
        }
        i = (i + 1) & mask;
      }
      this.cacheMisses++;
    }
    let start = out.length;
    if (this.ignoreMerges) {
      let id = model.lookup(p, len, h);
      if (id >= 0) {
        out.push(<u32>id);
        if (cacheable) this.remember(p, len, h, out, start);
        return;
      }
    }
    this.ensure(len + 1);
    let n = len <= SHORT_WORD ? this.mergeShort(p, len) : this.mergeLong(p, len);
    out.grow(start + n);
    memory.copy(out.dataStart() + ((<usize>start) << 2), this.sym, (<usize>n) << 2);
    out.length = start + n;
    if (cacheable) this.remember(p, len, h, out, start);
  }

  private remember(p: usize, len: i32, h: u32, out: TokenBuffer, start: i32): void {
    let n = out.length - start;
    if (this.entries >= CACHE_SLOTS >> 1 || this.keyUsed + len > CACHE_KEY_BYTES || this.idsUsed + n > CACHE_IDS) {
      this.clearCache();
    }
    let mask = CACHE_SLOTS - 1;
    let i = h & mask;
    while (load<u32>(this.slots + ((<usize>i) << 4)) != 0) i = (i + 1) & mask;
    let s = this.slots + ((<usize>i) << 4);
    memory.copy(this.keys + <usize>this.keyUsed, p, <usize>len);
    memory.copy(this.ids + ((<usize>this.idsUsed) << 2), out.dataStart() + ((<usize>start) << 2), (<usize>n) << 2);
    store<u32>(s, h);
    store<u32>(s + 4, <u32>this.keyUsed);
    store<u16>(s + 8, <u16>len);
    store<u16>(s + 10, <u16>n);
    store<u32>(s + 12, <u32>this.idsUsed);
    this.keyUsed += len;
    this.idsUsed += n;
    this.entries++;
  }

  /** Array-scan merge for short words; result ids in sym[0..return). */
  private mergeShort(p: usize, len: i32): i32 {
    let model = this.model;
    let sym = this.sym, rank = this.rank;
    for (let i = 0; i < len; i++) store<u32>(sym + ((<usize>i) << 2), unchecked(model.byteId[<i32>load<u8>(p + <usize>i)]));
    let n = len;
    for (let i = 0; i < n - 1; i++) {
      store<u64>(rank + ((<usize>i) << 3), model.mergeOf(load<u32>(sym + ((<usize>i) << 2)), load<u32>(sym + ((<usize>(i + 1)) << 2))));
    }
    while (n > 1) {
      let best = NONE;
      let bi = -1;
      for (let i = 0; i < n - 1; i++) {
        let r = load<u64>(rank + ((<usize>i) << 3));
        if (r < best) {
          best = r;
          bi = i;
        }
      }
      if (bi < 0) break;
      // merge bi and bi+1
      store<u32>(sym + ((<usize>bi) << 2), <u32>best);
      let tail = n - bi - 2;
      if (tail > 0) {
        memory.copy(sym + ((<usize>(bi + 1)) << 2), sym + ((<usize>(bi + 2)) << 2), (<usize>tail) << 2);
        memory.copy(rank + ((<usize>(bi + 1)) << 3), rank + ((<usize>(bi + 2)) << 3), (<usize>(tail)) << 3);
      }
      n--;
      if (bi > 0) {
        store<u64>(rank + ((<usize>(bi - 1)) << 3), model.mergeOf(load<u32>(sym + ((<usize>(bi - 1)) << 2)), load<u32>(sym + ((<usize>bi) << 2))));
      }
      if (bi < n - 1) {
        store<u64>(rank + ((<usize>bi) << 3), model.mergeOf(load<u32>(sym + ((<usize>bi) << 2)), load<u32>(sym + ((<usize>(bi + 1)) << 2))));
      }
    }
    return n;
  }

  // ---- heap path -------------------------------------------------------------------------------------------------
  private heapLen: i32 = 0;

  private heapPush(v: u64): void {
    let hb = this.heapBuf;
    let i = this.heapLen++;
    while (i > 0) {
      let parent = (i - 1) >> 1;
      let pv = load<u64>(hb + ((<usize>parent) << 3));
      if (pv <= v) break;
      store<u64>(hb + ((<usize>i) << 3), pv);
      i = parent;
    }
    store<u64>(hb + ((<usize>i) << 3), v);
  }

  private heapPop(): u64 {
    let hb = this.heapBuf;
    let top = load<u64>(hb);
    let n = --this.heapLen;
    if (n == 0) return top;
    let v = load<u64>(hb + ((<usize>n) << 3));
    let i = 0;
    while (true) {
      let l = 2 * i + 1;
      if (l >= n) break;
      let r = l + 1;
      let c = l;
      let cv = load<u64>(hb + ((<usize>l) << 3));
      if (r < n) {
        let rv = load<u64>(hb + ((<usize>r) << 3));
        if (rv < cv) {
          c = r;
          cv = rv;
        }
      }
      if (v <= cv) break;
      store<u64>(hb + ((<usize>i) << 3), cv);
      i = c;
    }
    store<u64>(hb + ((<usize>i) << 3), v);
    return top;
  }

  /** Linked-list + heap merge (HF's algorithm): entries (rank << 32 | pos); stale ones are skipped on pop. */
  private mergeLong(p: usize, len: i32): i32 {
    let model = this.model;
    let sym = this.sym, nxt = this.nxt, prv = this.prv;
    // heap capacity: initial len-1 pushes + 2 per merge (< len merges) -> < 3 * len
    if (this.cap * 2 < 3 * len + 4) {
      heap.free(this.heapBuf);
      this.heapBuf = heap.alloc((<usize>(3 * len + 4)) << 3);
    }
    for (let i = 0; i < len; i++) {
      store<u32>(sym + ((<usize>i) << 2), unchecked(model.byteId[<i32>load<u8>(p + <usize>i)]));
      store<i32>(nxt + ((<usize>i) << 2), i + 1 < len ? i + 1 : -1);
      store<i32>(prv + ((<usize>i) << 2), i - 1);
    }
    this.heapLen = 0;
    for (let i = 0; i < len - 1; i++) {
      let m = model.mergeOf(load<u32>(sym + ((<usize>i) << 2)), load<u32>(sym + ((<usize>(i + 1)) << 2)));
      if (m != NONE) this.heapPush((m & 0xffffffff00000000) | <u64>i);
    }
    while (this.heapLen > 0) {
      let top = this.heapPop();
      let pos = <i32>(top & 0xffffffff);
      let rank = top >> 32;
      let a = load<u32>(sym + ((<usize>pos) << 2));
      if (a == u32.MAX_VALUE) continue; // removed
      let nx = load<i32>(nxt + ((<usize>pos) << 2));
      if (nx < 0) continue;
      let m = model.mergeOf(a, load<u32>(sym + ((<usize>nx) << 2)));
      if (m == NONE || (m >> 32) != rank) continue; // stale
      // merge pos and nx
      store<u32>(sym + ((<usize>pos) << 2), <u32>m);
      store<u32>(sym + ((<usize>nx) << 2), u32.MAX_VALUE);
      let nn = load<i32>(nxt + ((<usize>nx) << 2));
      store<i32>(nxt + ((<usize>pos) << 2), nn);
      if (nn >= 0) store<i32>(prv + ((<usize>nn) << 2), pos);
      let pv = load<i32>(prv + ((<usize>pos) << 2));
      if (pv >= 0) {
        let m2 = model.mergeOf(load<u32>(sym + ((<usize>pv) << 2)), <u32>m);
        if (m2 != NONE) this.heapPush((m2 & 0xffffffff00000000) | <u64>pv);
      }
      if (nn >= 0) {
        let m3 = model.mergeOf(<u32>m, load<u32>(sym + ((<usize>nn) << 2)));
        if (m3 != NONE) this.heapPush((m3 & 0xffffffff00000000) | <u64>pos);
      }
    }
    // compact
    let n = 0;
    let i = 0;
    while (i >= 0) {
      store<u32>(sym + ((<usize>n) << 2), load<u32>(sym + ((<usize>i) << 2)));
      n++;
      i = load<i32>(nxt + ((<usize>i) << 2));
    }
    return n;
  }
}
