// prefix-cache-scorer (approximate index from routing history), prefix-cache-affinity-filter and
// the precise scorer's parameters, through the real request path (config loader → director →
// scheduler → PreRequest), without model servers: repeats of a prefix go to the server that served
// it, the LRU bound holds, removed endpoints are purged, load still matters ("sticky until
// saturated"), and the decision trace names the key source.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { prefixCacheScorerPlugin, type PrefixCacheScorer } from '../../../../epp/src/scheduling/plugins/prefix-cache-scorer.js';
import { precisePrefixCacheScorerPlugin } from '../../../../epp/src/scheduling/plugins/precise-prefix-cache-scorer.js';
import { prefixCacheAffinityFilterPlugin } from '../../../../epp/src/scheduling/plugins/prefix-cache-affinity-filter.js';
import { createLogger } from '../../../../epp/src/observability/logger.js';
import { CONFIG_HEADER, docsExample, pipeline, type Pipeline } from '../../prefix/keys/pipeline.js';

// Loopback addresses: the dial-mode example config connects to each endpoint's publisher port.
const EPS = [1, 2, 3, 4].map((i) => ({ address: `127.0.6.${i}`, port: 8000 }));
const MODEL = 'Qwen/Qwen3-8B';

function chat(prefix: string, question: string) {
  return { model: MODEL, messages: [{ role: 'system', content: prefix }, { role: 'user', content: question }] };
}
function prefixText(i: number): string {
  return `You are assistant number ${i}. `.repeat(40);
}

const open: Pipeline[] = [];
afterAll(() => Promise.all(open.map((p) => p.close())));
async function make(yaml: string, logger = createLogger('silent')): Promise<Pipeline> {
  const p = await pipeline(CONFIG_HEADER + yaml, EPS, logger);
  open.push(p);
  return p;
}

describe('prefix-cache-scorer parameters', () => {
  it('defaults to GIE parameters; key-source extensions only when set', () => {
    const p = prefixCacheScorerPlugin.parameters.parse({});
    assert.equal(p.autoTune, true);
    assert.equal(p.blockSizeTokens, 16);
    assert.equal(p.maxPrefixBlocksToMatch, 256);
    assert.equal(p.maxPrefixTokensToMatch, 0);
    assert.equal(p.lruCapacityPerServer, 31_250);
    assert.equal(p.keySources, undefined, 'key sources are token-producer\'s unless the scorer sets them');
    assert.deepEqual(prefixCacheScorerPlugin.parameters.parse({ models: { m: 'qwen3' } }).keySources, { models: { m: 'qwen3' } });
  });

  it('rejects the deprecated blockSize alone, bad values and unknown keys', () => {
    const r = prefixCacheScorerPlugin.parameters.safeParse({ blockSize: 64 });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0].path, ['blockSize']);
    for (const bad of [{ blockSizeTokens: 0 }, { maxPrefixTokensToMatch: -1 }, { autoTune: 'yes' }, { hashBlockSize: 64 }, { models: { m: 'gpt2' } }, { tokenizeTimeout: 'soon' }]) {
      assert.equal(prefixCacheScorerPlugin.parameters.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });

  it('precise-prefix-cache-scorer takes llm-d parameter names and chooses bind or dial', () => {
    const bind = precisePrefixCacheScorerPlugin.parameters.parse({
      tokenProcessorConfig: { blockSize: 64, hashSeed: '42' },
      indexerConfig: { kvBlockIndexConfig: { inMemoryConfig: { size: 1000 } }, kvCacheBackendConfigs: [{ name: 'GPU', weight: 1 }, { name: 'cpu', weight: 0.5 }] },
      kvEventsConfig: { zmqEndpoint: 'tcp://0.0.0.0:5557', topicFilter: 'kv@' },
      speculativeIndexing: true,
      speculativeTTL: '500ms',
    });
    assert.equal(bind.blockSize, 64);
    assert.equal(bind.maxPairs, 1000);
    assert.equal(bind.cpuWeight, 0.5);
    assert.equal(bind.bindEndpoint, 'tcp://0.0.0.0:5557');
    assert.equal(bind.dial, false);
    assert.equal(bind.speculativeTtlMs, 500);
    const dial = precisePrefixCacheScorerPlugin.parameters.parse({ kvEventsConfig: { podDiscoveryConfig: { socketPort: 5556, podLabelSelector: 'llm-d.ai/inference-serving=true' } } });
    assert.equal(dial.dial, true);
    assert.equal(dial.socketPort, 5556);
    assert.deepEqual(dial.podLabelSelector, { 'llm-d.ai/inference-serving': 'true' });
    assert.equal(dial.speculativeTtlMs, 0);
    assert.equal(precisePrefixCacheScorerPlugin.parameters.safeParse({ kvEventsConfig: { engineType: 'sglang' } }).success, false);
  });

  it('takes durations as Go strings or nanoseconds (as Go decodes a time.Duration)', () => {
    const p = precisePrefixCacheScorerPlugin.parameters.parse({ speculativeIndexing: true, speculativeTTL: 3_000_000_000, kvEventsConfig: { replayTimeout: '250ms' } });
    assert.equal(p.speculativeTtlMs, 3000);
    assert.equal(p.replayTimeoutMs, 250);
    assert.equal(precisePrefixCacheScorerPlugin.parameters.safeParse({ speculativeTTL: -1 }).success, false);
    assert.equal(precisePrefixCacheScorerPlugin.parameters.safeParse({ speculativeTTL: 'soon' }).success, false);
  });

  it('prefix-cache-affinity-filter defaults to llm-d router values', () => {
    assert.deepEqual(prefixCacheAffinityFilterPlugin.parameters.parse({}), {
      affinityThreshold: 0.8,
      explorationProbability: 0,
      maxTTFTPenaltyMs: 18_000,
      ttftSource: 'prefillThroughput',
      peakPrefillThroughput: 15_928,
      ttftEstimatorName: 'ttft-estimate-scorer',
    });
    assert.equal(prefixCacheAffinityFilterPlugin.parameters.safeParse({ ttftSource: 'latencyPredictor' }).success, false);
  });
});

describe('approximate prefix routing (GIE default blend: queue 2, kv-cache 2, prefix 3)', () => {
  it('routes repeats of a prefix to the endpoint that served it and spreads new prefixes', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) });
    const p = await make(
      `plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
  parameters:
    models: {"${MODEL}": qwen3}
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
dataLayer: {sources: []}
`,
      createLogger('debug', sink),
    );
    const firsts = new Set<string>();
    for (let g = 0; g < 8; g++) {
      const first = await p.route('/v1/chat/completions', chat(prefixText(g), 'q0'));
      firsts.add(first);
      for (let q = 1; q < 4; q++) assert.equal(await p.route('/v1/chat/completions', chat(prefixText(g), `question ${q}`)), first, `group ${g}`);
    }
    assert.ok(firsts.size >= 2, 'distinct prefixes are not all sent to one endpoint');
    const traces = lines.map((l) => JSON.parse(l)).filter((l) => l.decision);
    assert.ok(traces.length > 0);
    assert.equal(traces[0].decision.notes.prefixSource, 'epp-tokenizer');
  });

  it('respects the per-endpoint LRU bound and purges endpoints that leave the pool', async () => {
    const p = await make(`plugins:
- type: prefix-cache-scorer
  parameters: {lruCapacityPerServer: 20, autoTune: false}
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins: [{pluginRef: prefix-cache-scorer}, {pluginRef: max-score-picker}]
dataLayer: {sources: []}
`);
    const scorer = p.plugin<PrefixCacheScorer>('prefix-cache-scorer');
    const first = await p.route('/v1/completions', { model: MODEL, prompt: prefixText(100) });
    assert.ok(scorer.index.countOf(first) > 0);
    for (let g = 0; g < 30; g++) await p.route('/v1/completions', { model: MODEL, prompt: prefixText(g) });
    for (const ep of scorer.index.endpointNames()) assert.ok(scorer.index.countOf(ep) <= 20, `${ep}: ${scorer.index.countOf(ep)}`);
    p.datastore.removeEndpoint(first);
    assert.equal(scorer.index.idOf(first), -1);
  });
});

describe('prefix-cache-affinity-filter + token-load-scorer (sticky until saturated)', () => {
  it('sticks to the warm endpoint until its estimated TTFT penalty exceeds maxTTFTPenaltyMs', async () => {
    const p = await make(`plugins:
- type: prefix-cache-scorer
  parameters: {models: {"${MODEL}": qwen3}}
- type: prefix-cache-affinity-filter
  parameters: {maxTTFTPenaltyMs: 1000, peakPrefillThroughput: 10000}
- type: token-load-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 0}
  - {pluginRef: prefix-cache-affinity-filter}
  - {pluginRef: token-load-scorer}
dataLayer: {sources: []}
`);
    const warm = await p.route('/v1/chat/completions', chat(prefixText(7), 'first'));
    // The warm endpoint carries some load: still sticky (penalty 0.5 s < 1 s).
    p.datastore.addInflight(warm, 5000);
    assert.equal(await p.route('/v1/chat/completions', chat(prefixText(7), 'second')), warm);
    // Saturated (≈ 2 s of queued prefill more than a cold endpoint): stickiness breaks, load decides.
    p.datastore.addInflight(warm, 20000);
    assert.notEqual(await p.route('/v1/chat/completions', chat(prefixText(7), 'third')), warm);
  });
});

describe('docs/configuration.md prefix example', () => {
  it('loads as written (both profiles selectable)', async () => {
    const p = await pipeline(docsExample('- type: precise-prefix-cache-scorer'), EPS);
    open.push(p);
    assert.deepEqual([...p.config.profiles.keys()], ['blend', 'sticky']);
  });
});
