// token-producer (epp/src/prefix/token-producer.ts) through the real request path (config loader →
// director → scheduler): one tokenization per request feeds both prefix scorers, even at
// different block sizes; a config without a producer gets an implicit one and the decision trace
// says so; llm-d configs naming `token-producer` and the legacy `tokenizer` load; the loader orders
// PrepareData plugins producers-first and refuses cycles and orphan consumers.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../epp/src/observability/logger.js';
import { loadEndpointPickerConfig, ConfigError } from '../../../epp/src/config/index.js';
import { builtinRegistry } from '../../../epp/src/main.js';
import { orderPrepareData } from '../../../epp/src/requestcontrol/prepare-data-order.js';
import { stateKey } from '../../../epp/src/framework/cycle-state.js';
import type { PrepareDataPlugin } from '../../../epp/src/framework/plugins.js';
import { isTokenProducer, type TokenProducer } from '../../../epp/src/prefix/token-producer.js';
import { tokenizerFamilyOf } from '../../../epp/src/prefix/plugin-support.js';
import { CONFIG_HEADER, pipeline, type Pipeline } from './keys/pipeline.js';
import { context } from '../scheduling/helpers.js';

const EPS = [1, 2, 3].map((i) => ({ address: `127.0.7.${i}`, port: 8000 }));
const MODEL = 'Qwen/Qwen3-8B';
const open: Pipeline[] = [];
afterAll(() => Promise.all(open.map((p) => p.close())));

function chat(i: number) {
  return { model: MODEL, messages: [{ role: 'system', content: `You answer for team ${i}. `.repeat(30) }, { role: 'user', content: `question ${i}` }] };
}

const BOTH_SCORERS = `plugins:
- type: token-producer
  parameters:
    models: {"${MODEL}": qwen3}
- type: prefix-cache-scorer
  parameters: {autoTune: false, blockSizeTokens: 16}
- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: {blockSize: 64}
    kvEventsConfig: {zmqEndpoint: "tcp://127.0.0.1:*"}
- type: queue-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 1}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: precise-prefix-cache-scorer, weight: 2}
dataLayer: {sources: []}
`;

function producerOf(p: Pipeline): TokenProducer {
  const found = [...p.config.plugins.values()].filter(isTokenProducer);
  assert.equal(found.length, 1);
  return found[0];
}

describe('token-producer feeding both prefix scorers', () => {
  it('tokenizes each request once for both scorers (block sizes 16 and 64), and both read the keys', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) });
    const p = await pipeline(CONFIG_HEADER + BOTH_SCORERS, EPS, createLogger('debug', sink));
    open.push(p);
    const producer = producerOf(p);
    assert.deepEqual(producer.consumers(), ['prefix-cache-scorer', 'precise-prefix-cache-scorer']);
    const names = p.config.prepareData.map((x) => x.name);
    assert.ok(names.indexOf('token-producer') < names.indexOf('prefix-cache-scorer'), `producer first: ${names}`);
    assert.ok(names.indexOf('token-producer') < names.indexOf('precise-prefix-cache-scorer'), `producer first: ${names}`);
    const N = 6;
    const first = await p.route('/v1/chat/completions', chat(0));
    for (let i = 1; i < N; i++) await p.route('/v1/chat/completions', chat(i));
    assert.equal(producer.keys.tokenizations, N, 'one tokenization per request');
    // The approximate scorer recorded the first request's keys: a repeat goes where it went.
    assert.equal(await p.route('/v1/chat/completions', chat(0)), first);
    assert.equal(producer.keys.tokenizations, N + 1);
    const traces = lines.map((l) => JSON.parse(l)).filter((l) => l.decision);
    assert.ok(traces.length >= N);
    for (const t of traces) {
      assert.equal(t.decision.notes.prefixProducer, 'token-producer');
      assert.equal(t.decision.notes.prefixSource, 'epp-tokenizer');
    }
  });

  it('creates one implicit producer from the scorers\' own parameters and names it in the trace', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) });
    const yaml = `plugins:
- type: prefix-cache-scorer
  parameters: {autoTune: false, models: {"${MODEL}": qwen3}}
- name: second
  type: prefix-cache-scorer
  parameters: {autoTune: false, blockSizeTokens: 32, models: {"${MODEL}": qwen3}}
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer}
  - {pluginRef: second}
dataLayer: {sources: []}
`;
    const p = await pipeline(CONFIG_HEADER + yaml, EPS, createLogger('debug', sink));
    open.push(p);
    const producer = producerOf(p);
    assert.equal(producer.implicitFor, 'prefix-cache-scorer, second');
    assert.deepEqual(producer.parameters.models, { [MODEL]: 'qwen3' });
    await p.route('/v1/chat/completions', chat(1));
    await p.route('/v1/chat/completions', chat(2));
    assert.equal(producer.keys.tokenizations, 2);
    const notes = lines.map((l) => JSON.parse(l)).filter((l) => l.decision).map((l) => l.decision.notes);
    assert.equal(notes[0].prefixProducer, 'token-producer (implicit, for prefix-cache-scorer, second)');
  });

  it('scorers with different key sources get separate implicit producers', () => {
    const cfg = loadEndpointPickerConfig(
      CONFIG_HEADER +
        `plugins:
- {type: prefix-cache-scorer, parameters: {charFallback: false}}
- {name: other, type: prefix-cache-scorer}
schedulingProfiles:
- name: default
  plugins: [{pluginRef: prefix-cache-scorer}, {pluginRef: other}]
dataLayer: {sources: []}
`,
      builtinRegistry(),
      context(),
    );
    const producers = [...cfg.plugins.values()].filter(isTokenProducer);
    assert.deepEqual(producers.map((p) => [p.name, p.implicitFor, p.parameters.charFallback]), [
      ['token-producer', 'prefix-cache-scorer', false],
      ['token-producer-2', 'other', true],
    ]);
  });
});

describe('llm-d configs', () => {
  const llmd = (producerType: string) => `plugins:
- type: ${producerType}
  parameters:
    modelName: Qwen/Qwen3-32B
    vllm: {url: "http://vllm-render:8000", timeout: 15s}
- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: {blockSizeTokens: 16}
    kvEventsConfig: {zmqEndpoint: "tcp://0.0.0.0:5557", topicFilter: "kv@"}
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: precise-prefix-cache-scorer, weight: 2}
  - {pluginRef: max-score-picker}
dataLayer: {sources: []}
`;

  it('loads one naming token-producer: modelName is bound to its embedded tokenizer', () => {
    const cfg = loadEndpointPickerConfig(CONFIG_HEADER + llmd('token-producer'), builtinRegistry(), context());
    const producer = [...cfg.plugins.values()].filter(isTokenProducer)[0];
    assert.equal(producer.type, 'token-producer');
    assert.deepEqual(producer.parameters.models, { 'Qwen/Qwen3-32B': 'qwen3' });
    assert.deepEqual(producer.consumers(), ['precise-prefix-cache-scorer']);
    assert.deepEqual(cfg.warnings.filter((w) => !w.startsWith('dataLayer:')), []);
  });

  it('loads one naming the legacy type tokenizer, with a warning to rename it', () => {
    const cfg = loadEndpointPickerConfig(CONFIG_HEADER + llmd('tokenizer'), builtinRegistry(), context());
    const producer = cfg.plugins.get('tokenizer');
    assert.ok(producer && isTokenProducer(producer));
    assert.equal(producer.type, 'token-producer');
    assert.deepEqual(producer.consumers(), ['precise-prefix-cache-scorer']);
    const warnings = cfg.warnings.filter((w) => !w.startsWith('dataLayer:'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /plugins\[0\]\.type: "tokenizer" is read as "token-producer"/);
  });

  it('warns that a scorer\'s own key sources are ignored next to a declared producer', () => {
    const yaml = llmd('token-producer').replace('    tokenProcessorConfig: {blockSizeTokens: 16}', '    tokenProcessorConfig: {blockSizeTokens: 16}\n    charFallback: false');
    const cfg = loadEndpointPickerConfig(CONFIG_HEADER + yaml, builtinRegistry(), context());
    const warnings = cfg.warnings.filter((w) => !w.startsWith('dataLayer:'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /plugins\[1\]\.parameters: charFallback ignored: token-producer "token-producer" produces the block keys/);
  });

  it('refuses two producers when the scorer names neither, and accepts tokenProducerName', () => {
    const two = `plugins:
- {name: a, type: token-producer}
- {name: b, type: token-producer}
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins: [{pluginRef: prefix-cache-scorer}]
dataLayer: {sources: []}
`;
    assert.throws(
      () => loadEndpointPickerConfig(CONFIG_HEADER + two, builtinRegistry(), context()),
      (err: unknown) => err instanceof ConfigError && /TR_ERR_CONFIG_DATA_DEPENDENCIES/.test(JSON.stringify(err.issues)) && /set tokenProducerName/.test(err.message),
    );
    const named = two.replace('- type: prefix-cache-scorer', '- type: prefix-cache-scorer\n  parameters: {tokenProducerName: b}');
    const cfg = loadEndpointPickerConfig(CONFIG_HEADER + named, builtinRegistry(), context());
    const b = cfg.plugins.get('b') as TokenProducer;
    assert.deepEqual(b.consumers(), ['prefix-cache-scorer']);
    assert.deepEqual((cfg.plugins.get('a') as TokenProducer).consumers(), []);
  });

  it('binds llm-d modelName families to embedded tokenizers and leaves unknown ones unbound', () => {
    assert.equal(tokenizerFamilyOf('Qwen/Qwen3-0.6B'), 'qwen3');
    assert.equal(tokenizerFamilyOf('Qwen/Qwen2.5-7B-Instruct'), 'qwen2_5');
    assert.equal(tokenizerFamilyOf('meta-llama/Llama-3.1-8B-Instruct'), 'llama3_1');
    assert.equal(tokenizerFamilyOf('meta-llama/Meta-Llama-3-8B'), 'llama3_1');
    assert.equal(tokenizerFamilyOf('deepseek-ai/DeepSeek-R1'), 'deepseek_v3');
    assert.equal(tokenizerFamilyOf('mistralai/Mistral-7B-v0.1'), undefined);
    assert.equal(tokenizerFamilyOf('Qwen/Qwen2-7B'), undefined, 'Qwen2 is not Qwen2.5');
  });
});

describe('PrepareData ordering', () => {
  const A = stateKey<number>('a');
  const B = stateKey<number>('b');
  const plugin = (name: string, produces: (typeof A)[], consumes: (typeof A)[]): PrepareDataPlugin => ({ type: 't', name, produces, consumes, prepareRequestData() {} });

  it('puts producers before consumers and keeps configuration order otherwise', () => {
    const c = plugin('c', [], [B]);
    const b = plugin('b', [B], [A]);
    const x = plugin('x', [], []);
    const a = plugin('a', [A], []);
    const r = orderPrepareData([c, b, x, a]);
    assert.ok(r.ok);
    assert.deepEqual(r.order.map((p) => p.name), ['x', 'a', 'b', 'c']);
  });

  it('refuses a cycle and a consumer without a producer', () => {
    const cyc = orderPrepareData([plugin('p', [A], [B]), plugin('q', [B], [A])]);
    assert.equal(cyc.ok, false);
    assert.match(!cyc.ok ? cyc.message : '', /"p", "q" depend on each other in a cycle/);
    const orphan = orderPrepareData([plugin('p', [], [A])]);
    assert.equal(orphan.ok, false);
    assert.match(!orphan.ok ? orphan.message : '', /consumes "a", which no plugin produces/);
  });
});
