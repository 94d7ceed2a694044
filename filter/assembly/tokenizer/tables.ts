/**
 * Reads the embedded tables (see filter/tools/embed.mjs for the layout) and builds one model's in-memory hash tables:
 * vocab (bytes → id), merges ((left, right) → rank, merged id) and the added-token tries.
 */
import { hashBytes, hashPair, bytesEqual } from "./hash";

export const TABLES_ADDRESS: usize = 16;
const DIR_MAGIC: u32 = 0x42545254; // "TRTB"
const MODEL_MAGIC: u32 = 0x314d5254; // "TRM1"

export const FLAG_NFC: u32 = 1;
export const FLAG_IGNORE_MERGES: u32 = 2;
export const FLAG_ADDS_BOS: u32 = 4;

export const PRETOK_QWEN: u32 = 0;
export const PRETOK_LLAMA3: u32 = 1;
export const PRETOK_DEEPSEEK: u32 = 2;

export const ADDED_SPECIAL: u32 = 1;
export const ADDED_LSTRIP: u32 = 2;
export const ADDED_RSTRIP: u32 = 4;
export const ADDED_NORMALIZED: u32 = 8;
export const ADDED_SINGLE_WORD: u32 = 16;

/** Number of entries in the embedded directory (0 when the module was built without tables). */
export function tableCount(): i32 {
  if (load<u32>(TABLES_ADDRESS) != DIR_MAGIC) return 0;
  return <i32>load<u32>(TABLES_ADDRESS + 4);
}

/** Directory entry name i. */
export function tableName(i: i32): string {
  let e = TABLES_ADDRESS + 16 + 32 * <usize>i;
  let n = 0;
  while (n < 16 && load<u8>(e + <usize>n) != 0) n++;
  return String.UTF8.decodeUnsafe(e, <usize>n);
}

/** Directory index of `name`, or -1. */
export function findTable(name: string): i32 {
  let n = tableCount();
  for (let i = 0; i < n; i++) if (tableName(i) == name) return i;
  return -1;
}

/** Byte trie over added-token contents (leftmost-longest matching is done by the caller). */
export class Trie {
  // node arrays: first child, next sibling, byte label, terminal added index (-1)
  child: i32[] = [-1];
  sibling: i32[] = [-1];
  label: u8[] = [0];
  term: i32[] = [-1];
  first: StaticArray<bool> = new StaticArray<bool>(256);
  empty: bool = true;

  insert(p: usize, len: i32, value: i32): void {
    if (len == 0) return;
    this.empty = false;
    unchecked((this.first[<i32>load<u8>(p)] = true));
    let node = 0;
    for (let i = 0; i < len; i++) {
      let b = load<u8>(p + <usize>i);
      let c = this.child[node];
      let found = -1;
      while (c >= 0) {
        if (this.label[c] == b) {
          found = c;
          break;
        }
        c = this.sibling[c];
      }
      if (found < 0) {
        found = this.child.length;
        this.child.push(-1);
        this.sibling.push(this.child[node]);
        this.label.push(b);
        this.term.push(-1);
        this.child[node] = found;
      }
      node = found;
    }
    if (this.term[node] < 0) this.term[node] = value;
  }

  /** Longest match starting at p (bytes up to end): returns length, value in `lastValue`; 0 if none. */
  longestAt(p: usize, end: usize): i32 {
    if (!unchecked(this.first[<i32>load<u8>(p)])) return 0;
    let node = 0;
    let best = 0;
    let i: i32 = 0;
    while (p + <usize>i < end) {
      let b = load<u8>(p + <usize>i);
      let c = unchecked(this.child[node]);
      while (c >= 0 && unchecked(this.label[c]) != b) c = unchecked(this.sibling[c]);
      if (c < 0) break;
      node = c;
      i++;
      let t = unchecked(this.term[node]);
      if (t >= 0) {
        best = i;
        this.lastValue = t;
      }
    }
    return best;
  }
  lastValue: i32 = -1;
}

/** One model's tables. Built once per VM by Model.load(). */
export class Model {
  name: string;
  base: usize;
  flags: u32;
  pretok: u32;
  bosId: i32;
  eosId: i32;
  vocabCount: i32;
  mergeCount: i32;
  /** u32[vocabCount + 1] byte offsets (absolute addresses of token bytes are bytesBase + offset). */
  offsets: usize;
  bytesBase: usize;
  vocabSlots: usize; // i32[cap]: id + 1, 0 = empty
  vocabMask: u32;
  mergeKeys: usize; // u64[cap]: (left << 32 | right) + 1... stored as key; EMPTY = u64 max
  mergeVals: usize; // u64[cap]: (rank << 32) | merged id
  mergeMask: u32;
  /** id of each single byte token. */
  byteId: StaticArray<u32> = new StaticArray<u32>(256);
  /** added tokens */
  addedIds: i32[] = [];
  addedFlags: u32[] = [];
  addedPtr: usize[] = [];
  addedLen: i32[] = [];
  rawTrie: Trie = new Trie();
  normTrie: Trie = new Trie();
  /** Milliseconds are not available in every host: load cost is measured by the caller. */

  constructor(name: string, base: usize) {
    this.name = name;
    this.base = base;
    this.flags = load<u32>(base + 4);
    this.pretok = load<u32>(base + 8);
    this.bosId = load<i32>(base + 12);
    this.eosId = load<i32>(base + 16);
    this.vocabCount = <i32>load<u32>(base + 20);
    this.mergeCount = <i32>load<u32>(base + 24);
    this.bytesBase = base + <usize>load<u32>(base + 36);
    this.offsets = 0;
    this.vocabSlots = 0;
    this.vocabMask = 0;
    this.mergeKeys = 0;
    this.mergeVals = 0;
    this.mergeMask = 0;
  }

  static load(index: i32): Model | null {
    let e = TABLES_ADDRESS + 16 + 32 * <usize>index;
    let base = <usize>load<u32>(e + 16);
    let addedLimit = load<u32>(e + 24);
    if (load<u32>(base) != MODEL_MAGIC) return null;
    let m = new Model(tableName(index), base);
    m.build(addedLimit);
    return m;
  }

  @inline tokenPtr(id: i32): usize {
    return this.bytesBase + <usize>load<u32>(this.offsets + ((<usize>id) << 2));
  }
  @inline tokenLen(id: i32): i32 {
    let o = this.offsets + ((<usize>id) << 2);
    return <i32>(load<u32>(o + 4) - load<u32>(o));
  }

  private build(addedLimit: u32): void {
    let base = this.base;
    let n = this.vocabCount;
    // offsets
    let lens = base + <usize>load<u32>(base + 32);
    this.offsets = heap.alloc((<usize>(n + 1)) << 2);
    let acc: u32 = 0;
    for (let i = 0; i < n; i++) {
      store<u32>(this.offsets + ((<usize>i) << 2), acc);
      acc += <u32>load<u16>(lens + ((<usize>i) << 1));
    }
    store<u32>(this.offsets + ((<usize>n) << 2), acc);
    // vocab hash
    let cap: u32 = 1;
    while (cap < <u32>n * 2) cap <<= 1;
    this.vocabMask = cap - 1;
    this.vocabSlots = heap.alloc((<usize>cap) << 2);
    memory.fill(this.vocabSlots, 0, (<usize>cap) << 2);
    for (let id = 0; id < n; id++) {
      let p = this.tokenPtr(id);
      let l = this.tokenLen(id);
      if (l == 0) continue; // not representable in the byte-level alphabet (e.g. DeepSeek's special-token texts)
      let h = hashBytes(p, l) & this.vocabMask;
      while (load<i32>(this.vocabSlots + ((<usize>h) << 2)) != 0) h = (h + 1) & this.vocabMask;
      store<i32>(this.vocabSlots + ((<usize>h) << 2), id + 1);
      if (l == 1) unchecked((this.byteId[<i32>load<u8>(p)] = <u32>id));
    }
    // merges
    let m = this.mergeCount;
    let mp = base + <usize>load<u32>(base + 40);
    let mcap: u32 = 1;
    while (mcap < <u32>m * 2) mcap <<= 1;
    this.mergeMask = mcap - 1;
    this.mergeKeys = heap.alloc((<usize>mcap) << 3);
    this.mergeVals = heap.alloc((<usize>mcap) << 3);
    memory.fill(this.mergeKeys, 0xff, (<usize>mcap) << 3);
    let scratch = heap.alloc(1 << 17);
    for (let r = 0; r < m; r++) {
      let q = mp + 6 * <usize>r;
      let a = <u32>load<u16>(q) | ((<u32>load<u8>(q + 2)) << 16);
      let b = <u32>load<u16>(q + 3) | ((<u32>load<u8>(q + 5)) << 16);
      let la = this.tokenLen(<i32>a), lb = this.tokenLen(<i32>b);
      memory.copy(scratch, this.tokenPtr(<i32>a), <usize>la);
      memory.copy(scratch + <usize>la, this.tokenPtr(<i32>b), <usize>lb);
      let merged = this.lookup(scratch, la + lb, hashBytes(scratch, la + lb));
      if (merged < 0) continue; // cannot happen for tables produced by convert-tokenizer.mjs
      let key = ((<u64>a) << 32) | <u64>b;
      let h = hashPair(a, b) & this.mergeMask;
      while (true) {
        let k = load<u64>(this.mergeKeys + ((<usize>h) << 3));
        if (k == u64.MAX_VALUE) break;
        if (k == key) break; // duplicate merge: the later rank wins, as in HF's HashMap collect
        h = (h + 1) & this.mergeMask;
      }
      store<u64>(this.mergeKeys + ((<usize>h) << 3), key);
      store<u64>(this.mergeVals + ((<usize>h) << 3), ((<u64>r) << 32) | <u64>merged);
    }
    heap.free(scratch);
    // added tokens
    let na = <i32>load<u32>(base + 28);
    let ap = base + <usize>load<u32>(base + 44);
    for (let i = 0; i < na; i++) {
      let id = load<u32>(ap);
      let fl = load<u32>(ap + 4);
      let len = <i32>load<u32>(ap + 8);
      let ptr = ap + 12;
      ap += 12 + (((<usize>len) + 3) & ~3);
      if (id >= addedLimit) continue;
      let idx = this.addedIds.length;
      this.addedIds.push(<i32>id);
      this.addedFlags.push(fl);
      this.addedPtr.push(ptr);
      this.addedLen.push(len);
      if (fl & ADDED_NORMALIZED) this.normTrie.insert(ptr, len, idx);
      else this.rawTrie.insert(ptr, len, idx);
    }
  }

  /** Vocab id of the byte string [p, p+len) given its hashBytes(), or -1. */
  lookup(p: usize, len: i32, h: u32): i32 {
    let mask = this.vocabMask;
    let i = h & mask;
    while (true) {
      let v = load<i32>(this.vocabSlots + ((<usize>i) << 2));
      if (v == 0) return -1;
      let id = v - 1;
      if (this.tokenLen(id) == len && bytesEqual(this.tokenPtr(id), p, len)) return id;
      i = (i + 1) & mask;
    }
  }

  /** (rank << 32 | merged id) of the pair, or u64.MAX_VALUE when (a, b) is not a merge. */
  // @ts-ignore: decorator
  @inline mergeOf(a: u32, b: u32): u64 {
    let key = ((<u64>a) << 32) | <u64>b;
    let mask = this.mergeMask;
    let h = hashPair(a, b) & mask;
    while (true) {
      let k = load<u64>(this.mergeKeys + ((<usize>h) << 3));
      if (k == key) return load<u64>(this.mergeVals + ((<usize>h) << 3));
      if (k == u64.MAX_VALUE) return u64.MAX_VALUE;
      h = (h + 1) & mask;
    }
  }
}
