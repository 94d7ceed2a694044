// Min–max normalisation shared by the queue and running-requests scorers (GIE queuedepth and
// runningrequests scorers): score = (max − v) / (max − min), so the least loaded candidate gets
// 1 and the most loaded 0; every candidate gets 1 when all values are equal. A non-finite value
// (a broken scrape) is left out of min/max and scores 0.
import type { Candidate } from '../framework/endpoint.js';

export function scoreFewerIsBetter(
  candidates: readonly Candidate[],
  out: Float64Array,
  value: (c: Candidate) => number,
): void {
  const n = candidates.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = value(candidates[i]);
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  for (let i = 0; i < n; i++) {
    const v = value(candidates[i]);
    if (!Number.isFinite(v)) out[i] = 0;
    else out[i] = range === 0 ? 1 : (max - v) / range;
  }
}
