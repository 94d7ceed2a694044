// Selection helpers shared by pickers: uniform random tie-breaking and top-N selection. The
// single-endpoint paths (the default, maxNumOfEndpoints = 1) make one pass and allocate
// nothing; the N > 1 paths follow GIE's "shuffle, then stable sort" so ties land in random order.

/** Fisher–Yates shuffle of `items` in place, driven by `random` ([0, 1)). */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/**
 * Index of the largest `values[i]` for i < n; ties are broken uniformly at random (reservoir
 * sampling over the tied set, one random draw per extra tie). Returns -1 when n is 0.
 */
export function indexOfMax(values: ArrayLike<number>, n: number, random: () => number): number {
  let best = -1;
  let bestValue = -Infinity;
  let ties = 0;
  for (let i = 0; i < n; i++) {
    let v = values[i];
    if (v !== v) v = -Infinity; // NaN ranks last
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
      ties = 1;
    } else if (v === bestValue) {
      ties += 1;
      if (random() * ties < 1) best = i;
    }
  }
  return best;
}

/** Indices 0..n-1 in random order, sorted (stably) by `key` descending, cut to `k`. */
export function topIndicesDescending(n: number, k: number, key: (i: number) => number, random: () => number): number[] {
  const idx = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  shuffleInPlace(idx, random);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = key(i);
  idx.sort((a, b) => keys[b] - keys[a]);
  if (k < n) idx.length = k;
  return idx;
}

/** `k` distinct indices of 0..n-1, uniformly at random (partial Fisher–Yates). */
export function randomIndices(n: number, k: number, random: () => number): number[] {
  const idx = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  idx.length = m;
  return idx;
}
