// Prefill/decode disaggregation with llm-d's plugin set, through the real request path (config
// loader → director → scheduler → PreRequest) over labelled endpoints: role filters, the
// disagg-profile-handler / pd-profile-handler staged run, prefix-based-pd-decider on counted
// tokens, x-prefiller-host-port for the decode side's sidecar, llm-d's decision counters, and the
// config errors a wrong reference gives.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../../epp/src/observability/logger.js';
import { loadEndpointPickerConfig } from '../../../../epp/src/config/index.js';
import { builtinRegistry } from '../../../../epp/src/main.js';
import { selectorMatches, labelSelectorParameters } from '../../../../epp/src/scheduling/plugins/label-selector-filter.js';
import { byLabelParameters } from '../../../../epp/src/scheduling/plugins/by-label.js';
import type { Filter } from '../../../../epp/src/framework/plugins.js';
import type { Candidate } from '../../../../epp/src/framework/endpoint.js';
import type { StaticEndpointSpec } from '../../../../epp/src/datastore/static-endpoints.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';
import { CONFIG_HEADER, configErrors, pipeline, type Pipeline } from '../../prefix/keys/pipeline.js';
import { candidate, context, request } from '../helpers.js';

const ROLE = 'llm-d.ai/role';
const P1 = { address: '127.0.8.1', port: 8000, labels: { [ROLE]: 'prefill' } };
const P2 = { address: '127.0.8.2', port: 8000, labels: { [ROLE]: 'prefill' } };
const D1 = { address: '127.0.8.3', port: 8000, labels: { [ROLE]: 'decode' } };
const D2 = { address: '127.0.8.4', port: 8000, labels: { [ROLE]: 'decode' } };
const PREFILLS = new Set(['127.0.8.1:8000', '127.0.8.2:8000']);
const DECODES = new Set(['127.0.8.3:8000', '127.0.8.4:8000']);
const MODEL = 'Qwen/Qwen3-8B';

/** llm-d-inference-scheduler v0.7.1 deploy/config/sim-pd-epp-config.yaml, as its README shapes it. */
const SIM_PD = `featureGates:
- prepareDataPlugins
plugins:
- type: disagg-headers-handler
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, autoTune: false, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250}
- type: queue-scorer
- type: prefill-filter
- type: decode-filter
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 16}
- type: disagg-profile-handler
  parameters:
    deciders: {prefill: prefix-based-pd-decider}
schedulingProfiles:
- name: prefill
  plugins:
  - {pluginRef: prefill-filter}
  - {pluginRef: max-score-picker}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: queue-scorer, weight: 1}
- name: decode
  plugins:
  - {pluginRef: decode-filter}
  - {pluginRef: max-score-picker}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: queue-scorer, weight: 1}
dataLayer: {sources: []}
`;

const open: Pipeline[] = [];
afterAll(() => Promise.all(open.map((p) => p.close())));
async function make(yaml: string, endpoints: StaticEndpointSpec[] = [P1, P2, D1, D2], logger = createLogger('silent')): Promise<Pipeline> {
  const p = await pipeline(CONFIG_HEADER + yaml, endpoints, logger);
  open.push(p);
  return p;
}
function chat(system: string, question: string) {
  return { model: MODEL, messages: [{ role: 'system', content: system }, { role: 'user', content: question }] };
}
async function counter(p: Pipeline, name: string): Promise<Record<string, number>> {
  const m = await p.metrics.registry.getSingleMetric(name)?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.decision_type), v.value]));
}

describe('role filters', () => {
  const withRole = (role: string | undefined): Candidate => {
    const c = candidate();
    const labels: Record<string, string> = role === undefined ? {} : { [ROLE]: role };
    return { ...c, endpoint: { ...c.endpoint, labels } };
  };
  const roles = [undefined, 'decode', 'prefill', 'encode', 'both', 'prefill-decode', 'encode-prefill', 'encode-prefill-decode', 'other'];
  const kept = (type: string) => {
    const cfg = loadEndpointPickerConfig(CONFIG_HEADER + `plugins:\n- type: ${type}\n- type: max-score-picker\n`, builtinRegistry(), context());
    const f = cfg.plugins.get(type) as Filter;
    const cands = roles.map(withRole);
    return f.filter(request(), cands, new RequestState()).map((c) => c.endpoint.labels[ROLE] ?? '(none)');
  };

  it('keep the roles llm-d v0.7.1 lets serve each stage', () => {
    assert.deepEqual(kept('decode-filter'), ['(none)', 'decode', 'both', 'prefill-decode', 'encode-prefill-decode']);
    assert.deepEqual(kept('prefill-filter'), ['prefill', 'both', 'prefill-decode', 'encode-prefill', 'encode-prefill-decode']);
    assert.deepEqual(kept('encode-filter'), ['encode', 'encode-prefill', 'encode-prefill-decode']);
  });

  it('by-label needs a label and values or allowsNoLabel', () => {
    assert.equal(byLabelParameters.safeParse({ validValues: ['a'] }).success, false);
    const r = byLabelParameters.safeParse({ label: 'x' });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0].path, ['validValues']);
    assert.equal(byLabelParameters.safeParse({ label: 'x', allowsNoLabel: true }).success, true);
  });

  it('label-selector-filter follows Kubernetes selector semantics', () => {
    const sel = labelSelectorParameters.parse({
      matchLabels: { app: 'vllm' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['gold', 'silver'] },
        { key: 'drain', operator: 'DoesNotExist' },
        { key: 'zone', operator: 'NotIn', values: ['b'] },
      ],
    });
    assert.equal(selectorMatches(sel, { app: 'vllm', tier: 'gold' }), true);
    assert.equal(selectorMatches(sel, { app: 'vllm', tier: 'gold', zone: 'a' }), true);
    assert.equal(selectorMatches(sel, { app: 'vllm', tier: 'gold', zone: 'b' }), false);
    assert.equal(selectorMatches(sel, { app: 'vllm', tier: 'bronze' }), false);
    assert.equal(selectorMatches(sel, { app: 'vllm', tier: 'gold', drain: '' }), false);
    assert.equal(selectorMatches(labelSelectorParameters.parse({}), {}), true, 'empty selector matches everything');
    assert.equal(labelSelectorParameters.safeParse({ matchExpressions: [{ key: 'a', operator: 'In' }] }).success, false);
    assert.equal(labelSelectorParameters.safeParse({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }).success, false);
  });

  it('by-label-selector loads as label-selector-filter, with a warning', () => {
    const cfg = loadEndpointPickerConfig(CONFIG_HEADER + 'plugins:\n- type: by-label-selector\n  parameters: {matchLabels: {a: b}}\n- type: max-score-picker\n', builtinRegistry(), context());
    assert.equal(cfg.plugins.get('by-label-selector')!.type, 'label-selector-filter');
    assert.ok(cfg.warnings.some((w) => /"by-label-selector" is read as "label-selector-filter"/.test(w)));
  });
});

describe('disaggregated serving with disagg-profile-handler (llm-d sim-pd sample)', () => {
  it('sends a long uncached prompt to a decode endpoint with a prefill endpoint in x-prefiller-host-port', async () => {
    const lines: string[] = [];
    const p = await make(SIM_PD, undefined, createLogger('debug', new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) })));
    const d = await p.decide('/v1/chat/completions', chat('You are a careful assistant. '.repeat(40), 'first question'), {
      headers: { 'x-prefiller-host-port': '6.6.6.6:80' },
    });
    assert.ok(DECODES.has(d.endpoints[0]), `destination ${d.endpoints[0]} is a decode endpoint`);
    for (const e of d.endpoints) assert.ok(DECODES.has(e), 'fallbacks are decode endpoints only');
    const prefill = d.setHeaders.get('x-prefiller-host-port');
    assert.ok(prefill && PREFILLS.has(prefill), `prefill header ${prefill}`);
    assert.ok(d.removeHeaders.includes('x-prefiller-host-port'), "the client's copy is removed");
    const trace = lines.map((l) => JSON.parse(l)).find((l) => l.decision)?.decision;
    assert.equal(trace.notes.disagg, 'prefill-decode');
    assert.deepEqual(await counter(p, 'llm_d_inference_scheduler_disagg_decision_total'), { 'prefill-decode': 1 });
    const text = await p.metrics.registry.metrics();
    for (const stage of ['decode', 'prefill']) {
      assert.match(text, new RegExp(`^tokenroute_scheduler_profile_duration_seconds_count\\{profile="${stage}"\\} 1$`, 'm'), `per-stage latency of ${stage}`);
    }
  });

  it('keeps a short prompt, and a repeat whose prefix the decode endpoint holds, on the decode endpoint', async () => {
    const p = await make(SIM_PD);
    const short = await p.decide('/v1/completions', { model: MODEL, prompt: 'Say hi.' });
    assert.equal(short.setHeaders.get('x-prefiller-host-port'), undefined);
    assert.ok(DECODES.has(short.endpoints[0]));
    const system = 'Shared system prompt for the support team. '.repeat(30);
    const first = await p.decide('/v1/chat/completions', chat(system, 'question one'));
    assert.ok(first.setHeaders.get('x-prefiller-host-port'));
    const again = await p.decide('/v1/chat/completions', chat(system, 'question one'));
    assert.equal(again.endpoints[0], first.endpoints[0], 'the repeat goes where the prefix is cached');
    assert.equal(again.setHeaders.get('x-prefiller-host-port'), undefined, 'cached prompt: prefill on the decode endpoint');
    assert.deepEqual(await counter(p, 'llm_d_inference_scheduler_disagg_decision_total'), { 'decode-only': 2, 'prefill-decode': 1 });
  });

  it('counts exact tokens when the EPP tokenizer is configured (decision trace)', async () => {
    const lines: string[] = [];
    const yaml = SIM_PD.replace('- type: queue-scorer', `- type: token-producer\n  parameters: {models: {"${MODEL}": qwen3}}\n- type: queue-scorer`);
    const p = await make(yaml, undefined, createLogger('debug', new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) })));
    await p.decide('/v1/chat/completions', chat('Count me exactly, please. '.repeat(20), 'q'));
    const notes = lines.map((l) => JSON.parse(l)).find((l) => l.decision)!.decision.notes;
    assert.equal(notes.disaggTokensExact, true);
    assert.equal(notes.prefixSource, 'epp-tokenizer');
    assert.ok(notes.disaggPromptTokens > 100 && notes.disaggPromptTokens < 400, `prompt tokens ${notes.disaggPromptTokens}`);
  });

  it('decodes on an unlabelled pool without a prefill profile result (aggregated fallback)', async () => {
    const p = await make(SIM_PD, [
      { address: '127.0.8.9', port: 8000 },
      { address: '127.0.8.10', port: 8000 },
    ]);
    const d = await p.decide('/v1/chat/completions', chat('Long enough to disaggregate. '.repeat(40), 'q'));
    assert.equal(d.setHeaders.get('x-prefiller-host-port'), undefined, 'no prefill endpoint exists');
    assert.deepEqual(await counter(p, 'llm_d_inference_scheduler_disagg_decision_total'), { 'decode-only': 1 });
  });

  it('adds disagg-headers-handler when the config leaves it out (as llm-d-router does)', async () => {
    const p = await make(SIM_PD.replace('- type: disagg-headers-handler\n', ''));
    assert.ok(p.config.plugins.get('disagg-headers-handler'));
    const d = await p.decide('/v1/chat/completions', chat('Long enough to disaggregate. '.repeat(40), 'q'));
    assert.ok(PREFILLS.has(d.setHeaders.get('x-prefiller-host-port')!));
  });
});

describe('per-route P/D (profileSelection)', () => {
  it('runs a route-selected aggregated profile alone and the stages for every other route', async () => {
    const yaml = SIM_PD.replace('schedulingProfiles:\n', 'schedulingProfiles:\n- name: aggregated\n  plugins: [{pluginRef: max-score-picker}, {pluginRef: queue-scorer}]\n').replace(
      'dataLayer: {sources: []}',
      'profileSelection:\n  routes: [{route: chat-cheap, profile: aggregated}]\ndataLayer: {sources: []}',
    );
    const p = await make(yaml);
    const long = chat('Long enough to disaggregate. '.repeat(40), 'q');
    const pd = await p.decide('/v1/chat/completions', long);
    assert.ok(PREFILLS.has(pd.setHeaders.get('x-prefiller-host-port')!), 'default route: P/D');
    const other = { ...long, messages: [{ role: 'user', content: 'Another long one. '.repeat(60) }] };
    const agg = await p.decide('/v1/chat/completions', other, { route: 'chat-cheap' });
    assert.equal(agg.setHeaders.get('x-prefiller-host-port'), undefined, 'the cheap route runs the aggregated profile');
    const third = { ...long, messages: [{ role: 'user', content: 'A third long one. '.repeat(60) }] };
    assert.ok(PREFILLS.has((await p.decide('/v1/chat/completions', third, { route: 'unmapped' })).setHeaders.get('x-prefiller-host-port')!), 'an unmapped route: P/D');
  });
});

describe('E/P/D: encode stage with always-disagg-multimodal-decider', () => {
  it('sends image requests\' encoders in x-encoder-hosts-ports and text-only requests none', async () => {
    const E1 = { address: '127.0.8.21', port: 8000, labels: { [ROLE]: 'encode' } };
    const E2 = { address: '127.0.8.22', port: 8000, labels: { [ROLE]: 'encode' } };
    const yaml = SIM_PD.replace('- type: prefix-based-pd-decider', '- type: encode-filter\n- type: always-disagg-multimodal-decider\n- type: prefix-based-pd-decider')
      .replace('deciders: {prefill: prefix-based-pd-decider}', 'deciders: {prefill: prefix-based-pd-decider, encode: always-disagg-multimodal-decider}')
      .replace('schedulingProfiles:\n', 'schedulingProfiles:\n- name: encode\n  plugins: [{pluginRef: encode-filter}, {pluginRef: max-score-picker}, {pluginRef: queue-scorer}]\n');
    const p = await make(yaml, [P1, P2, D1, D2, E1, E2]);
    const image = { model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] };
    const d = await p.decide('/v1/chat/completions', image);
    assert.match(d.setHeaders.get('x-encoder-hosts-ports') ?? '', /^127\.0\.8\.2[12]:8000$/);
    assert.ok(DECODES.has(d.endpoints[0]));
    const text = await p.decide('/v1/chat/completions', chat('Be brief.', 'hi'));
    assert.equal(text.setHeaders.get('x-encoder-hosts-ports'), undefined);
  });
});

describe('conditional-pd-decider (tokenroute)', () => {
  it('disaggregates long uncached prompts only while the prefill pool has room', async () => {
    const lines: string[] = [];
    const yaml = SIM_PD.replace('- type: prefix-based-pd-decider\n  parameters: {nonCachedTokens: 16}', '- type: conditional-pd-decider\n  parameters: {minUncachedTokens: 64, maxPrefillQueue: 3}').replace(
      'prefill: prefix-based-pd-decider',
      'prefill: conditional-pd-decider',
    );
    const p = await make(yaml, undefined, createLogger('debug', new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) })));
    const setQueues = (prefillQueue: number) => {
      for (const c of p.datastore.candidates()) {
        p.datastore.updateMetrics(c.endpoint.key, { ...c.metrics, waitingRequests: PREFILLS.has(c.endpoint.key) ? prefillQueue : 0, updatedAt: Date.now() });
      }
    };
    const notes = () => lines.map((l) => JSON.parse(l)).filter((l) => l.decision).at(-1)!.decision.notes;
    setQueues(0);
    assert.equal((await p.decide('/v1/completions', { model: MODEL, prompt: 'short' })).setHeaders.get('x-prefiller-host-port'), undefined);
    assert.match(notes().disaggReason, /uncached \d+ < 64 tokens/);
    const first = await p.decide('/v1/completions', { model: MODEL, prompt: 'A long document to summarise. '.repeat(60) });
    assert.ok(PREFILLS.has(first.setHeaders.get('x-prefiller-host-port')!), 'room in the prefill pool: disaggregated');
    setQueues(5);
    const busy = await p.decide('/v1/completions', { model: MODEL, prompt: 'Another long document to summarise. '.repeat(60) });
    assert.equal(busy.setHeaders.get('x-prefiller-host-port'), undefined, 'saturated prefill pool: prefill at home');
    assert.match(notes().disaggReason, /prefill pool saturated \(best queue 5/);
    setQueues(1);
    const again = await p.decide('/v1/completions', { model: MODEL, prompt: 'A third long document to summarise. '.repeat(60) });
    assert.ok(again.setHeaders.get('x-prefiller-host-port'), 'room again: disaggregated');
  });
});

describe('pd-profile-handler and config checks', () => {
  const PD = `plugins:
- type: prefill-filter
- type: decode-filter
- type: queue-scorer
- type: always-disagg-pd-decider
- type: pd-profile-handler
  parameters: {deciderPluginName: always-disagg-pd-decider}
- type: prefill-header-handler
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: queue-scorer}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: queue-scorer}]
dataLayer: {sources: []}
`;

  it('pd-profile-handler with always-disagg-pd-decider disaggregates every request and counts pd_decision_total', async () => {
    const p = await make(PD);
    for (let i = 0; i < 3; i++) {
      const d = await p.decide('/v1/completions', { model: MODEL, prompt: `p${i}` });
      assert.ok(DECODES.has(d.endpoints[0]));
      assert.ok(PREFILLS.has(d.setHeaders.get('x-prefiller-host-port')!));
    }
    assert.deepEqual(await counter(p, 'llm_d_inference_scheduler_pd_decision_total'), { 'prefill-decode': 3 });
  });

  it('pd-profile-handler primaryPort: decode on the pod\'s primary port, the rank in x-data-parallel-host-port', async () => {
    // One decode pod with data-parallel ranks on 8001/8002 behind its primary port 8000.
    const ranks = [8001, 8002].map((port) => ({ address: '127.0.8.9', port, labels: { [ROLE]: 'decode' } }));
    const p = await make(PD.replace('{deciderPluginName: always-disagg-pd-decider}', '{deciderPluginName: always-disagg-pd-decider, primaryPort: 8000}'), [P1, ...ranks]);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const d = await p.decide('/v1/completions', { model: MODEL, prompt: `p${i}` }, { keepInflight: true });
      assert.deepEqual(d.endpoints, ['127.0.8.9:8000'], 'the proxy addresses the primary port');
      const rank = d.setHeaders.get('x-data-parallel-host-port')!;
      assert.match(rank, /^127\.0\.8\.9:800[12]$/);
      seen.add(rank);
      assert.equal(d.setHeaders.get('x-prefiller-host-port'), '127.0.8.1:8000', 'the prefill target is not rewritten');
    }
    const plain = await make(PD, [P1, ...ranks]);
    const d = await plain.decide('/v1/completions', { model: MODEL, prompt: 'x' });
    assert.match(d.endpoints[0], /^127\.0\.8\.9:800[12]$/, 'without primaryPort the rank itself is the destination');
    assert.equal(d.setHeaders.get('x-data-parallel-host-port'), undefined);
    assert.equal(configErrors(PD.replace('{deciderPluginName: always-disagg-pd-decider}', '{deciderPluginName: always-disagg-pd-decider, primaryPort: 70000}'))[0], 'plugins[4].parameters.primaryPort: must be between 1 and 65535 (or 0: off)');
  });

  it('names the field of a bad decider reference, a missing decode profile, and mixed parameter shapes', () => {
    assert.deepEqual(configErrors(SIM_PD.replace('prefill: prefix-based-pd-decider', 'prefill: nope')), [
      'plugins[7].parameters.deciders.prefill: decider plugin "nope" is not declared in plugins',
    ]);
    assert.deepEqual(configErrors(SIM_PD.replace('prefill: prefix-based-pd-decider', 'prefill: queue-scorer')), [
      'plugins[7].parameters.deciders.prefill: plugin "queue-scorer" (type queue-scorer) is not a decider',
    ]);
    assert.match(configErrors(SIM_PD.replace('- name: decode', '- name: dec'))[0], /plugins\[7\]\.parameters\.profiles\.decode: the decode profile "decode" is not defined/);
    assert.match(configErrors(SIM_PD.replace('deciders: {prefill: prefix-based-pd-decider}', 'deciders: {prefill: prefix-based-pd-decider}\n    decodeProfile: decode'))[0], /cannot mix the deprecated flat parameters/);
  });

  it('accepts llm-d apiVersions and the flat (deprecated) disagg-profile-handler shape', () => {
    const yaml = SIM_PD.replace('deciders: {prefill: prefix-based-pd-decider}', 'deciderPluginName: prefix-based-pd-decider\n    decodeProfile: decode');
    for (const v of ['llm-d.ai/v1alpha1', 'llm-d.ai/v1']) {
      const cfg = loadEndpointPickerConfig(`apiVersion: ${v}\nkind: EndpointPickerConfig\n` + yaml, builtinRegistry(), context());
      assert.equal(cfg.profileHandler.type, 'disagg-profile-handler');
    }
  });
});
