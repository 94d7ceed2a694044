// A binary min-heap ordered by a comparator (`before(a, b)`: a comes out first). Flow control
// keeps each flow's waiting requests and every queued request's expiry in one: push and pop are
// O(log n). Removal is lazy — the owner marks an entry dead and `compact` drops the dead ones in
// O(n) once they outnumber the live ones, so a cancel is O(1) and the heap never holds more than
// about twice what is live.
export class Heap<T> {
  private items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    if (a.length > 0) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Keeps the entries `live` accepts and restores the heap order (O(n)). */
  compact(live: (item: T) => boolean): void {
    this.items = this.items.filter(live);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  clear(): void {
    this.items = [];
  }

  /** Every entry, in no particular order. */
  values(): readonly T[] {
    return this.items;
  }

  private siftDown(start: number): void {
    const a = this.items;
    const n = a.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.before(a[r], a[l]) ? r : l;
      if (!this.before(a[m], a[i])) return;
      [a[i], a[m]] = [a[m], a[i]];
      i = m;
    }
  }
}
