/**
 * Token ids of long text segments, remembered (issue 13: tokenize a shared prefix once). HF
 * tokenizers split the input at added/special tokens before anything else and then normalize,
 * pre-tokenize and BPE each gap on its own — nothing merges across an added token — so a gap's ids
 * are a function of the gap's bytes alone. A chat template puts its special tokens around every
 * message (`<|im_start|>system\n…<|im_end|>`), so the 95k-token shared context of an agentic
 * conversation is one gap, the same in every request of the conversation: after the first request
 * it costs a hash and a copy, not a tokenization.
 *
 * Keys are two xxh64 hashes of the gap's bytes (two seeds) plus its length; the memory held is
 * bounded (`capacityBytes` of ids, least recently used first out); gaps shorter than
 * `minBytes` are tokenized every time (they are cheap, and would only churn the cache).
 */
import { xxh64 } from '../blocks';
import { TokenBuffer } from './buffer';

/** Hits and misses of every segment cache of this VM (the filter's metrics read the deltas). */
export class SegmentCacheTotals {
  hits: i64 = 0;
  misses: i64 = 0;
}
export const segmentCacheTotals = new SegmentCacheTotals();

const SEED_KEY: u64 = 0x7c3e9a1f5b2d4e60;
const SEED_CHECK: u64 = 0x1d4f6b8a0c2e3957;

class Entry {
  prev: Entry | null = null;
  next: Entry | null = null;
  constructor(
    public key: u64,
    public check: u64,
    public len: i32,
    public ids: StaticArray<u32>,
  ) {}
}

export class SegmentCache {
  private map: Map<u64, Entry> = new Map<u64, Entry>();
  /** Most recently used first. */
  private head: Entry | null = null;
  private tail: Entry | null = null;
  /** Bytes of ids held. */
  bytes: i64 = 0;
  hits: i64 = 0;
  misses: i64 = 0;
  evictions: i64 = 0;
  /** The gap the last lookup missed and its key: the store that follows reuses the hash. */
  private missP: usize = 0;
  private missLen: i32 = -1;
  private missKey: u64 = 0;

  constructor(
    public capacityBytes: i64,
    public minBytes: i32,
  ) {}

  /** Whether a gap of `len` bytes is worth looking up. */
  @inline wants(len: i32): bool {
    return this.capacityBytes > 0 && len >= this.minBytes;
  }

  /** Appends the remembered ids of [p, p+len) to `out`; false (nothing appended) on a miss. */
  lookup(p: usize, len: i32, out: TokenBuffer): bool {
    const key = xxh64(p, len, SEED_KEY);
    const found: Entry | null = this.map.has(key) ? this.map.get(key) : null;
    if (found === null || !this.matches(found, p, len)) {
      this.misses++;
      segmentCacheTotals.misses++;
      this.missP = p;
      this.missLen = len;
      this.missKey = key;
      return false;
    }
    const e = found!;
    const n = e.ids.length;
    out.grow(out.length + n);
    memory.copy(out.dataStart() + ((<usize>out.length) << 2), changetype<usize>(e.ids), (<usize>n) << 2);
    out.length += n;
    this.touch(e);
    this.hits++;
    segmentCacheTotals.hits++;
    return true;
  }

  /** Remembers out[from, out.length) as the ids of [p, p+len). */
  store(p: usize, len: i32, out: TokenBuffer, from: i32): void {
    const n = out.length - from;
    const size = (<i64>n) << 2;
    if (size > this.capacityBytes) return;
    const key = p == this.missP && len == this.missLen ? this.missKey : xxh64(p, len, SEED_KEY);
    this.missLen = -1;
    if (this.map.has(key)) this.remove(this.map.get(key));
    while (this.bytes + size > this.capacityBytes && this.tail !== null) {
      this.remove(this.tail!);
      this.evictions++;
    }
    const ids = new StaticArray<u32>(n);
    memory.copy(changetype<usize>(ids), out.dataStart() + ((<usize>from) << 2), (<usize>n) << 2);
    const e = new Entry(key, xxh64(p, len, SEED_CHECK), len, ids);
    this.map.set(key, e);
    this.bytes += size;
    this.pushFront(e);
  }

  private matches(e: Entry, p: usize, len: i32): bool {
    return e.len == len && e.check == xxh64(p, len, SEED_CHECK);
  }

  /** Drops everything (a new configuration). */
  clear(): void {
    this.map.clear();
    this.head = null;
    this.tail = null;
    this.bytes = 0;
    this.missLen = -1;
  }

  private touch(e: Entry): void {
    if (this.head === e) return;
    this.unlink(e);
    this.pushFront(e);
  }

  private pushFront(e: Entry): void {
    e.prev = null;
    e.next = this.head;
    if (this.head !== null) this.head!.prev = e;
    this.head = e;
    if (this.tail === null) this.tail = e;
  }

  private unlink(e: Entry): void {
    if (e.prev !== null) e.prev!.next = e.next;
    else this.head = e.next;
    if (e.next !== null) e.next!.prev = e.prev;
    else this.tail = e.prev;
    e.prev = null;
    e.next = null;
  }

  private remove(e: Entry): void {
    this.unlink(e);
    this.map.delete(e.key);
    this.bytes -= (<i64>e.ids.length) << 2;
  }
}
