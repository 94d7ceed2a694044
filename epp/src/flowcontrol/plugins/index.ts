// The flow-control policy types tokenroute ships (issue 14), registered by config `type`.
import type { PluginRegistry } from '../../framework/registry.js';
import { edfOrderingPlugin } from './edf-ordering-policy.js';
import { fcfsOrderingPlugin } from './fcfs-ordering-policy.js';
import { globalStrictFairnessPlugin } from './global-strict-fairness-policy.js';
import { roundRobinFairnessPlugin } from './round-robin-fairness-policy.js';
import { sloDeadlineOrderingPlugin } from './slo-deadline-ordering-policy.js';
import { staticUsageLimitPlugin } from './static-usage-limit-policy.js';
import { priorityHoldbackPlugin } from './priority-holdback-policy.js';
import { softReflectiveCeilingPlugin } from './soft-reflective-ceiling-policy.js';
import { tokenFairnessPlugin } from './token-fairness-policy.js';
import { flowRateLimitPlugin } from './flow-rate-limit-policy.js';

export function registerFlowControlPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(globalStrictFairnessPlugin)
    .register(roundRobinFairnessPlugin)
    .register(tokenFairnessPlugin)
    .register(fcfsOrderingPlugin)
    .register(edfOrderingPlugin)
    .register(sloDeadlineOrderingPlugin)
    .register(staticUsageLimitPlugin)
    .register(priorityHoldbackPlugin)
    .register(softReflectiveCeilingPlugin)
    .register(flowRateLimitPlugin);
}
