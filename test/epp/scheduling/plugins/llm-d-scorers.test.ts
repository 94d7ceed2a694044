// llm-d's scorers and data-parallel handler, formula by formula against llm-d-inference-scheduler
// v0.7.1 (pkg/plugins/scorer/{load_aware,active_request,no_hit_lru}.go, pkg/plugins/profile/
// dp_profile_handler.go), and the loader's leniency for parameter keys a plugin does not know.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { loadAwareScorerPlugin } from '../../../../epp/src/scheduling/plugins/load-aware-scorer.js';
import { activeRequestScorerPlugin } from '../../../../epp/src/scheduling/plugins/active-request-scorer.js';
import { noHitLruScorerPlugin } from '../../../../epp/src/scheduling/plugins/no-hit-lru-scorer.js';
import type { Filter, PreRequestPlugin, Scorer } from '../../../../epp/src/framework/plugins.js';
import type { Candidate } from '../../../../epp/src/framework/endpoint.js';
import { contextLengthAwarePlugin, parseContextRange } from '../../../../epp/src/scheduling/plugins/context-length-aware.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';
import { publishMatch } from '../../../../epp/src/prefix/plugin-support.js';
import { loadEndpointPickerConfig } from '../../../../epp/src/config/index.js';
import { builtinRegistry } from '../../../../epp/src/main.js';
import { candidates, close, context, make, parsedBody, request, scores } from '../helpers.js';
import { CONFIG_HEADER } from '../../prefix/keys/pipeline.js';

describe('load-aware-scorer', () => {
  it('scores 0.5 for an empty queue and falls linearly to 0 at the threshold', () => {
    const s = make<Scorer>(loadAwareScorerPlugin, { threshold: 10 });
    assert.deepEqual(scores(s, candidates([{ waiting: 0 }, { waiting: 5 }, { waiting: 10 }, { waiting: 50 }])), [0.5, 0.25, 0, 0]);
    const d = make<Scorer>(loadAwareScorerPlugin, { threshold: 0 });
    assert.ok(close(scores(d, candidates([{ waiting: 64 }]))[0], 0.25), 'threshold ≤ 0 means the default 128');
  });
});

describe('active-request-scorer', () => {
  it('scores idle endpoints 1 and the others (max − n) / max × maxBusyScore', () => {
    const s = make<Scorer>(activeRequestScorerPlugin, { idleThreshold: 1, maxBusyScore: 0.8 });
    const got = scores(s, candidates([{ inflightRequests: 0 }, { inflightRequests: 1 }, { inflightRequests: 2 }, { inflightRequests: 4 }]));
    assert.deepEqual(got.map((x) => Math.round(x * 1000) / 1000), [1, 1, 0.4, 0]);
    assert.deepEqual(scores(make<Scorer>(activeRequestScorerPlugin), candidates([{}, {}])), [1, 1]);
  });
});

describe('no-hit-lru-scorer', () => {
  const cands = candidates([{ key: '10.9.0.1:8000' }, { key: '10.9.0.2:8000' }, { key: '10.9.0.3:8000' }]);
  const cold = () => new RequestState();
  const warm = () => {
    const st = new RequestState();
    publishMatch(st, { plugin: 'prefix-cache-scorer', blockSize: 16, totalBlocks: 4, promptTokens: 64, tokensExact: true, matched: (c) => Float64Array.from(c, (_x, i) => (i === 1 ? 2 : 0)) });
    return st;
  };
  const score = (s: Scorer, st: RequestState) => {
    const out = new Float64Array(cands.length);
    s.score(request(), cands, st, out);
    return Array.from(out);
  };
  const choose = (s: Scorer & PreRequestPlugin, st: RequestState, i: number) =>
    s.preRequest(request(), { primaryProfile: 'default', profileResults: new Map([['default', { targets: [cands[i]] }]]) }, st);

  it('spreads cold requests over the least recently used endpoints, and is neutral for warm ones', () => {
    const s = make<Scorer & PreRequestPlugin>(noHitLruScorerPlugin, { lruSize: 8 });
    assert.deepEqual(score(s, warm()), [0.5, 0.5, 0.5]);
    let st = cold();
    assert.deepEqual(score(s, st), [1, 0.5, 0], 'never used: candidate order');
    choose(s, st, 0);
    st = cold();
    assert.deepEqual(score(s, st), [0, 1, 0.5], 'the endpoint just used goes last');
    choose(s, st, 1);
    st = cold();
    assert.deepEqual(score(s, st), [0.5, 0, 1]);
    const w = warm();
    score(s, w);
    choose(s, w, 2);
    assert.deepEqual(score(s, cold()), [0.5, 0, 1], 'a warm request does not touch the LRU');
  });
});

describe('context-length-aware', () => {
  const labelled = (range: string | undefined): Candidate => {
    const c = candidates([{}])[0];
    const labels: Record<string, string> = range === undefined ? {} : { 'llm-d.ai/context-length-range': range };
    return { ...c, endpoint: { ...c.endpoint, labels } };
  };
  const cands = [labelled('0-2048'), labelled('2049-32768'), labelled(undefined), labelled('banana')];
  const req = (chars: number) => request({ body: parsedBody({ model: 'm', prompt: 'x'.repeat(chars) }) });

  it("scores with llm-d's range formula on the estimated length (characters × 0.25)", () => {
    const s = make<Scorer & Filter>(contextLengthAwarePlugin);
    const got = scores(s, cands, req(4000)); // 1000 tokens
    assert.ok(close(got[0], 0.3 + (0.7 * (1 / (1 + 2048 / 10_000)) + 0.3 * (1048 / 2048)) * 0.7, 1e-12), `in range: ${got[0]}`);
    assert.ok(close(got[1], 0.3 / (1 + 1049 / 1000), 1e-12), `below range: ${got[1]}`);
    assert.deepEqual(got.slice(2), [0.5, 0], 'unlabelled 0.5, malformed 0');
    assert.equal(parseContextRange('10 - 20')?.max, 20);
    assert.equal(parseContextRange('20-10'), undefined);
  });

  it('filters only with enableFiltering, keeping unlabelled endpoints', () => {
    const keep = (p: object, chars: number) => make<Filter>(contextLengthAwarePlugin, p).filter(req(chars), cands, new RequestState()).map((c) => c.endpoint.labels['llm-d.ai/context-length-range'] ?? '-');
    assert.deepEqual(keep({}, 40_000), ['0-2048', '2049-32768', '-', 'banana']);
    assert.deepEqual(keep({ enableFiltering: true }, 40_000), ['2049-32768', '-']);
  });
});

describe('parameters a plugin does not know', () => {
  it('are warnings naming the key (as Go ignores them), while wrong values stay errors', () => {
    const cfg = loadEndpointPickerConfig(
      CONFIG_HEADER + 'plugins:\n- type: queue-scorer\n  parameters: {colour: blue}\n- type: prefix-cache-scorer\n  parameters: {lruCapacityPerServer: 10, indexer: {x: 1}}\n',
      builtinRegistry(),
      context(),
    );
    assert.ok(cfg.warnings.includes('plugins[0].parameters.colour: unknown parameter, ignored (as the Go EPP ignores it); check its spelling'), cfg.warnings.join('\n'));
    assert.ok(cfg.warnings.some((w) => w.startsWith('plugins[1].parameters.indexer: unknown parameter')));
    assert.throws(
      () => loadEndpointPickerConfig(CONFIG_HEADER + 'plugins:\n- type: prefix-cache-scorer\n  parameters: {lruCapacityPerServer: -1, typo: 1}\n', builtinRegistry(), context()),
      /plugins\[0\]\.parameters\.lruCapacityPerServer/,
    );
  });
});
