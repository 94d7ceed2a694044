// llm-d-router's split of prefix routing: approx-prefix-cache-producer / precise-prefix-cache-
// producer own an index and publish the request's match; a generic prefix-cache-scorer with
// prefixMatchInfoProducerName scores from it. Through the real request path: repeats of a prefix
// follow the first request, the producer's match feeds the scorer, and references are checked.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { isScorer } from '../../../../epp/src/framework/plugins.js';
import { CONFIG_HEADER, configErrors, pipeline, type Pipeline } from '../../prefix/keys/pipeline.js';

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
