// prefix-cache-scorer placeholder: validates GIE's parameters and scores 0 with a one-time warning.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Scorer } from '../../../../epp/src/scheduling/framework.js';
import { createLogger } from '../../../../epp/src/observability/logger.js';
import { prefixCacheScorerPlugin } from '../../../../epp/src/scheduling/plugins/prefix-cache-scorer.js';
import { candidates, context, make, scores } from '../helpers.js';

describe('prefix-cache-scorer (placeholder)', () => {
  it('defaults to GIE parameters', () => {
    assert.deepEqual(prefixCacheScorerPlugin.parameters.parse({}), {
      autoTune: true,
      blockSizeTokens: 16,
      maxPrefixBlocksToMatch: 256,
      maxPrefixTokensToMatch: 0,
      lruCapacityPerServer: 31_250,
    });
  });

  it('rejects the deprecated blockSize when blockSizeTokens is not set', () => {
    const r = prefixCacheScorerPlugin.parameters.safeParse({ blockSize: 64 });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0].path, ['blockSize']);
    assert.match(r.error!.issues[0].message, /deprecated/);
    assert.equal(prefixCacheScorerPlugin.parameters.safeParse({ blockSize: 64, blockSizeTokens: 16 }).success, true);
  });

  it('rejects bad values and unknown keys', () => {
    for (const bad of [{ blockSizeTokens: 0 }, { maxPrefixTokensToMatch: -1 }, { autoTune: 'yes' }, { hashBlockSize: 64 }]) {
      assert.equal(prefixCacheScorerPlugin.parameters.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });

  it('scores 0 for everyone and warns once', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const scorer = make<Scorer>(prefixCacheScorerPlugin, {}, context({ logger: createLogger('warn', sink) }));
    const cands = candidates([{}, {}, {}]);
    assert.deepEqual(scores(scorer, cands), [0, 0, 0]);
    assert.deepEqual(scores(scorer, cands), [0, 0, 0]);
    const warnings = lines.filter((l) => l.includes('not implemented yet'));
    assert.equal(warnings.length, 1);
  });
});
