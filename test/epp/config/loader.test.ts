// EndpointPickerConfig loading: the built-in default, GIE's defaulting rules, each plugin's
// parameters through the config, the profileSelection extension, and invalid configs whose
// errors must name the offending field (all errors reported together).
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  loadEndpointPickerConfig,
  profileForRoute,
  registerBuiltinPlugins,
  type LoadedConfig,
} from '../../../epp/src/config/index.js';
import { PluginRegistry, definePlugin } from '../../../epp/src/framework/registry.js';
import type { Picker } from '../../../epp/src/framework/plugins.js';
import { Scheduler } from '../../../epp/src/scheduling/scheduler.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import type { UtilizationDetector } from '../../../epp/src/scheduling/plugins/utilization-detector.js';
import type { ConcurrencyDetector } from '../../../epp/src/scheduling/plugins/concurrency-detector.js';
import { candidates, context, registerStubDataLayer, request } from '../scheduling/helpers.js';
import { RequestState } from '../../../epp/src/framework/cycle-state.js';

const HEAD = 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\n';

function registry(): PluginRegistry {
  return registerStubDataLayer(registerBuiltinPlugins(new PluginRegistry()));
}

function load(yaml: string | undefined, reg: PluginRegistry = registry()): LoadedConfig {
  return loadEndpointPickerConfig(yaml, reg, context());
}

/** Loads `yaml`, expects a ConfigError, and checks each pattern matches one of its errors. */
function expectErrors(yaml: string, ...patterns: (string | RegExp)[]): readonly string[] {
  let caught: unknown;
  try {
    load(yaml);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  for (const p of patterns) {
    const hit = caught.errors.some((e) => (typeof p === 'string' ? e.startsWith(p) : p.test(e)));
    assert.ok(hit, `no error matches ${String(p)}; errors:\n${caught.errors.join('\n')}`);
  }
  return caught.errors;
}

function profileShape(cfg: LoadedConfig, name: string) {
  const p = cfg.profiles.get(name);
  assert.ok(p, `profile ${name} missing`);
  return {
    filters: p.filters.map((f) => f.name),
    scorers: p.scorers.map((s) => [s.scorer.name, s.weight]),
    picker: p.picker.name,
  };
}

describe('built-in default config', () => {
  for (const [label, text] of [
    ['no config', undefined],
    ['empty text', ''],
    ['blank text', '  \n'],
  ] as const) {
    it(`is used for ${label}, as GIE's loadDefaultConfig`, () => {
      const cfg = load(text);
      assert.equal(cfg.usedDefaultConfig, true);
      assert.deepEqual([...cfg.profiles.keys()], ['default']);
      assert.deepEqual(profileShape(cfg, 'default'), {
        filters: [],
        scorers: [
          ['queue-scorer', 2],
          ['kv-cache-utilization-scorer', 2],
          ['prefix-cache-scorer', 3],
        ],
        picker: 'max-score-picker',
      });
      assert.equal((cfg.profiles.get('default')!.picker as Picker & { maxNumOfEndpoints: number }).maxNumOfEndpoints, 1);
      assert.equal(cfg.profileHandler.type, 'single-profile-handler');
      assert.equal(cfg.saturationDetector.type, 'utilization-detector');
      assert.deepEqual((cfg.saturationDetector as UtilizationDetector).config, {
        queueDepthThreshold: 5,
        kvCacheUtilThreshold: 0.8,
        metricsStalenessThreshold: 200,
        headroom: 0,
      });
      assert.equal(cfg.parser.type, 'openai-parser');
      assert.equal(cfg.dataLayer?.sources.length, 1);
      assert.equal(cfg.dataLayer?.sources[0].plugin.name, 'metrics-data-source');
      assert.deepEqual(cfg.dataLayer?.sources[0].extractors.map((e) => e.name), ['core-metrics-extractor']);
      assert.equal(cfg.featureGates.size, 0);
      assert.deepEqual([...cfg.plugins.keys()], [
        'queue-scorer',
        'kv-cache-utilization-scorer',
        'prefix-cache-scorer',
        'metrics-data-source',
        'core-metrics-extractor',
        'token-producer', // implicit: the prefix scorer's key producer (as GIE auto-creates its producer)
        'max-score-picker',
        'single-profile-handler',
        'utilization-detector',
        'openai-parser',
      ]);
    });
  }

  it('is the same as loading DEFAULT_CONFIG_YAML explicitly', () => {
    const a = load(undefined);
    const b = load(DEFAULT_CONFIG_YAML);
    assert.equal(b.usedDefaultConfig, false);
    assert.deepEqual([...a.plugins.keys()], [...b.plugins.keys()]);
    assert.deepEqual(profileShape(a, 'default'), profileShape(b, 'default'));
  });

  it('needs the data-layer plugin types in the registry', () => {
    assert.throws(
      () => load(undefined, registerBuiltinPlugins(new PluginRegistry())),
      (e: unknown) => e instanceof ConfigError && e.errors.some((m) => /plugins\[3\]\.type: unknown plugin type "metrics-data-source"/.test(m)),
    );
  });
});

describe('defaulting rules (GIE pkg/epp/config/loader/defaults.go)', () => {
  it('names a plugin after its type and lets one type be instantiated twice', () => {
    const cfg = load(`${HEAD}plugins:
- type: queue-scorer
- name: queue-2
  type: queue-scorer
schedulingProfiles:
- name: p
  plugins:
  - pluginRef: queue-scorer
  - pluginRef: queue-2
    weight: 0.5
`);
    assert.deepEqual(profileShape(cfg, 'p').scorers, [
      ['queue-scorer', 1],
      ['queue-2', 0.5],
    ]);
    assert.equal(cfg.plugins.get('queue-2')?.type, 'queue-scorer');
  });

  it('creates a `default` profile with every filter, scorer and picker when no profile is given', () => {
    const cfg = load(`${HEAD}plugins:
- type: utilization-detector
  parameters: {queueDepthThreshold: 8}
- type: kv-cache-utilization-scorer
- type: random-picker
- type: queue-scorer
- type: passthrough-parser
`);
    assert.deepEqual([...cfg.profiles.keys()], ['default']);
    assert.deepEqual(profileShape(cfg, 'default'), {
      filters: ['utilization-detector'],
      scorers: [
        ['kv-cache-utilization-scorer', 1],
        ['queue-scorer', 1],
      ],
      picker: 'random-picker',
    });
    // The declared detector is also the saturation detector (same instance, its parameters).
    assert.equal(cfg.saturationDetector, cfg.plugins.get('utilization-detector'));
    assert.equal((cfg.saturationDetector as UtilizationDetector).config.queueDepthThreshold, 8);
  });

  it('appends max-score-picker to a profile without a picker when no picker is declared', () => {
    const cfg = load(`${HEAD}plugins:
- type: queue-scorer
schedulingProfiles:
- name: only
  plugins:
  - pluginRef: queue-scorer
`);
    assert.equal(profileShape(cfg, 'only').picker, 'max-score-picker');
    assert.equal(cfg.plugins.get('max-score-picker')?.type, 'max-score-picker');
  });

  it('reuses the first declared picker for profiles without one (GIE reuses a declared picker)', () => {
    const cfg = load(`${HEAD}plugins:
- type: queue-scorer
- name: top2
  type: max-score-picker
  parameters: {maxNumOfEndpoints: 2}
- type: single-profile-handler
schedulingProfiles:
- name: a
  plugins: [{pluginRef: queue-scorer}, {pluginRef: top2}]
- name: b
  plugins: [{pluginRef: queue-scorer}]
profileSelection: {default: a}
`);
    assert.equal(cfg.profiles.get('b')!.picker, cfg.plugins.get('top2'));
    assert.equal(cfg.plugins.has('max-score-picker'), false);
  });

  it('adds single-profile-handler for exactly one profile without a handler', () => {
    const cfg = load(`${HEAD}plugins: [{type: queue-scorer}]
schedulingProfiles: [{name: x, plugins: [{pluginRef: queue-scorer}]}]
`);
    assert.equal(cfg.profileHandler.name, 'single-profile-handler');
  });

  it('defaults the saturation detector to utilization-detector and the parser to openai-parser', () => {
    const cfg = load(`${HEAD}plugins: [{type: queue-scorer}]\n`);
    assert.equal(cfg.saturationDetector.type, 'utilization-detector');
    assert.equal(cfg.parser.type, 'openai-parser');
    assert.equal(cfg.parser.parsesBody, true);
  });

  it('creates openai-parser when the parser section names it without declaring it', () => {
    const cfg = load(`${HEAD}plugins: [{type: queue-scorer}]\nparser: {pluginRef: openai-parser}\n`);
    assert.equal(cfg.parser.name, 'openai-parser');
  });

  it('uses a declared saturation detector and parser', () => {
    const cfg = load(`${HEAD}plugins:
- type: queue-scorer
- name: cd
  type: concurrency-detector
  parameters: {concurrencyMode: tokens, maxTokenConcurrency: 50000, headroom: 0.1}
- type: passthrough-parser
schedulingProfiles: [{name: p, plugins: [{pluginRef: queue-scorer}]}]
saturationDetector: {pluginRef: cd}
parser: {pluginRef: passthrough-parser}
`);
    assert.equal(cfg.saturationDetector.name, 'cd');
    assert.deepEqual((cfg.saturationDetector as ConcurrencyDetector).config, {
      concurrencyMode: 'tokens',
      maxConcurrency: 100,
      maxTokenConcurrency: 50_000,
      headroom: 0.1,
    });
    assert.equal(cfg.parser.type, 'passthrough-parser');
    assert.equal(cfg.parser.parsesBody, false);
    assert.equal(cfg.plugins.has('utilization-detector'), false, 'no default detector when one is configured');
  });

  it('defaults the data layer to metrics-data-source + core-metrics-extractor, reusing declared ones', () => {
    const cfg = load(`${HEAD}plugins:
- type: queue-scorer
- type: metrics-data-source
  parameters: {scheme: https}
`);
    assert.equal(cfg.dataLayer?.sources[0].plugin, cfg.plugins.get('metrics-data-source'));
    assert.equal(cfg.dataLayer?.sources[0].extractors[0], cfg.plugins.get('core-metrics-extractor'));
  });

  it('keeps an explicit data layer, warns when it has no sources, and under enableLegacyMetrics still collects metrics (GIE\'s legacy poller)', () => {
    const explicit = load(`${HEAD}plugins:
- {name: src, type: metrics-data-source}
- {name: ex, type: core-metrics-extractor}
- type: queue-scorer
dataLayer:
  sources:
  - pluginRef: src
    extractors: [{pluginRef: ex}]
`);
    assert.deepEqual(explicit.dataLayer?.sources.map((s) => [s.plugin.name, s.extractors.map((e) => e.name)]), [['src', ['ex']]]);
    assert.equal(explicit.plugins.has('metrics-data-source'), false);

    const none = load(`${HEAD}plugins: [{type: queue-scorer}]\ndataLayer: {sources: []}\n`);
    assert.deepEqual(none.dataLayer, { sources: [] });
    assert.ok(none.warnings.some((w) => /metrics collection is disabled/.test(w)));

    const legacy = load(`${HEAD}plugins: [{type: queue-scorer}]\nfeatureGates: [enableLegacyMetrics]\n`);
    assert.deepEqual(legacy.dataLayer?.sources.map((s) => [s.plugin.type, s.extractors.map((e) => e.type)]), [['metrics-data-source', ['core-metrics-extractor']]]);
    assert.ok(legacy.featureGates.has('enableLegacyMetrics'));
    const legacyWithSection = load(`${HEAD}plugins: [{type: queue-scorer}]\nfeatureGates: [enableLegacyMetrics]\ndataLayer: {sources: []}\n`);
    assert.equal(legacyWithSection.dataLayer?.sources.length, 1, 'the section is ignored, metrics are still collected');
  });

  it('flowControl: resolves limits, budgets, bands and policies with llm-d\'s defaults', () => {
    const cfg = load(`${HEAD}plugins:
- type: queue-scorer
- {name: rr, type: round-robin-fairness-policy}
- {name: holdback, type: static-usage-limit-policy, parameters: {threshold: 0.8}}
- {name: busy, type: concurrency-detector, parameters: {maxConcurrency: 4}}
featureGates: [flowControl]
flowControl:
  maxBytes: 1Gi
  maxRequests: 1000
  defaultRequestTTL: 30s
  noEndpointRequestTTL: 0s
  usageLimitPolicyPluginRef: holdback
  saturationDetector: {pluginRef: busy}
  defaultPriorityBand: {maxBytes: "500M"}
  defaultNegativePriorityBand: {maxRequests: 10, orderingPolicyRef: edf-ordering-policy}
  priorityBands:
  - {priority: 10, maxRequests: "1k", fairnessPolicyRef: rr}
`);
    const fc = cfg.flowControl!;
    assert.ok(fc, 'the gate turns flow control on');
    assert.equal(fc.maxBytes, 2 ** 30);
    assert.equal(fc.maxRequests, 1000);
    assert.equal(fc.defaultRequestTtlMs, 30_000);
    assert.equal(fc.noEndpointRequestTtlMs, 0);
    assert.equal(fc.detector.name, 'busy');
    assert.deepEqual(fc.usageLimit.computeLimit(0.5, [0, -1]), [0.8, 0.8]);
    const top = fc.band(10);
    assert.equal(top.maxRequests, 1000);
    assert.equal(top.maxBytes, 1e9, 'a band without maxBytes gets the 1 GB default');
    assert.equal(top.fairness.name, 'rr');
    assert.equal(top.ordering.type, 'fcfs-ordering-policy');
    const other = fc.band(3);
    assert.equal(other.maxBytes, 500e6);
    assert.equal(other.maxRequests, 5000);
    assert.equal(other.fairness.type, 'global-strict-fairness-policy');
    const sheddable = fc.band(-5);
    assert.equal(sheddable.maxRequests, 10);
    assert.equal(sheddable.ordering.type, 'edf-ordering-policy');
    assert.ok(!cfg.warnings.some((w) => /not implemented/.test(w)), cfg.warnings.join('\n'));

    const defaults = load(`${HEAD}plugins: [{type: queue-scorer}]\nfeatureGates: [flowControl]\n`).flowControl!;
    assert.equal(defaults.defaultRequestTtlMs, 60_000);
    assert.equal(defaults.noEndpointRequestTtlMs, 60_000);
    assert.equal(defaults.maxRequests, 0, 'no global limit unless set');
    assert.equal(defaults.detector.type, 'utilization-detector', 'the top-level detector');
    assert.equal(defaults.band(-1).maxRequests, 5000, 'negative priorities fall back to the default band');

    assert.equal(defaults.rateLimit, undefined, 'no rate limits unless referenced');
    const limited = load(`${HEAD}plugins: [{type: queue-scorer}, {name: caps, type: flow-rate-limit-policy, parameters: {requestsPerMinute: 60}}]\nfeatureGates: [flowControl]\nflowControl: {rateLimitPolicyPluginRef: caps}\n`);
    assert.equal(limited.flowControl?.rateLimit?.name, 'caps');

    const off = load(`${HEAD}plugins: [{type: queue-scorer}]\nflowControl: {maxRequests: 5}\n`);
    assert.equal(off.flowControl, undefined);
    assert.ok(off.warnings.some((w) => /feature gate is off/.test(w)));
  });

  it('flowControl: a bad policy reference, a policy of the wrong kind or a repeated priority is refused with its field', () => {
    expectErrors(`${HEAD}plugins: [{type: queue-scorer}]
featureGates: [flowControl]
flowControl:
  usageLimitPolicyPluginRef: queue-scorer
  saturationDetector: {pluginRef: nowhere}
  priorityBands:
  - {priority: 1, fairnessPolicyRef: fcfs-ordering-policy}
  - {priority: 1}
  - {priority: 2, orderingPolicyRef: ghost}
`,
      /flowControl\.usageLimitPolicyPluginRef: plugin "queue-scorer" \(type queue-scorer\) is not a usage limit policy/,
      /flowControl\.saturationDetector\.pluginRef: references undefined plugin "nowhere"/,
      /flowControl\.priorityBands\[0\]\.fairnessPolicyRef: .*is not a fairness policy/,
      /flowControl\.priorityBands\[1\]\.priority: priority 1 is already configured by flowControl\.priorityBands\[0\]/,
      /flowControl\.priorityBands\[2\]\.orderingPolicyRef: references undefined plugin "ghost"/,
    );
    expectErrors(`${HEAD}plugins: [{type: queue-scorer}]\nfeatureGates: [flowControl]\nflowControl: {maxBytes: lots, defaultRequestTTL: soon}\n`,
      /flowControl\.maxBytes: expected a Kubernetes quantity/,
      /flowControl\.defaultRequestTTL: invalid duration "soon"/,
    );
  });
});

describe('plugin parameters through the config', () => {
  it('passes each plugin its validated parameters with GIE defaults', () => {
    const cfg = load(`${HEAD}plugins:
- type: token-load-scorer
  parameters: {queueThresholdTokens: 1000}
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 64, autoTune: false}
- type: lora-affinity-scorer
- type: running-requests-size-scorer
- {type: weighted-random-picker, parameters: {maxNumOfEndpoints: 3}}
- type: utilization-detector
  parameters: {metricsStalenessThreshold: 1m30s, headroom: 0.25, kvCacheUtilThreshold: 0.9}
schedulingProfiles:
- name: p
  plugins:
  - pluginRef: token-load-scorer
  - pluginRef: prefix-cache-scorer
  - pluginRef: lora-affinity-scorer
  - pluginRef: running-requests-size-scorer
  - pluginRef: weighted-random-picker
`);
    const picker = cfg.profiles.get('p')!.picker as Picker & { maxNumOfEndpoints: number };
    assert.equal(picker.maxNumOfEndpoints, 3);
    const prefix = cfg.plugins.get('prefix-cache-scorer') as unknown as { parameters: Record<string, unknown> };
    assert.deepEqual(prefix.parameters, {
      autoTune: false,
      blockSizeTokens: 64,
      maxPrefixBlocksToMatch: 256,
      maxPrefixTokensToMatch: 0,
      lruCapacityPerServer: 31_250,
      tokenProducerName: undefined,
      prefixMatchInfoProducerName: undefined,
      keySources: undefined,
    });
    // Key sources are the (implicit) token-producer's, with their defaults.
    const producer = cfg.plugins.get('token-producer') as unknown as { parameters: Record<string, unknown> };
    assert.deepEqual(producer.parameters, {
      models: {},
      filterHeaders: { hmacKeys: [], trustUnsigned: false, maxAgeSeconds: 300 },
      tokenizerWorkers: 1,
      tokenizeTimeout: 100,
      charFallback: true,
      digestDenseBlocks: 256,
      unboundModelName: undefined,
    });
    assert.deepEqual((cfg.saturationDetector as UtilizationDetector).config, {
      queueDepthThreshold: 5,
      kvCacheUtilThreshold: 0.9,
      metricsStalenessThreshold: 90_000,
      headroom: 0.25,
    });
    // token-load threshold 1000: 250 in-flight tokens score 0.75.
    const scorer = cfg.profiles.get('p')!.scorers[0].scorer;
    const out = new Float64Array(1);
    scorer.score(request(), candidates([{ inflightTokens: 250 }]), new RequestState(), out);
    assert.equal(out[0], 0.75);
  });

  it('registers every built-in type', () => {
    assert.deepEqual(registerBuiltinPlugins(new PluginRegistry()).typeNames(), [
      'active-request-scorer',
      'always-disagg-multimodal-decider',
      'always-disagg-pd-decider',
      'approx-prefix-cache-producer',
      'by-label',
      'concurrency-detector',
      'conditional-pd-decider',
      'context-length-aware',
      'data-parallel-profile-handler',
      'decode-filter',
      'disagg-headers-handler',
      'disagg-profile-handler',
      'edf-ordering-policy',
      'encode-filter',
      'fcfs-ordering-policy',
      'flow-rate-limit-policy',
      'global-strict-fairness-policy',
      'kv-cache-utilization-scorer',
      'label-selector-filter',
      'least-request',
      'load-aware-scorer',
      'lora-affinity-scorer',
      'max-score-picker',
      'no-hit-lru-scorer',
      'openai-parser',
      'passthrough-parser',
      'pd-profile-handler',
      'precise-prefix-cache-producer',
      'precise-prefix-cache-scorer',
      'prefill-filter',
      'prefix-based-pd-decider',
      'prefix-cache-affinity-filter',
      'prefix-cache-scorer',
      'priority-holdback-policy',
      'queue-scorer',
      'random-picker',
      'round-robin',
      'round-robin-fairness-policy',
      'running-requests-size-scorer',
      'session-affinity-filter',
      'session-affinity-scorer',
      'single-profile-handler',
      'slo-deadline-ordering-policy',
      'soft-reflective-ceiling-policy',
      'static-usage-limit-policy',
      'token-fairness-policy',
      'token-load-scorer',
      'token-producer',
      'ttft-estimate-scorer',
      'utilization-detector',
      'weighted-random-picker',
    ]);
  });
});

describe('profileSelection (tokenroute extension)', () => {
  const TWO_PROFILES = `${HEAD}plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: single-profile-handler
schedulingProfiles:
- name: interactive
  plugins:
  - {pluginRef: queue-scorer, weight: 3}
  - {pluginRef: kv-cache-utilization-scorer, weight: 1}
- name: batch
  plugins:
  - {pluginRef: queue-scorer, weight: 1}
  - {pluginRef: kv-cache-utilization-scorer, weight: 3}
profileSelection:
  default: interactive
  routes:
  - {route: chat-route, profile: interactive}
  - {route: batch-route, profile: batch}
`;

  it('maps routes to profiles and sets the handler default', () => {
    const cfg = load(TWO_PROFILES);
    assert.equal(cfg.profileSelection.default, 'interactive');
    assert.equal(profileForRoute(cfg.profileSelection, 'batch-route'), 'batch');
    assert.equal(profileForRoute(cfg.profileSelection, 'other'), undefined);
    assert.equal(profileForRoute(cfg.profileSelection, undefined), undefined);
    assert.deepEqual(profileShape(cfg, 'batch').scorers, [
      ['queue-scorer', 1],
      ['kv-cache-utilization-scorer', 3],
    ]);
  });

  it('lets the route choose the weights a request is scheduled with', () => {
    const cfg = load(TWO_PROFILES);
    const scheduler = new Scheduler({ profiles: cfg.profiles, profileHandler: cfg.profileHandler, logger: silentLogger() });
    // Endpoint 0: short queue, full KV. Endpoint 1: long queue, empty KV.
    const cands = candidates([{ waiting: 0, kv: 0.9 }, { waiting: 10, kv: 0 }]);
    const interactive = scheduler.schedule(request({ profile: profileForRoute(cfg.profileSelection, 'chat-route') }), cands);
    const batch = scheduler.schedule(request({ profile: profileForRoute(cfg.profileSelection, 'batch-route') }), cands);
    const fallback = scheduler.schedule(request(), cands);
    assert.ok(interactive.ok && batch.ok && fallback.ok);
    assert.equal(interactive.result.primaryProfile, 'interactive');
    assert.equal(interactive.targets[0], cands[0]); // 3×1 + 1×0.1 = 3.1 vs 0 + 1 = 1
    assert.equal(batch.result.primaryProfile, 'batch');
    assert.equal(batch.targets[0], cands[1]); // 1 + 3×0.1 = 1.3 vs 0 + 3 = 3
    assert.equal(fallback.result.primaryProfile, 'interactive');
  });

  it('adds single-profile-handler when profileSelection is given without a handler', () => {
    const cfg = load(TWO_PROFILES.replace('- type: single-profile-handler\n', ''));
    assert.equal(cfg.profileHandler.type, 'single-profile-handler');
  });

  it('requires a default with several profiles and single-profile-handler', () => {
    expectErrors(TWO_PROFILES.replace('  default: interactive\n', ''), 'profileSelection.default: required');
  });

  it('rejects references to unknown profiles and duplicate routes', () => {
    expectErrors(
      TWO_PROFILES.replace('default: interactive', 'default: nope').replace('profile: batch}', 'profile: gone}') +
        '  - {route: chat-route, profile: batch}\n',
      'profileSelection.default: references undefined profile "nope"',
      'profileSelection.routes[1].profile: references undefined profile "gone"',
      'profileSelection.routes[2].route: duplicate route "chat-route"',
    );
  });

  it('rejects unknown keys', () => {
    expectErrors(`${HEAD}plugins: [{type: queue-scorer}]\nprofileSelection: {fallback: x}\n`, 'profileSelection.fallback: unknown field');
  });
});

describe('invalid configs name the field', () => {
  const P = `${HEAD}plugins:\n- type: queue-scorer\n`;

  const cases: [string, string, string | RegExp][] = [
    ['wrong apiVersion', P.replace('x-k8s.io/v1alpha1', 'k8s.io/v1'), 'apiVersion: expected "inference.networking.x-k8s.io/v1alpha1" or "llm-d.ai/v1alpha1" or "llm-d.ai/v1", got "inference.networking.k8s.io/v1"'],
    ['missing kind', P.replace('kind: EndpointPickerConfig\n', ''), 'kind: required'],
    ['wrong kind', P.replace('kind: EndpointPickerConfig', 'kind: Config'), 'kind: expected "EndpointPickerConfig"'],
    ['unknown top-level key', `${P}data: {}\n`, 'data: unknown field'],
    ['unknown key in a plugin', `${HEAD}plugins:\n- type: queue-scorer\n  weight: 2\n`, 'plugins[0].weight: unknown field'],
    ['plugin without type', `${HEAD}plugins:\n- name: x\n`, 'plugins[0].type: required'],
    ['unknown plugin type', `${P}- type: magic-scorer\n`, /^plugins\[1\]\.type: unknown plugin type "magic-scorer" \(known: .*queue-scorer/],
    ['duplicate plugin name', `${P}- type: queue-scorer\n`, 'plugins[1].name: duplicate plugin name "queue-scorer" (also plugins[0])'],
    ['bad parameter value', `${P}- type: kv-cache-utilization-scorer\n- type: max-score-picker\n  parameters: {maxNumOfEndpoints: 0}\n`, 'plugins[2].parameters.maxNumOfEndpoints: expected a positive integer'],
    ['bad parameter type', `${P}- type: max-score-picker\n  parameters: {maxNumOfEndpoints: two}\n`, 'plugins[1].parameters.maxNumOfEndpoints: expected a positive integer'],
    ['parameters not a mapping', `${HEAD}plugins:\n- type: queue-scorer\n  parameters: [1]\n`, 'plugins[0].parameters: expected a mapping'],
    ['bad duration', `${P}- type: utilization-detector\n  parameters: {metricsStalenessThreshold: 200}\n`, 'plugins[1].parameters.metricsStalenessThreshold: expected a Go duration'],
    ['deprecated blockSize', `${P}- type: prefix-cache-scorer\n  parameters: {blockSize: 64}\n`, 'plugins[1].parameters.blockSize: blockSize is deprecated'],
    ['plugins not a list', `${HEAD}plugins: {type: queue-scorer}\n`, 'plugins: expected a list'],
    ['undefined pluginRef', `${P}schedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: queue-scorer\n  - pluginRef: ghost\n`, 'schedulingProfiles[0].plugins[1].pluginRef: references undefined plugin "ghost"'],
    ['profile without name', `${P}schedulingProfiles:\n- plugins: [{pluginRef: queue-scorer}]\n`, 'schedulingProfiles[0].name: required'],
    ['duplicate profile name', `${P}- type: single-profile-handler\nschedulingProfiles:\n- {name: p}\n- {name: p}\n`, 'schedulingProfiles[1].name: duplicate profile name "p"'],
    ['weight not a number', `${P}schedulingProfiles:\n- name: p\n  plugins: [{pluginRef: queue-scorer, weight: heavy}]\n`, 'schedulingProfiles[0].plugins[0].weight: expected a number'],
    ['unknown key in a profile ref', `${P}schedulingProfiles:\n- name: p\n  plugins: [{pluginRef: queue-scorer, wieght: 2}]\n`, 'schedulingProfiles[0].plugins[0].wieght: unknown field'],
    ['plugin referenced twice', `${P}schedulingProfiles:\n- name: p\n  plugins: [{pluginRef: queue-scorer}, {pluginRef: queue-scorer}]\n`, 'schedulingProfiles[0].plugins[1].pluginRef: plugin "queue-scorer" is referenced twice'],
    ['two pickers in a profile', `${P}- type: random-picker\n- type: max-score-picker\nschedulingProfiles:\n- name: p\n  plugins: [{pluginRef: random-picker}, {pluginRef: max-score-picker}]\n`, 'schedulingProfiles[0].plugins[1].pluginRef: profile "p" already has picker "random-picker"'],
    ['non-scheduling plugin in a profile', `${P}- type: passthrough-parser\nschedulingProfiles:\n- name: p\n  plugins: [{pluginRef: passthrough-parser}]\n`, 'schedulingProfiles[0].plugins[0].pluginRef: plugin "passthrough-parser" (type passthrough-parser) is not a filter, scorer or picker'],
    ['several profiles, no handler', `${P}schedulingProfiles:\n- {name: a}\n- {name: b}\n`, 'schedulingProfiles: 2 profiles need a profile handler'],
    ['several profiles, single handler, no default', `${P}- type: single-profile-handler\nschedulingProfiles:\n- {name: a}\n- {name: b}\n`, 'profileSelection.default: required'],
    ['undefined saturation detector', `${P}saturationDetector: {pluginRef: sd}\n`, 'saturationDetector.pluginRef: references undefined plugin "sd"'],
    ['saturation detector of the wrong kind', `${P}saturationDetector: {pluginRef: queue-scorer}\n`, 'saturationDetector.pluginRef: plugin "queue-scorer" (type queue-scorer) is not a saturation detector'],
    ['unknown key in saturationDetector', `${P}saturationDetector: {ref: x}\n`, 'saturationDetector.ref: unknown field'],
    ['undefined parser', `${P}parser: {pluginRef: passthrough-parser}\n`, 'parser.pluginRef: references undefined plugin "passthrough-parser"'],
    ['parser of the wrong kind', `${P}parser: {pluginRef: queue-scorer}\n`, 'parser.pluginRef: plugin "queue-scorer" (type queue-scorer) is not a request parser'],
    ['parser without pluginRef', `${P}parser: {}\n`, 'parser.pluginRef: required'],
    ['undefined data source', `${P}dataLayer:\n  sources:\n  - pluginRef: scraper\n    extractors: [{pluginRef: queue-scorer}]\n`, 'dataLayer.sources[0].pluginRef: references undefined plugin "scraper"'],
    ['undefined extractor', `${P}- type: metrics-data-source\ndataLayer:\n  sources:\n  - pluginRef: metrics-data-source\n    extractors: [{pluginRef: nope}]\n`, 'dataLayer.sources[0].extractors[0].pluginRef: references undefined plugin "nope"'],
    ['unknown key in dataLayer', `${P}dataLayer: {source: []}\n`, 'dataLayer.source: unknown field'],
    ['unknown feature gate', `${P}featureGates: [flowControl, turbo]\n`, 'featureGates[1]: unknown feature gate "turbo" (known: dataLayer, enableLegacyMetrics, flowControl, prepareDataPlugins)'],
    ['feature gates not a list', `${P}featureGates: flowControl\n`, 'featureGates: expected a list of strings'],
    ['unknown key in flowControl', `${P}flowControl: {maxQueue: 3}\n`, 'flowControl.maxQueue: unknown field'],
    ['bad flowControl TTL', `${P}flowControl: {defaultRequestTTL: soon}\n`, 'flowControl.defaultRequestTTL: invalid duration "soon"'],
    ['bad flowControl quantity', `${P}flowControl: {maxBytes: lots}\n`, 'flowControl.maxBytes: expected a Kubernetes quantity'],
    ['band without priority', `${P}flowControl: {priorityBands: [{maxRequests: 3}]}\n`, 'flowControl.priorityBands[0].priority: required'],
    ['YAML syntax error', `${HEAD}plugins: [type: queue-scorer\n`, /^YAML: /],
    ['YAML duplicate key', `${HEAD}kind: EndpointPickerConfig\nplugins: []\n`, /^YAML: .*[Mm]ap keys must be unique/],
    ['document not a mapping', '- a\n- b\n', /^config: expected a YAML mapping/],
    ['default plugin name taken', `${HEAD}plugins:\n- name: max-score-picker\n  type: queue-scorer\n`, 'plugins[0].name: the default picker would be named "max-score-picker", but that name is taken by a plugin of type queue-scorer'],
    ['default handler name taken', `${HEAD}plugins:\n- name: single-profile-handler\n  type: queue-scorer\n`, 'plugins[0].name: the default profile handler would be named "single-profile-handler"'],
  ];

  for (const [label, yaml, expected] of cases) {
    it(label, () => {
      expectErrors(yaml, expected);
    });
  }

  it('reports every error at once, not only the first', () => {
    const errors = expectErrors(
      `apiVersion: v1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
  parameters: {x: 1}
- type: nope
- type: max-score-picker
  parameters: {maxNumOfEndpoints: -1}
schedulingProfiles:
- name: p
  plugins: [{pluginRef: ghost}]
featureGates: [warp]
`,
      'apiVersion:',
      'plugins[1].type: unknown plugin type "nope"',
      'plugins[2].parameters.maxNumOfEndpoints: expected a positive integer',
      'schedulingProfiles[0].plugins[0].pluginRef: references undefined plugin "ghost"',
      'featureGates[0]: unknown feature gate "warp"',
    );
    // An unknown parameter key (plugins[0].parameters.x) is a warning, not an error.
    assert.equal(errors.length, 5, errors.join('\n'));
  });

  it('does not cascade: a reference to a plugin that failed to build is not reported again', () => {
    const errors = expectErrors(`${HEAD}plugins:
- type: max-score-picker
  parameters: {maxNumOfEndpoints: 0}
schedulingProfiles:
- name: p
  plugins: [{pluginRef: max-score-picker}]
`);
    assert.deepEqual(errors, ['plugins[0].parameters.maxNumOfEndpoints: expected a positive integer']);
  });

  it('rejects two profile handlers', () => {
    const reg = registry().register(
      definePlugin({
        type: 'other-handler',
        parameters: z.strictObject({}),
        create: (name) => ({ type: 'other-handler', name, pickProfiles: () => [], processResults: () => undefined }),
      }),
    );
    assert.throws(
      () => load(`${HEAD}plugins: [{type: queue-scorer}, {type: single-profile-handler}, {type: other-handler}]\n`, reg),
      (e: unknown) => e instanceof ConfigError && e.errors.some((m) => m.startsWith('plugins[2]: more than one profile handler')),
    );
  });

  it('reports a plugin factory that throws', () => {
    const reg = registry().register(
      definePlugin({
        type: 'broken-scorer',
        parameters: z.strictObject({}),
        create: () => {
          throw new Error('no GPU');
        },
      }),
    );
    assert.throws(
      () => load(`${HEAD}plugins: [{type: broken-scorer}]\n`, reg),
      (e: unknown) => e instanceof ConfigError && e.errors.some((m) => m === 'plugins[0]: cannot create plugin "broken-scorer" (type broken-scorer): no GPU'),
    );
  });

  it('warns about weights on non-scorers and negative weights', () => {
    const cfg = load(`${P}- type: random-picker\nschedulingProfiles:\n- name: p\n  plugins: [{pluginRef: queue-scorer, weight: -1}, {pluginRef: random-picker, weight: 2}]\n`);
    assert.ok(cfg.warnings.some((w) => w.startsWith('schedulingProfiles[0].plugins[0].pluginRef: negative weight')));
    assert.ok(cfg.warnings.some((w) => w.startsWith('schedulingProfiles[0].plugins[1].pluginRef: weight is ignored')));
  });
});
