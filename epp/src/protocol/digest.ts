// The prefix digest of header protocol v3 (docs/protocol-headers.md "Digest"; the filter's side is
// filter/assembly/digest.ts): which block positions of a prompt the sent keys stand for. A fixed
// grid of absolute positions — every block below `dense`, then dense/2 blocks per doubling of the
// prompt (block i of segment [dense·2^(s-1), dense·2^s) when (i + 1) is a multiple of 2^s), then
// the prompt's last full block when the grid missed it — cut to the keys sent. Because the grid
// does not depend on the prompt's length, the keys of a short and a long prompt sharing a prefix
// sit at the same positions, and the longest cached prefix is found to within one gap.

/** Whether block `i` is on the grid of `dense`. */
export function onDigestGrid(i: number, dense: number): boolean {
  if (i < dense) return true;
  let stride = 2;
  let bound = dense * 2;
  while (i >= bound) {
    stride *= 2;
    bound *= 2;
  }
  return (i + 1) % stride === 0;
}

/**
 * The positions (block indexes, ascending) of the first `keys` digest keys of a prompt of
 * `blocks` full blocks. O(keys), not O(blocks): the grid is walked segment by segment.
 */
export function digestPositions(dense: number, blocks: number, keys = Number.POSITIVE_INFINITY): Uint32Array {
  const out: number[] = [];
  const d = Math.min(dense, blocks);
  for (let i = 0; i < d && out.length < keys; i++) out.push(i);
  let stride = 2;
  for (let start = dense; start < blocks && out.length < keys; start *= 2, stride *= 2) {
    const end = Math.min(blocks, start * 2);
    // The first i ≥ start with (i + 1) % stride === 0.
    for (let i = Math.ceil((start + 1) / stride) * stride - 1; i < end && out.length < keys; i += stride) out.push(i);
  }
  if (blocks > 0 && out.length < keys && out[out.length - 1] !== blocks - 1) out.push(blocks - 1);
  return Uint32Array.from(out);
}

/** Number of digest keys of a prompt of `blocks` full blocks (before any cut). */
export function digestSize(dense: number, blocks: number): number {
  return digestPositions(dense, blocks).length;
}

/**
 * Samples dense interleaved (lo, hi) key halves of blocks 0..n-1 onto the digest grid: the keys
 * and their positions, as a filter digest of the same prompt would carry them.
 */
export function sampleDigest(halves: Uint32Array, n: number, dense: number): { keys: Uint32Array; positions: Uint32Array } {
  const positions = digestPositions(dense, n);
  const keys = new Uint32Array(positions.length * 2);
  for (let k = 0; k < positions.length; k++) {
    keys[2 * k] = halves[2 * positions[k]];
    keys[2 * k + 1] = halves[2 * positions[k] + 1];
  }
  return { keys, positions };
}
