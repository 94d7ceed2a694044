// The `flowControl` section, resolved into what the FlowController runs with (issue 14), with llm-d's
// router's defaults (llm-d-router `apix/config/v1alpha1/endpointpickerconfig_types.go`,
// `pkg/epp/flowcontrol/{controller,registry}/config.go`): queue-wait budgets 60 s with and without
// endpoints ("0s" = none); no global limits unless set; a band holds at most 5,000 requests and
// 1 GB ("0" = that default); bands not listed are made from defaultPriorityBand, and negative
// priorities from defaultNegativePriorityBand when given; policies default to
// global-strict-fairness-policy, fcfs-ordering-policy and static-usage-limit-policy (created with
// their defaults when no plugin of that name is declared); flowControl.saturationDetector
// overrides the top-level one for flow control; rateLimitPolicyPluginRef (tokenroute's) adds
// per-tenant rate limits.
import type { FairnessPolicy, OrderingPolicy } from '../framework/flow-control.js';
import { isFairnessPolicy, isOrderingPolicy, isRateLimitPolicy, isUsageLimitPolicy } from '../framework/flow-control.js';
import type { Plugin, SaturationDetector } from '../framework/plugins.js';
import { ERRORS, type ErrorDefinition } from '../framework/error-catalogue.js';
import type { BandSettings, FlowControlSettings } from '../flowcontrol/controller.js';
import { FCFS_ORDERING_TYPE } from '../flowcontrol/plugins/fcfs-ordering-policy.js';
import { GLOBAL_STRICT_FAIRNESS_TYPE } from '../flowcontrol/plugins/global-strict-fairness-policy.js';
import { STATIC_USAGE_LIMIT_TYPE } from '../flowcontrol/plugins/static-usage-limit-policy.js';
import { FLOW_RATE_LIMIT_TYPE } from '../flowcontrol/plugins/flow-rate-limit-policy.js';
import type { FieldPath } from './errors.js';
import type { FlowControlConfig, PriorityBandConfig } from './schema.js';

export const DEFAULT_REQUEST_TTL_MS = 60_000;
export const DEFAULT_NO_ENDPOINT_REQUEST_TTL_MS = 60_000;
export const DEFAULT_BAND_MAX_REQUESTS = 5000;
export const DEFAULT_BAND_MAX_BYTES = 1e9;
/** While requests wait on a saturated pool, saturation is read again this often (and at every request end). */
export const SATURATION_RECHECK_MS = 10;

/** What the config loader lends the planner: plugin lookup and error reporting. */
export interface FlowControlResolver {
  /**
   * The plugin `ref` names, or — `ref` absent, or naming a built-in type no plugin is declared
   * under — that type created with its defaults; undefined (and an error reported) otherwise.
   */
  policy<T extends Plugin>(path: FieldPath, ref: string | undefined, defaultType: string, kind: string, isKind: (p: Plugin) => p is T): T | undefined;
  /** The saturation detector a pluginRef names (reported when it is not one). */
  detector(path: FieldPath, ref: string): SaturationDetector | undefined;
  error(definition: ErrorDefinition, path: FieldPath, text: string): void;
  warn(path: FieldPath, text: string): void;
}

/** Everything but the detector's recheck cadence, which the running EPP owns. */
export type FlowControlPlan = Omit<FlowControlSettings, 'recheckMs'>;

export function planFlowControl(config: FlowControlConfig, topDetector: SaturationDetector, r: FlowControlResolver): FlowControlPlan | undefined {
  let failed = false;
  const at = (...p: (string | number)[]): FieldPath => ['flowControl', ...p];

  const detectorRef = config.saturationDetector?.pluginRef;
  const detector = detectorRef ? r.detector(at('saturationDetector', 'pluginRef'), detectorRef) : topDetector;
  const usageLimit = r.policy(at('usageLimitPolicyPluginRef'), config.usageLimitPolicyPluginRef || undefined, STATIC_USAGE_LIMIT_TYPE, 'usage limit policy', isUsageLimitPolicy);
  // No default: without a reference there are no rate limits.
  const rateLimit = config.rateLimitPolicyPluginRef
    ? r.policy(at('rateLimitPolicyPluginRef'), config.rateLimitPolicyPluginRef, FLOW_RATE_LIMIT_TYPE, 'rate limit policy', isRateLimitPolicy)
    : undefined;
  if (config.rateLimitPolicyPluginRef && !rateLimit) failed = true;

  const band = (cfg: Partial<PriorityBandConfig> | undefined, path: FieldPath): BandSettings | undefined => {
    const fairness = r.policy<FairnessPolicy>([...path, 'fairnessPolicyRef'], cfg?.fairnessPolicyRef || undefined, GLOBAL_STRICT_FAIRNESS_TYPE, 'fairness policy', isFairnessPolicy);
    const ordering = r.policy<OrderingPolicy>([...path, 'orderingPolicyRef'], cfg?.orderingPolicyRef || undefined, FCFS_ORDERING_TYPE, 'ordering policy', isOrderingPolicy);
    const maxRequests = cfg?.maxRequests || DEFAULT_BAND_MAX_REQUESTS;
    const maxBytes = cfg?.maxBytes || DEFAULT_BAND_MAX_BYTES;
    if (!fairness || !ordering) return undefined;
    return { maxRequests: Math.floor(maxRequests), maxBytes, fairness, ordering };
  };

  const explicit = new Map<number, BandSettings>();
  const seen = new Map<number, number>();
  (config.priorityBands ?? []).forEach((b, i) => {
    const earlier = seen.get(b.priority);
    if (earlier !== undefined) {
      failed = true;
      r.error(ERRORS.CONFIG_DUPLICATE_NAME, at('priorityBands', i, 'priority'), `priority ${b.priority} is already configured by flowControl.priorityBands[${earlier}]`);
      return;
    }
    seen.set(b.priority, i);
    const s = band(b, at('priorityBands', i));
    if (s) explicit.set(b.priority, s);
    else failed = true;
  });
  const positive = band(config.defaultPriorityBand, at('defaultPriorityBand'));
  const negative = config.defaultNegativePriorityBand ? band(config.defaultNegativePriorityBand, at('defaultNegativePriorityBand')) : positive;
  for (const [name, value] of [['defaultPriorityBand', config.defaultPriorityBand], ['defaultNegativePriorityBand', config.defaultNegativePriorityBand]] as const) {
    if (value?.priority !== undefined) r.warn(at(name, 'priority'), 'ignored: a template band applies to every priority not listed in priorityBands');
  }

  if (failed || !detector || !usageLimit || !positive || !negative) return undefined;
  return {
    maxRequests: Math.floor(config.maxRequests ?? 0),
    maxBytes: config.maxBytes ?? 0,
    defaultRequestTtlMs: config.defaultRequestTTL ?? DEFAULT_REQUEST_TTL_MS,
    noEndpointRequestTtlMs: config.noEndpointRequestTTL ?? DEFAULT_NO_ENDPOINT_REQUEST_TTL_MS,
    band: (priority) => explicit.get(priority) ?? (priority < 0 ? negative : positive),
    usageLimit,
    ...(rateLimit ? { rateLimit } : {}),
    // llm-d's defaults: 2 revocations per decision; the grace covers a scraped detector's lag
    // (500 ms), the EPP's own in-flight count sees the freed capacity at once.
    ...(config.enableEviction ? { eviction: { maxPerDecision: 2, graceMs: detector.type === 'concurrency-detector' ? 50 : 500 } } : {}),
    detector,
  };
}
