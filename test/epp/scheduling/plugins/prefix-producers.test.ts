// llm-d-router's split of prefix routing: approx-prefix-cache-producer / precise-prefix-cache-
// producer own an index and publish the request's match; a generic prefix-cache-scorer with
// prefixMatchInfoProducerName scores from it. Through the real request path: repeats of a prefix
// follow the first request, the producer's match feeds the scorer, and references are checked.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { isScorer } from '../../../../epp/src/framework/plugins.js';
import { CONFIG_HEADER, configErrors, pipeline, type Pipeline } from '../../prefix/keys/pipeline.js';
import { llmdPdConfig } from '../../../fixtures/pd-config.js';

const EPS = [1, 2, 3, 4].map((i) => ({ address: `127.0.10.${i}`, port: 8000 }));
const MODEL = 'Qwen/Qwen3-8B';
const open: Pipeline[] = [];
afterAll(() => Promise.all(open.map((p) => p.close())));

const ROUTER = (producer: string, producerParams: string) => `plugins:
- type: token-producer
  parameters: {modelName: ${MODEL}}
- type: ${producer}
  parameters: ${producerParams}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: ${producer}}
- type: queue-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: queue-scorer, weight: 1}
dataLayer: {sources: []}
`;

function chat(i: number, q: string) {
  return { model: MODEL, messages: [{ role: 'system', content: `Team ${i} handbook. `.repeat(60) }, { role: 'user', content: q }] };
}

describe('approx-prefix-cache-producer + prefix-cache-scorer(prefixMatchInfoProducerName)', () => {
  it('routes repeats of a prefix where the first request went, from the producer\'s match', async () => {
    const p = await pipeline(CONFIG_HEADER + ROUTER('approx-prefix-cache-producer', '{blockSizeTokens: 16, autoTune: false}'), EPS);
    open.push(p);
    assert.equal(isScorer(p.plugin('approx-prefix-cache-producer')), false, 'the producer does not score');
    const names = p.config.prepareData.map((x) => x.name);
    assert.deepEqual(names, ['token-producer', 'approx-prefix-cache-producer']);
    for (let g = 0; g < 4; g++) {
      const first = await p.route('/v1/chat/completions', chat(g, 'first'));
      for (const q of ['second', 'third']) assert.equal(await p.route('/v1/chat/completions', chat(g, q)), first, `group ${g}`);
    }
    // GIE's hit metrics: 4 cold requests matched nothing, the 8 repeats matched most of their blocks.
    const text = await p.metrics.registry.getSingleMetricAsString('inference_extension_prefix_indexer_hit_ratio');
    const bucket = (le: string) => Number(new RegExp(`_bucket\\{le="${le}"\\} (\\d+)`).exec(text)?.[1]);
    assert.equal(Number(/_count (\d+)/.exec(text)?.[1]), 12, text);
    assert.equal(bucket('0'), 4, 'the first request of each group: no match');
    assert.equal(bucket('0.5'), 4, 'every repeat matched more than half of its blocks');
    const bytes = await p.metrics.registry.getSingleMetricAsString('inference_extension_prefix_indexer_hit_bytes');
    assert.ok(Number(/_sum (\d+)/.exec(bytes)?.[1]) > 8 * 16 * 4 * 10, bytes);
  });

  it('loads the precise producer the same way (KV events bound on loopback)', async () => {
    const p = await pipeline(CONFIG_HEADER + ROUTER('precise-prefix-cache-producer', '{tokenProcessorConfig: {blockSize: 16}, kvEventsConfig: {zmqEndpoint: "tcp://127.0.0.1:*"}}'), EPS);
    open.push(p);
    assert.equal(isScorer(p.plugin('precise-prefix-cache-producer')), false);
    assert.match(await p.route('/v1/chat/completions', chat(9, 'q')), /^127\.0\.10\.\d:8000$/);
  });

  it("loads llm-d-router's precise shape: endpoint-notification-source feeding the producer in the data layer", async () => {
    const yaml = `plugins:
- type: token-producer
  parameters: {modelName: ${MODEL}, vllm: {url: "http://render:8000"}}
- type: endpoint-notification-source
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: {blockSizeTokens: 16}
    kvEventsConfig: {topicFilter: "kv@", concurrency: 4, discoverPods: true, podDiscoveryConfig: {socketPort: 5557}}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
- type: queue-scorer
- type: metrics-data-source
- type: core-metrics-extractor
schedulingProfiles:
- name: default
  plugins: [{pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: queue-scorer, weight: 1}]
dataLayer:
  sources:
  - pluginRef: metrics-data-source
    extractors: [{pluginRef: core-metrics-extractor}]
  - pluginRef: endpoint-notification-source
    extractors: [{pluginRef: precise-prefix-cache-producer}]
`;
    assert.deepEqual(configErrors(yaml), []);
    const p = await pipeline(CONFIG_HEADER + yaml, EPS);
    open.push(p);
    assert.match(await p.route('/v1/chat/completions', chat(11, 'q')), /^127\.0\.10\.\d:8000$/);
  });

  it('refuses a prefixMatchInfoProducerName that names nothing or a plugin that publishes no match', () => {
    const yaml = ROUTER('approx-prefix-cache-producer', '{autoTune: false}');
    assert.deepEqual(configErrors(yaml.replace('prefixMatchInfoProducerName: approx-prefix-cache-producer', 'prefixMatchInfoProducerName: ghost')), [
      'plugins[2].parameters.prefixMatchInfoProducerName: plugin "ghost" is not declared in plugins',
    ]);
    assert.deepEqual(configErrors(yaml.replace('prefixMatchInfoProducerName: approx-prefix-cache-producer', 'prefixMatchInfoProducerName: queue-scorer')), [
      'plugins[2].parameters.prefixMatchInfoProducerName: plugin "queue-scorer" (type queue-scorer) does not produce prefix match info',
    ]);
  });
});

// llm-d-router's current sample shapes (deploy/config/sim-pd-epp-config.yaml,
// sim-epp-kvcache-config.yaml, sim-epp-no-hit-lru.yaml), written out here as their documented
// shapes: the producers replace the scorers' own prefix parameters.
describe("llm-d-router's current P/D, precise and no-hit-LRU sample shapes", () => {
  const ROLE = 'llm-d.ai/role';
  const POOL = [
    { address: '127.0.11.1', port: 8000, labels: { [ROLE]: 'prefill' } },
    { address: '127.0.11.2', port: 8000, labels: { [ROLE]: 'decode' } },
    { address: '127.0.11.3', port: 8000, labels: { [ROLE]: 'decode' } },
    { address: '127.0.11.4', port: 8000, labels: { [ROLE]: 'decode' } },
  ];
  const DECODE = /^127\.0\.11\.[234]:8000$/;
  const SINGLE = (scorers: string) => `- type: decode-filter
- type: max-score-picker
- type: single-profile-handler
schedulingProfiles:
- name: default
  plugins: [{pluginRef: decode-filter}, {pluginRef: max-score-picker}, ${scorers}]
dataLayer: {sources: []}
`;
  async function load(yaml: string): Promise<Pipeline> {
    assert.deepEqual(configErrors(yaml), []);
    const p = await pipeline(CONFIG_HEADER + yaml, POOL);
    open.push(p);
    return p;
  }

  it('P/D with approx-prefix-cache-producer: a long new prompt is disaggregated, its repeat decodes where its prefix is', async () => {
    const p = await load(llmdPdConfig({ nonCachedTokens: 16, producer: true, dataLayerOff: true }).replace(/^apiVersion.*\nkind.*\n/, ''));
    const first = await p.decide('/v1/chat/completions', chat(21, 'first'));
    assert.match(first.endpoints[0], DECODE);
    assert.equal(first.setHeaders.get('x-prefiller-host-port'), '127.0.11.1:8000', 'new long prompt: prefilled on the prefill pool');
    const repeat = await p.decide('/v1/chat/completions', chat(21, 'first'));
    assert.equal(repeat.endpoints[0], first.endpoints[0], 'the repeat follows its prefix');
    assert.equal(repeat.setHeaders.get('x-prefiller-host-port'), undefined, 'the decode endpoint holds the prompt: no disaggregation');
  });

  it('precise producer fed by a token-producer with a vllm render URL (kvcache sample) routes to decode endpoints', async () => {
    const p = await load(`plugins:
- type: token-producer
  parameters: {modelName: ${MODEL}, vllm: {url: "http://render.llm-d.svc:8000"}}
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: {blockSize: 16}
    kvEventsConfig: {zmqEndpoint: "tcp://127.0.0.1:*"}
    indexerConfig:
      kvBlockIndexConfig: {enableMetrics: false, metricsLoggingInterval: 60000000000}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
${SINGLE('{pluginRef: prefix-cache-scorer, weight: 10}')}`);
    for (let i = 0; i < 3; i++) assert.match(await p.route('/v1/chat/completions', chat(30 + i, 'q')), DECODE);
  });

  it('no-hit-LRU over the precise producer (nested indexerConfig shape): cold requests spread over every decode endpoint', async () => {
    const p = await load(`plugins:
- type: precise-prefix-cache-producer
  parameters:
    indexerConfig:
      tokenProcessorConfig: {blockSizeTokens: 5}
      kvBlockIndexConfig: {maxPrefixTokensToMatch: 1280}
    kvEventsConfig: {zmqEndpoint: "tcp://127.0.0.1:*"}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
- type: no-hit-lru-scorer
  parameters: {lruSize: 2048}
${SINGLE('{pluginRef: prefix-cache-scorer, weight: 2}, {pluginRef: no-hit-lru-scorer, weight: 1}')}`);
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add(await p.route('/v1/chat/completions', chat(40 + i, 'cold')));
    assert.deepEqual([...seen].sort(), ['127.0.11.2:8000', '127.0.11.3:8000', '127.0.11.4:8000'], 'three cold requests, three least recently used endpoints');
  });
});
