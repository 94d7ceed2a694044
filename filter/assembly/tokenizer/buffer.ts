/**
 * A growable list of token ids. Callers keep one per context and `clear()` it between requests: the backing
 * StaticArray is reused, so steady-state encoding allocates nothing.
 */
export class TokenBuffer {
  /** Number of valid ids in `ids` (ids[length..] is scratch). */
  length: i32 = 0;
  /** Backing storage; grows by doubling. Only ids[0..length) are meaningful. */
  ids: StaticArray<u32>;
  /**
   * Tokenizing stops at a word boundary once `length` reaches this (the ids so far are exactly the
   * first ids of the whole text's); default: never. A caller that uses only the first blocks sets it.
   */
  limit: i32 = i32.MAX_VALUE;
  /** Tokenizing stopped at `limit` with input left. */
  stopped: bool = false;
  /** When stopped: the ids the rest of the input would have given, estimated (ids per byte so far). */
  restEstimate: i32 = 0;

  constructor(initialCapacity: i32 = 256) {
    this.ids = new StaticArray<u32>(initialCapacity < 4 ? 4 : initialCapacity);
  }

  /** Forgets all ids and a previous stop; keeps the storage and the limit. */
  @inline clear(): void {
    this.length = 0;
    this.stopped = false;
    this.restEstimate = 0;
  }

  /** Appends one id. */
  @inline push(id: u32): void {
    let n = this.length;
    if (n == this.ids.length) this.grow(n + 1);
    unchecked((this.ids[n] = id));
    this.length = n + 1;
  }

  /** Makes room for at least `cap` ids. */
  grow(cap: i32): void {
    let old = this.ids;
    if (cap <= old.length) return;
    let c = old.length << 1;
    while (c < cap) c <<= 1;
    let nw = new StaticArray<u32>(c);
    memory.copy(changetype<usize>(nw), changetype<usize>(old), (<usize>this.length) << 2);
    this.ids = nw;
  }

  /** Id at index i (no bounds check beyond the backing array's). */
  @inline get(i: i32): u32 {
    return this.ids[i];
  }

  /** Address of the first id (little-endian u32s), for hashing/copying. */
  @inline dataStart(): usize {
    return changetype<usize>(this.ids);
  }
}
