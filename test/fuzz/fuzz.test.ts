// The fuzz targets (test/fuzz/targets.ts) with a short budget per target in CI — the corpus
// replayed, then ~20 s of fresh inputs each (a fixed seed per day, so a failure reproduces the
// same day with `npm run fuzz -- --seed <printed seed>`). Long runs: `npm run fuzz -- --minutes 30`.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { allTargets } from './targets.js';
import { fuzzTarget } from './run.js';

const SEED = Math.floor(Date.now() / 86_400_000);
const BUDGET_MS = Number(process.env.TOKENROUTE_FUZZ_BUDGET_MS ?? 20_000);

describe('fuzz targets (short CI budget)', () => {
  for (const t of allTargets()) {
    it(`${t.name}: no invariant broken`, async () => {
      const r = await fuzzTarget(t, BUDGET_MS, SEED);
      assert.deepEqual(r.failures, [], `seed ${SEED}: ${JSON.stringify(r.failures).slice(0, 2000)}`);
      assert.ok(r.tried > 0, 'fresh inputs ran');
      console.log(`fuzz ${t.name}: ${r.tried} inputs + ${r.corpus} corpus (seed ${SEED})`);
    });
  }
});
