// Loads an EndpointPickerConfig (YAML from --config-file / --config-text, or the built-in
// default) into live plugin instances: validates it strictly, applies GIE v1.5.0's defaulting
// rules (pkg/epp/config/loader/{configloader,defaults,validation}.go, v1.5.0; docs/configuration.md) and
// builds the scheduling profiles, profile handler, saturation detector, parser and data-layer
// wiring. Every problem is collected and thrown together as one ConfigError whose messages
// name the offending field. Works with whatever plugin types the given registry holds.
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import {
  isFilter,
  isPicker,
  isPrepareDataPlugin,
  isPreRequestPlugin,
  isReferencingPlugin,
  type PrepareDataPlugin,
  isProfileHandler,
  isSaturationDetector,
  isScorer,
  type Filter,
  type Picker,
  type Plugin,
  type ProfileHandler,
  type SaturationDetector,
  type SchedulerProfileSpec,
  type Scorer,
} from '../framework/plugins.js';
import type { PluginContext, PluginRegistry } from '../framework/registry.js';
import { isProfileSelectionAware } from '../scheduling/plugins/single-profile-handler.js';
import { DISAGG_PROFILE_HANDLER_TYPE } from '../scheduling/plugins/disagg-profile-handler.js';
import { PD_PROFILE_HANDLER_TYPE } from '../scheduling/plugins/pd-profile-handler.js';
import { DISAGG_HEADERS_HANDLER_TYPE } from '../scheduling/plugins/disagg-headers-handler.js';
import { isRequestParser, type RequestParser } from '../requestcontrol/parser.js';
import { orderPrepareData } from '../requestcontrol/prepare-data-order.js';
import { isPrefixKeyConsumer, isTokenProducer, TOKEN_PRODUCER_TYPE, type PrefixKeyConsumer, type TokenProducer } from '../prefix/token-producer.js';
import { ConfigError, configIssue, fieldMessage, zodIssues, type ConfigIssue, type FieldPath } from './errors.js';
import { planFlowControl, type FlowControlPlan } from './flow-control.js';
import { ERRORS, type ErrorDefinition } from '../framework/error-catalogue.js';
import {
  CONFIG_API_VERSIONS,
  CONFIG_KIND,
  DEFAULT_CONFIG_YAML,
  DEFAULT_DATA_SOURCE_TYPE,
  DEFAULT_METRICS_EXTRACTOR_TYPE,
  DEFAULT_PARSER_TYPE,
  DEFAULT_PICKER_TYPE,
  DEFAULT_PROFILE_HANDLER_TYPE,
  DEFAULT_PROFILE_NAME,
  DEFAULT_SATURATION_DETECTOR_TYPE,
  DEFAULT_SCORER_WEIGHT,
  FEATURE_GATES,
  type FeatureGate,
} from './defaults.js';
import {
  ROOT_KEYS,
  dataLayerSchema,
  featureGatesSchema,
  flowControlSchema,
  parserSchema,
  pluginSpecSchema,
  profileSelectionSchema,
  saturationDetectorSchema,
  schedulingProfileSchema,
  type FlowControlConfig,
  type SchedulingProfileConfig,
} from './schema.js';

export interface DataLayerSourceSpec {
  readonly plugin: Plugin;
  readonly extractors: readonly Plugin[];
}

export interface DataLayerSpec {
  /** Empty when the config disables metrics collection (`dataLayer: {sources: []}`). */
  readonly sources: readonly DataLayerSourceSpec[];
}

/** tokenroute's `profileSelection` extension, resolved. */
export interface ProfileSelection {
  /** Profile run when the request names none (or one that does not exist). */
  readonly default: string | undefined;
  /** Envoy route name → profile name. */
  readonly routes: ReadonlyMap<string, string>;
}

export interface LoadedConfig {
  /** Every plugin instance by name, in declaration order, then the ones the loader added. */
  readonly plugins: ReadonlyMap<string, Plugin>;
  readonly profiles: ReadonlyMap<string, SchedulerProfileSpec>;
  readonly profileHandler: ProfileHandler;
  readonly saturationDetector: SaturationDetector;
  readonly parser: RequestParser;
  /** The PrepareData plugins in the order they run: producers before their consumers. */
  readonly prepareData: readonly PrepareDataPlugin[];
  /** The resolved data layer (GIE's default pair under the enableLegacyMetrics gate). */
  readonly dataLayer: DataLayerSpec | undefined;
  /** Flow control as the section configures it; undefined while the flowControl gate is off. */
  readonly flowControl: FlowControlPlan | undefined;
  readonly featureGates: ReadonlySet<FeatureGate>;
  readonly profileSelection: ProfileSelection;
  /** True when no config was given and DEFAULT_CONFIG_YAML was used. */
  readonly usedDefaultConfig: boolean;
  /** Non-fatal findings; each was also logged at warn level. */
  readonly warnings: readonly string[];
}

/** The profile `routeName` selects, if profileSelection.routes maps it. */
export function profileForRoute(selection: ProfileSelection, routeName: string | undefined): string | undefined {
  return routeName === undefined ? undefined : selection.routes.get(routeName);
}

interface Declared {
  readonly index: number;
  readonly type: string;
}

type Ref = { readonly path: FieldPath; readonly name: string };

/**
 * Loads `yamlText` (undefined or blank: the built-in default config) into live plugins.
 * Throws ConfigError listing every problem found.
 */
export function loadEndpointPickerConfig(yamlText: string | undefined, registry: PluginRegistry, ctx: PluginContext): LoadedConfig {
  const usedDefaultConfig = yamlText === undefined || yamlText.trim() === '';
  const loader = new Loader(registry, ctx);
  const config = loader.load(usedDefaultConfig ? DEFAULT_CONFIG_YAML : yamlText!, usedDefaultConfig);
  if (loader.errors.length > 0 || !config) throw new ConfigError(loader.errors);
  const log = ctx.logger.child({ component: 'config' });
  if (usedDefaultConfig) log.info('no EndpointPickerConfig given; using the built-in default');
  for (const w of loader.warnings) log.warn(w);
  return config;
}

class Loader {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: string[] = [];
  /** Every name declared in plugins[] (even when its plugin could not be built). */
  private readonly declared = new Map<string, Declared>();
  /** Instances by name: declared ones that built, then the ones added by defaulting. */
  private readonly instances = new Map<string, Plugin>();
  /** Every profile name the config defines (or the defaulted one), even those that failed to build. */
  private readonly profileNames = new Set<string>();

  constructor(
    private readonly registry: PluginRegistry,
    private readonly ctx: PluginContext,
  ) {}

  load(text: string, isDefault: boolean): LoadedConfig | undefined {
    const root = this.parseYaml(text, isDefault);
    if (root === undefined) return undefined;

    // Root shape.
    for (const key of Object.keys(root)) {
      if (!(ROOT_KEYS as readonly string[]).includes(key)) this.error(ERRORS.CONFIG_UNKNOWN_FIELD, [key], 'unknown field');
    }
    if (!CONFIG_API_VERSIONS.includes(root.apiVersion as string)) {
      const expected = CONFIG_API_VERSIONS.map((v) => JSON.stringify(v)).join(' or ');
      this.error(ERRORS.CONFIG_API_VERSION, ['apiVersion'], root.apiVersion === undefined ? `required, expected ${expected}` : `expected ${expected}, got ${JSON.stringify(root.apiVersion)}`);
    }
    if (root.kind !== CONFIG_KIND) {
      this.error(ERRORS.CONFIG_API_VERSION, ['kind'], root.kind === undefined ? `required, expected "${CONFIG_KIND}"` : `expected "${CONFIG_KIND}", got ${JSON.stringify(root.kind)}`);
    }

    const featureGates = this.featureGates(root.featureGates);
    this.plugins(root.plugins);
    this.wireKeyProducers();
    const prepareData = this.orderPrepareData();
    const profileConfigs = this.profileConfigs(root.schedulingProfiles);
    const selectionConfig = this.section(['profileSelection'], profileSelectionSchema, root.profileSelection);
    const saturationConfig = this.section(['saturationDetector'], saturationDetectorSchema, root.saturationDetector);
    const parserConfig = this.section(['parser'], parserSchema, root.parser);
    const dataLayerConfig = this.section(['dataLayer'], dataLayerSchema, root.dataLayer);
    const flowControl = this.section(['flowControl'], flowControlSchema, root.flowControl);

    const profiles = this.buildProfiles(profileConfigs);
    const profileHandler = this.buildProfileHandler(profiles, selectionConfig !== undefined);
    this.resolveReferences();
    if (profileHandler) this.addDisaggHeaders(profileHandler);
    const profileSelection = this.buildProfileSelection(selectionConfig, profiles, profileHandler);
    const saturationDetector = this.buildSaturationDetector(saturationConfig?.pluginRef);
    const parser = this.buildParser(parserConfig?.pluginRef);
    const dataLayer = this.buildDataLayer(root.dataLayer !== undefined && root.dataLayer !== null, dataLayerConfig, featureGates);
    const flowControlPlan = saturationDetector ? this.buildFlowControl(flowControl, featureGates, saturationDetector) : undefined;

    if (this.errors.length > 0 || !profileHandler || !saturationDetector || !parser || !profiles) {
      if (this.errors.length === 0) this.errors.push(configIssue(ERRORS.CONFIG_PROFILE, [], 'config: could not build the scheduler (no profile handler, saturation detector or parser)'));
      return undefined;
    }
    return {
      plugins: this.instances,
      profiles,
      profileHandler,
      saturationDetector,
      parser,
      prepareData,
      dataLayer,
      flowControl: flowControlPlan,
      featureGates,
      profileSelection,
      usedDefaultConfig: isDefault,
      warnings: this.warnings,
    };
  }

  // ---------------------------------------------------------------- parsing

  private parseYaml(text: string, isDefault: boolean): Record<string, unknown> | undefined {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) this.errors.push(configIssue(ERRORS.CONFIG_YAML, [], `YAML: ${e.message.split('\n')[0]}`));
      return undefined;
    }
    for (const w of doc.warnings) this.warnings.push(`YAML: ${w.message.split('\n')[0]}`);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      this.errors.push(configIssue(ERRORS.CONFIG_YAML, [], `YAML: ${err instanceof Error ? err.message : String(err)}`));
      return undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.errors.push(configIssue(ERRORS.CONFIG_YAML, [], `${isDefault ? 'built-in default config' : 'config'}: expected a YAML mapping with apiVersion, kind, plugins, ...`));
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  /** Validates an optional section; null/absent → undefined. Errors are recorded. */
  private section<S extends z.ZodType>(path: FieldPath, schema: S, value: unknown): z.output<S> | undefined {
    if (value === undefined || value === null) return undefined;
    const r = schema.safeParse(value);
    if (!r.success) {
      this.errors.push(...zodIssues(path, r.error.issues));
      return undefined;
    }
    return r.data;
  }

  private featureGates(value: unknown): Set<FeatureGate> {
    const gates = new Set<FeatureGate>();
    const list = this.section(['featureGates'], featureGatesSchema, value);
    list?.forEach((gate, i) => {
      if ((FEATURE_GATES as readonly string[]).includes(gate)) gates.add(gate as FeatureGate);
      else this.error(ERRORS.CONFIG_UNKNOWN_FEATURE_GATE, ['featureGates', i], `unknown feature gate ${JSON.stringify(gate)} (known: ${FEATURE_GATES.join(', ')})`);
    });
    if (gates.has('dataLayer')) this.warnings.push('featureGates: dataLayer is always on; the gate has no effect');
    if (gates.has('prepareDataPlugins')) this.warnings.push('featureGates: prepareDataPlugins is always on; the gate has no effect');
    return gates;
  }

  // ---------------------------------------------------------------- plugins

  private plugins(value: unknown): void {
    if (value === undefined || value === null) return;
    if (!Array.isArray(value)) {
      this.error(ERRORS.CONFIG_INVALID_VALUE, ['plugins'], 'expected a list');
      return;
    }
    value.forEach((item, i) => {
      const path: FieldPath = ['plugins', i];
      const r = pluginSpecSchema.safeParse(item);
      if (!r.success) {
        this.errors.push(...zodIssues(path, r.error.issues));
        // Still reserve the name, so references to it do not add "undefined plugin" noise.
        const raw = item as { name?: unknown; type?: unknown } | null;
        const name = typeof raw?.name === 'string' && raw.name !== '' ? raw.name : typeof raw?.type === 'string' ? raw.type : undefined;
        if (name !== undefined && !this.declared.has(name)) this.declared.set(name, { index: i, type: String(raw?.type) });
        return;
      }
      const spec = r.data;
      const name = spec.name ?? spec.type;
      const earlier = this.declared.get(name);
      if (earlier) {
        this.error(ERRORS.CONFIG_DUPLICATE_NAME, [...path, 'name'], `duplicate plugin name ${JSON.stringify(name)} (also plugins[${earlier.index}])${spec.name === undefined ? '; the name defaults to the type, so give each instance a name' : ''}`);
        return;
      }
      this.declared.set(name, { index: i, type: spec.type });
      const pluginType = this.registry.get(spec.type);
      if (!pluginType) {
        this.error(ERRORS.CONFIG_UNKNOWN_PLUGIN_TYPE, [...path, 'type'], `unknown plugin type ${JSON.stringify(spec.type)} (known: ${this.registry.typeNames().join(', ')})`);
        return;
      }
      const alias = this.registry.aliasOf(spec.type);
      if (alias) this.warn([...path, 'type'], `${JSON.stringify(spec.type)} is read as ${JSON.stringify(alias.type)} (${alias.note})`);
      const rawParams = spec.parameters ?? {};
      if (rawParams === null || typeof rawParams !== 'object' || Array.isArray(rawParams)) {
        this.error(ERRORS.CONFIG_INVALID_VALUE, [...path, 'parameters'], 'expected a mapping');
        return;
      }
      const params = this.parameters(pluginType.parameters, rawParams as Record<string, unknown>, [...path, 'parameters']);
      if (!params.success) {
        this.errors.push(...zodIssues([...path, 'parameters'], params.error.issues));
        return;
      }
      const plugin = this.create(path, pluginType.type, name, params.data);
      if (plugin) this.instances.set(name, plugin);
    });
  }

  /**
   * Connects every prefix-key consumer (the prefix scorers) to a token-producer: the one the
   * consumer names, else the only one declared, else an implicit one built from the consumer's
   * own key-source parameters (consumers with the same ones share it), as GIE's loader
   * auto-creates the producer a prefix scorer needs (pkg/epp/config/loader/configloader.go, v1.5.0).
   */
  private wireKeyProducers(): void {
    const all = [...this.instances.values()];
    const consumers = all.filter(isPrefixKeyConsumer);
    if (consumers.length === 0) return;
    const declared = all.filter(isTokenProducer);
    const implicit = new Map<string, TokenProducer>();
    for (const consumer of consumers) {
      const at = this.pathOf(consumer.name);
      let producer: TokenProducer | undefined;
      if (consumer.tokenProducerName !== undefined) {
        const named = this.instances.get(consumer.tokenProducerName);
        if (!named || !isTokenProducer(named)) {
          if (!named && this.declared.has(consumer.tokenProducerName)) continue; // failed to build: reported
          this.error(ERRORS.CONFIG_DATA_DEPENDENCIES, [...at, 'parameters', 'tokenProducerName'], `${JSON.stringify(consumer.tokenProducerName)} is not a ${TOKEN_PRODUCER_TYPE} plugin`);
          continue;
        }
        producer = named;
      } else if (declared.length === 1) {
        producer = declared[0];
      } else if (declared.length > 1) {
        this.error(ERRORS.CONFIG_DATA_DEPENDENCIES, [...at, 'parameters'], `several ${TOKEN_PRODUCER_TYPE} plugins (${declared.map((d) => d.name).join(', ')}): set tokenProducerName`);
        continue;
      } else {
        producer = this.implicitProducer(consumer, implicit);
        if (!producer) continue;
      }
      if (producer.implicitFor === undefined && consumer.keySources !== undefined) {
        this.warn([...at, 'parameters'], `${Object.keys(consumer.keySources).join(', ')} ignored: ${TOKEN_PRODUCER_TYPE} ${JSON.stringify(producer.name)} produces the block keys (set them there)`);
      }
      producer.subscribe(consumer);
    }
  }

  private implicitProducer(consumer: PrefixKeyConsumer, made: Map<string, TokenProducer>): TokenProducer | undefined {
    const sources = consumer.keySources ?? {};
    const key = JSON.stringify(sources);
    const have = made.get(key);
    if (have) {
      have.implicitFor += `, ${consumer.name}`;
      return have;
    }
    const pluginType = this.registry.get(TOKEN_PRODUCER_TYPE);
    const at = this.pathOf(consumer.name);
    if (!pluginType) {
      this.error(ERRORS.CONFIG_DEFAULTS, at, `needs a ${TOKEN_PRODUCER_TYPE}, which is not registered`);
      return undefined;
    }
    const params = pluginType.parameters.safeParse(sources);
    if (!params.success) {
      this.errors.push(...zodIssues([...at, 'parameters'], params.error.issues));
      return undefined;
    }
    let name = TOKEN_PRODUCER_TYPE;
    for (let i = 2; this.declared.has(name) || this.instances.has(name); i++) name = `${TOKEN_PRODUCER_TYPE}-${i}`;
    const plugin = this.create(at, TOKEN_PRODUCER_TYPE, name, params.data);
    if (!plugin || !isTokenProducer(plugin)) return undefined;
    plugin.implicitFor = consumer.name;
    this.instances.set(name, plugin);
    made.set(key, plugin);
    return plugin;
  }

  /** Lets plugins resolve the plugin and profile names their parameters give (deciders, profiles). */
  private resolveReferences(): void {
    const lookup = { plugin: (name: string) => this.instances.get(name), profiles: this.profileNames as ReadonlySet<string> };
    for (const p of [...this.instances.values()].filter(isReferencingPlugin)) {
      for (const issue of p.resolveReferences(lookup)) {
        if (issue.kind === 'undefined' && issue.name !== undefined && this.declared.has(issue.name)) continue; // failed to build: reported
        const code = issue.kind === 'undefined' ? ERRORS.CONFIG_UNDEFINED_REFERENCE : ERRORS.CONFIG_WRONG_PLUGIN_KIND;
        this.error(code, [...this.pathOf(p.name), 'parameters', ...issue.path], issue.message);
      }
    }
  }

  /**
   * A disaggregating profile handler needs the prefill endpoint sent to the decode side: llm-d
   * v0.7 configs declare disagg-headers-handler for that, llm-d-router sets the headers without
   * it; here it is added when missing.
   */
  private addDisaggHeaders(handler: ProfileHandler): void {
    if (handler.type !== DISAGG_PROFILE_HANDLER_TYPE && handler.type !== PD_PROFILE_HANDLER_TYPE) return;
    if ([...this.instances.values()].some((p) => p.type === DISAGG_HEADERS_HANDLER_TYPE)) return;
    this.addDefault(DISAGG_HEADERS_HANDLER_TYPE, this.pathOf(handler.name), 'pre-request plugin', isPreRequestPlugin);
  }

  /** The PrepareData plugins, producers before consumers; a cycle or an orphan consumer is an error. */
  private orderPrepareData(): PrepareDataPlugin[] {
    const plugins = [...this.instances.values()].filter(isPrepareDataPlugin);
    const r = orderPrepareData(plugins);
    if (r.ok) return [...r.order];
    this.error(ERRORS.CONFIG_DATA_DEPENDENCIES, ['plugins'], r.message);
    return plugins;
  }

  /** plugins[i] of a declared name, or the name itself for one the loader added. */
  private pathOf(name: string): FieldPath {
    const d = this.declared.get(name);
    return d ? ['plugins', d.index] : [name];
  }

  /**
   * Validates plugin parameters. Keys a plugin does not know are warnings, not errors: GIE's and
   * llm-d's factories decode parameters with Go's json.Unmarshal, which ignores them, and a
   * config that starts there must start here (each ignored key is named in a warning, so a typo
   * is still visible). Wrong types and values of known keys stay errors.
   */
  private parameters(schema: z.ZodType, raw: Record<string, unknown>, at: FieldPath): ReturnType<z.ZodType['safeParse']> {
    const first = schema.safeParse(raw);
    if (first.success) return first;
    const unknown = first.error.issues.filter((i) => i.code === 'unrecognized_keys');
    if (unknown.length === 0) return first;
    const stripped = structuredClone(raw);
    for (const issue of unknown) {
      let obj: unknown = stripped;
      for (const k of issue.path) obj = (obj as Record<PropertyKey, unknown> | undefined)?.[k as string];
      if (obj === null || typeof obj !== 'object') continue;
      for (const key of (issue as { keys: string[] }).keys) {
        delete (obj as Record<string, unknown>)[key];
        this.warn([...at, ...(issue.path as (string | number)[]), key], 'unknown parameter, ignored (as the Go EPP ignores it); check its spelling');
      }
    }
    return schema.safeParse(stripped);
  }

  private create(path: FieldPath, type: string, name: string, params: unknown): Plugin | undefined {
    const pluginType = this.registry.get(type);
    if (!pluginType) {
      this.error(ERRORS.CONFIG_UNKNOWN_PLUGIN_TYPE, path, `plugin type ${JSON.stringify(type)} is not registered`);
      return undefined;
    }
    try {
      return pluginType.create(name, params, this.ctx);
    } catch (err) {
      this.error(ERRORS.CONFIG_PLUGIN_CREATE, path, `cannot create plugin ${JSON.stringify(name)} (type ${type}): ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  /**
   * Instantiates a plugin the config left out (GIE registerDefaultPlugin: name = type, no
   * parameters), or reuses a plugin already declared under that name if it is of the right kind.
   */
  private addDefault(type: string, why: FieldPath, kind: string, isKind: (p: Plugin) => boolean): Plugin | undefined {
    const existing = this.instances.get(type);
    if (existing) {
      if (isKind(existing)) return existing;
      const at = this.declared.get(type);
      this.error(ERRORS.CONFIG_DEFAULTS, at ? ['plugins', at.index, 'name'] : why, `the default ${kind} would be named ${JSON.stringify(type)}, but that name is taken by a plugin of type ${existing.type}`);
      return undefined;
    }
    if (this.declared.has(type)) return undefined; // declared under that name but failed: already reported
    const pluginType = this.registry.get(type);
    if (!pluginType) {
      this.error(ERRORS.CONFIG_DEFAULTS, why, `needs the default plugin type ${JSON.stringify(type)}, which is not registered`);
      return undefined;
    }
    const params = pluginType.parameters.safeParse({});
    if (!params.success) {
      this.error(ERRORS.CONFIG_DEFAULTS, why, `default plugin ${type} cannot be created with no parameters`);
      return undefined;
    }
    const plugin = this.create(why, type, type, params.data);
    if (!plugin) return undefined;
    if (!isKind(plugin)) {
      this.error(ERRORS.CONFIG_DEFAULTS, why, `default plugin type ${type} is not a ${kind}`);
      return undefined;
    }
    this.instances.set(type, plugin);
    return plugin;
  }

  /**
   * Resolves a pluginRef. Returns undefined (after recording an error) when the name was never
   * declared; undefined silently when it was declared but failed to build.
   */
  private resolve(ref: Ref): Plugin | undefined {
    const p = this.instances.get(ref.name);
    if (p) return p;
    if (!this.declared.has(ref.name)) this.error(ERRORS.CONFIG_UNDEFINED_REFERENCE, ref.path, `references undefined plugin ${JSON.stringify(ref.name)}`);
    return undefined;
  }

  // ---------------------------------------------------------------- scheduling

  private profileConfigs(value: unknown): { config: SchedulingProfileConfig; index: number }[] | undefined {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.error(ERRORS.CONFIG_INVALID_VALUE, ['schedulingProfiles'], 'expected a list');
      return undefined;
    }
    const out: { config: SchedulingProfileConfig; index: number }[] = [];
    const seen = new Map<string, number>();
    value.forEach((item, i) => {
      const r = schedulingProfileSchema.safeParse(item);
      if (!r.success) {
        this.errors.push(...zodIssues(['schedulingProfiles', i], r.error.issues));
        return;
      }
      const earlier = seen.get(r.data.name);
      if (earlier !== undefined) {
        this.error(ERRORS.CONFIG_DUPLICATE_NAME, ['schedulingProfiles', i, 'name'], `duplicate profile name ${JSON.stringify(r.data.name)} (also schedulingProfiles[${earlier}])`);
        return;
      }
      seen.set(r.data.name, i);
      out.push({ config: r.data, index: i });
    });
    return out;
  }

  /** Profiles, with GIE's defaults: a `default` profile when none, weight 1, a picker in each. */
  private buildProfiles(configs: { config: SchedulingProfileConfig; index: number }[] | undefined): Map<string, SchedulerProfileSpec> | undefined {
    if (!configs) return undefined;
    let entries: { name: string; refs: { ref: Ref; weight: number | undefined }[] }[];
    if (configs.length === 0 && this.errorsIn('schedulingProfiles') === 0) {
      // GIE ensureSchedulingLayer: one `default` profile with every filter, scorer and picker.
      const refs: { ref: Ref; weight: number | undefined }[] = [];
      for (const [name, p] of this.instances) {
        if (isFilter(p) || isScorer(p) || isPicker(p)) {
          refs.push({ ref: { path: ['plugins', this.declared.get(name)?.index ?? 0], name }, weight: undefined });
        }
      }
      entries = [{ name: DEFAULT_PROFILE_NAME, refs }];
    } else {
      entries = configs.map(({ config, index }) => ({
        name: config.name,
        refs: (config.plugins ?? []).map((p, j) => ({
          ref: { path: ['schedulingProfiles', index, 'plugins', j, 'pluginRef'], name: p.pluginRef },
          weight: p.weight,
        })),
      }));
    }

    // GIE reuses a declared picker for profiles without one, else adds max-score-picker. (GIE
    // takes any declared picker — Go map order; tokenroute takes the first declared.)
    let defaultPicker: Picker | undefined;
    const needDefaultPicker = () => {
      if (defaultPicker) return defaultPicker;
      for (const p of this.instances.values()) {
        if (isPicker(p)) return (defaultPicker = p);
      }
      const added = this.addDefault(DEFAULT_PICKER_TYPE, ['schedulingProfiles'], 'picker', isPicker);
      if (added && isPicker(added)) defaultPicker = added;
      return defaultPicker;
    };

    const profiles = new Map<string, SchedulerProfileSpec>();
    for (const entry of entries) this.profileNames.add(entry.name);
    for (const entry of entries) {
      const filters: Filter[] = [];
      const scorers: { scorer: Scorer; weight: number }[] = [];
      let picker: Picker | undefined;
      const used = new Set<string>();
      let broken = false;
      for (const { ref, weight } of entry.refs) {
        if (used.has(ref.name)) {
          this.error(ERRORS.CONFIG_PROFILE, ref.path, `plugin ${JSON.stringify(ref.name)} is referenced twice in profile ${JSON.stringify(entry.name)}`);
          continue;
        }
        used.add(ref.name);
        const p = this.resolve(ref);
        if (!p) {
          broken = true;
          continue;
        }
        if (!isFilter(p) && !isScorer(p) && !isPicker(p)) {
          this.error(ERRORS.CONFIG_WRONG_PLUGIN_KIND, ref.path, `plugin ${JSON.stringify(ref.name)} (type ${p.type}) is not a filter, scorer or picker`);
          continue;
        }
        if (isScorer(p)) {
          const w = weight ?? DEFAULT_SCORER_WEIGHT;
          if (w < 0) this.warn(ref.path, `negative weight ${w}: the scorer penalises what it normally favours`);
          scorers.push({ scorer: p, weight: w });
        } else if (weight !== undefined) {
          this.warn(ref.path, `weight is ignored: plugin ${JSON.stringify(ref.name)} (type ${p.type}) is not a scorer`);
        }
        if (isFilter(p)) filters.push(p);
        if (isPicker(p)) {
          if (picker) {
            this.error(ERRORS.CONFIG_PROFILE, ref.path, `profile ${JSON.stringify(entry.name)} already has picker ${JSON.stringify(picker.name)}; a profile has one picker`);
          } else picker = p;
        }
      }
      if (!picker) picker = needDefaultPicker();
      if (!picker) broken = true;
      if (!broken) profiles.set(entry.name, Object.freeze({ name: entry.name, filters, scorers, picker: picker! }));
    }
    return profiles;
  }

  private buildProfileHandler(profiles: Map<string, SchedulerProfileSpec> | undefined, hasSelection: boolean): ProfileHandler | undefined {
    const handlers = [...this.instances.values()].filter(isProfileHandler);
    if (handlers.length > 1) {
      const second = this.declared.get(handlers[1].name)?.index ?? 0;
      this.error(ERRORS.CONFIG_PROFILE, ['plugins', second], `more than one profile handler (${handlers.map((h) => JSON.stringify(h.name)).join(', ')}); only one is allowed`);
      return undefined;
    }
    if (handlers.length === 1) return handlers[0];
    const count = this.profileNames.size;
    if (count === 1 || hasSelection) {
      const added = this.addDefault(DEFAULT_PROFILE_HANDLER_TYPE, ['plugins'], 'profile handler', isProfileHandler);
      return added && isProfileHandler(added) ? added : undefined;
    }
    if (profiles && this.errorsIn('schedulingProfiles') === 0) {
      this.error(ERRORS.CONFIG_PROFILE, ['schedulingProfiles'], `${count} profiles need a profile handler: declare one in plugins (e.g. single-profile-handler with profileSelection.default)`);
    }
    return undefined;
  }

  private buildProfileSelection(
    config: z.output<typeof profileSelectionSchema> | undefined,
    profiles: Map<string, SchedulerProfileSpec> | undefined,
    handler: ProfileHandler | undefined,
  ): ProfileSelection {
    const routes = new Map<string, string>();
    const known = (name: string) => !profiles || this.profileNames.has(name);
    if (config?.default !== undefined && !known(config.default)) {
      this.error(ERRORS.CONFIG_UNDEFINED_REFERENCE, ['profileSelection', 'default'], `references undefined profile ${JSON.stringify(config.default)}`);
    }
    config?.routes?.forEach((r, i) => {
      if (routes.has(r.route)) this.error(ERRORS.CONFIG_DUPLICATE_NAME, ['profileSelection', 'routes', i, 'route'], `duplicate route ${JSON.stringify(r.route)}`);
      if (!known(r.profile)) this.error(ERRORS.CONFIG_UNDEFINED_REFERENCE, ['profileSelection', 'routes', i, 'profile'], `references undefined profile ${JSON.stringify(r.profile)}`);
      routes.set(r.route, r.profile);
    });
    const selection: ProfileSelection = { default: config?.default, routes };
    if (handler && profiles) {
      const count = this.profileNames.size;
      if (handler.type === DEFAULT_PROFILE_HANDLER_TYPE && count > 1 && selection.default === undefined) {
        this.error(
          ERRORS.CONFIG_PROFILE,
          ['profileSelection', 'default'],
          `required: single-profile-handler runs one profile per request, and with ${count} profiles it needs a default for requests whose route selects none`,
        );
      }
      if (isProfileSelectionAware(handler)) handler.setDefaultProfile(selection.default);
      else if (selection.default !== undefined) {
        this.warn(['profileSelection', 'default'], `ignored: profile handler ${JSON.stringify(handler.name)} (type ${handler.type}) chooses profiles itself`);
      }
    }
    return selection;
  }

  // ---------------------------------------------------------------- other sections

  private buildSaturationDetector(pluginRef: string | undefined): SaturationDetector | undefined {
    const name = pluginRef || DEFAULT_SATURATION_DETECTOR_TYPE;
    const path: FieldPath = ['saturationDetector', 'pluginRef'];
    let p: Plugin | undefined;
    if (!this.instances.has(name) && !this.declared.has(name) && name === DEFAULT_SATURATION_DETECTOR_TYPE) {
      p = this.addDefault(DEFAULT_SATURATION_DETECTOR_TYPE, ['saturationDetector'], 'saturation detector', isSaturationDetector);
    } else {
      p = this.resolve({ path, name });
    }
    if (!p) return undefined;
    if (!isSaturationDetector(p)) {
      this.error(ERRORS.CONFIG_WRONG_PLUGIN_KIND, path, `plugin ${JSON.stringify(name)} (type ${p.type}) is not a saturation detector`);
      return undefined;
    }
    return p;
  }

  private buildParser(pluginRef: string | undefined): RequestParser | undefined {
    const name = pluginRef ?? DEFAULT_PARSER_TYPE;
    const path: FieldPath = ['parser', 'pluginRef'];
    let p: Plugin | undefined;
    if (!this.instances.has(name) && !this.declared.has(name) && name === DEFAULT_PARSER_TYPE) {
      p = this.addDefault(DEFAULT_PARSER_TYPE, ['parser'], 'request parser', isRequestParser);
    } else {
      p = this.resolve({ path, name });
    }
    if (!p) return undefined;
    if (!isRequestParser(p)) {
      this.error(ERRORS.CONFIG_WRONG_PLUGIN_KIND, path, `plugin ${JSON.stringify(name)} (type ${p.type}) is not a request parser`);
      return undefined;
    }
    return p;
  }

  private buildDataLayer(
    given: boolean,
    config: z.output<typeof dataLayerSchema> | undefined,
    gates: ReadonlySet<FeatureGate>,
  ): DataLayerSpec | undefined {
    // GIE's enableLegacyMetrics selects its older metrics poller, which scrapes the same model-server
    // metrics: collection stays on (GIE's own test configs set the gate). Here both are one scraper,
    // so the gate means GIE's default pair, and an explicit dataLayer section is ignored as GIE does.
    const legacy = gates.has('enableLegacyMetrics');
    if (legacy && given) this.warnings.push('dataLayer: ignored because the enableLegacyMetrics feature gate is on (metrics are collected with the default metrics-data-source)');
    if (given && !legacy) {
      if (!config) return undefined; // shape errors already recorded
      const sources: DataLayerSourceSpec[] = [];
      (config.sources ?? []).forEach((s, i) => {
        const plugin = this.resolve({ path: ['dataLayer', 'sources', i, 'pluginRef'], name: s.pluginRef });
        const extractors: Plugin[] = [];
        (s.extractors ?? []).forEach((e, j) => {
          const ex = this.resolve({ path: ['dataLayer', 'sources', i, 'extractors', j, 'pluginRef'], name: e.pluginRef });
          if (ex) extractors.push(ex);
        });
        if (plugin) sources.push({ plugin, extractors });
      });
      if ((config.sources ?? []).length === 0) {
        this.warnings.push('dataLayer: no sources configured; model-server metrics collection is disabled');
      }
      return { sources };
    }
    // GIE ensureDataLayer: metrics-data-source + core-metrics-extractor.
    const anyPlugin = () => true; // data-layer plugin interfaces belong to the data layer
    const source = this.addDefault(DEFAULT_DATA_SOURCE_TYPE, ['dataLayer'], 'data source', anyPlugin);
    const extractor = this.addDefault(DEFAULT_METRICS_EXTRACTOR_TYPE, ['dataLayer'], 'metrics extractor', anyPlugin);
    if (!source || !extractor) return undefined;
    return { sources: [{ plugin: source, extractors: [extractor] }] };
  }

  private buildFlowControl(config: FlowControlConfig | undefined, gates: ReadonlySet<FeatureGate>, detector: SaturationDetector): FlowControlPlan | undefined {
    if (!gates.has('flowControl')) {
      if (config) this.warnings.push('flowControl: ignored because the flowControl feature gate is off (as in GIE)');
      return undefined;
    }
    const builtin = (name: string) => !this.instances.has(name) && !this.declared.has(name) && this.registry.get(name) !== undefined;
    return planFlowControl(config ?? {}, detector, {
      policy: <T extends Plugin>(path: FieldPath, ref: string | undefined, defaultType: string, kind: string, isKind: (p: Plugin) => p is T): T | undefined => {
        const name = ref ?? defaultType;
        const p = builtin(name) ? this.addDefault(name, path, kind, isKind) : this.resolve({ path, name });
        if (!p) return undefined;
        if (!isKind(p)) {
          this.error(ERRORS.CONFIG_WRONG_PLUGIN_KIND, path, `plugin ${JSON.stringify(name)} (type ${p.type}) is not a ${kind}`);
          return undefined;
        }
        return p;
      },
      detector: (path, ref) => {
        const p = builtin(ref) ? this.addDefault(ref, path, 'saturation detector', isSaturationDetector) : this.resolve({ path, name: ref });
        if (p && !isSaturationDetector(p)) {
          this.error(ERRORS.CONFIG_WRONG_PLUGIN_KIND, path, `plugin ${JSON.stringify(ref)} (type ${p.type}) is not a saturation detector`);
          return undefined;
        }
        return p;
      },
      error: (definition, path, text) => this.error(definition, path, text),
      warn: (path, text) => this.warn(path, text),
    });
  }

  // ---------------------------------------------------------------- helpers

  private error(definition: ErrorDefinition, path: FieldPath, text: string): void {
    this.errors.push(configIssue(definition, path, text));
  }

  private warn(path: FieldPath, text: string): void {
    this.warnings.push(fieldMessage(path, text));
  }

  private errorsIn(prefix: string): number {
    return this.errors.filter((e) => e.message.startsWith(prefix)).length;
  }
}
