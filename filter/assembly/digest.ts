/**
 * The prefix digest (header protocol v3, docs/protocol-headers.md "Digest"): which of a prompt's
 * chained block keys the filter sends, so any prompt fits a bounded header. A chained key names
 * its whole prefix, so a sample of keys still finds the longest cached prefix — to within the
 * gap between two sampled blocks. The sample is a fixed grid of absolute block positions, the
 * same for every request whatever its length (so the keys of a short and a long prompt sharing a
 * prefix are comparable in the EPP's index):
 *   every block i < dense;
 *   then, in segment s = 1, 2, … covering blocks [dense·2^(s-1), dense·2^s), every block i with
 *   (i + 1) a multiple of 2^s — dense/2 keys per doubling of the prompt;
 *   then the prompt's last full block when the grid missed it;
 * cut to the first maxKeys. epp/src/protocol/digest.ts computes the same positions.
 */

/** Whether block `i` is on the grid of `dense`. */
// @ts-ignore: decorator
@inline export function onGrid(i: i32, dense: i32): bool {
  if (i < dense) return true;
  let stride: i64 = 2;
  let bound: i64 = <i64>dense << 1;
  while (<i64>i >= bound) {
    stride <<= 1;
    bound <<= 1;
  }
  return (<i64>i + 1) % stride == 0;
}

/**
 * Copies the digest keys of `keys[0 .. count)` into `out` (at most min(maxKeys, out.length));
 * returns how many.
 */
export function digestKeys(keys: StaticArray<u64>, count: i32, dense: i32, maxKeys: i32, out: StaticArray<u64>): i32 {
  let cap = maxKeys < out.length ? maxKeys : out.length;
  let k = 0;
  let last = -1;
  for (let i = 0; i < count && k < cap; i++) {
    if (!onGrid(i, dense)) continue;
    unchecked((out[k++] = keys[i]));
    last = i;
  }
  if (count > 0 && last != count - 1 && k < cap) unchecked((out[k++] = keys[count - 1]));
  return k;
}
