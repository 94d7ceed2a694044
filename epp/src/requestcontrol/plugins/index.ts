// The built-in request-lifecycle plugins, always on, in the order they see each event:
// admission (sheddable requests shed while saturated; with the flowControl gate, the flow-control
// queue instead), in-flight load, per-request metrics (which counts response bytes as the model
// server sent them), then the model-name restore (which rewrites them).
import type { Logger } from 'pino';
import type { Datastore } from '../../datastore/datastore.js';
import type { Plugin, SaturationDetector } from '../../framework/plugins.js';
import type { EppMetrics } from '../../observability/metrics.js';
import { RequestLifecycle } from '../lifecycle.js';
import { InflightLoad } from './inflight-load.js';
import { ModelNameRestore } from './model-name-restore.js';
import { RequestMetrics } from './request-metrics.js';
import { SheddableAdmission } from './sheddable-admission.js';
import { FlowControlAdmission } from './flow-control-admission.js';
import type { FlowController } from '../../flowcontrol/controller.js';

export interface LifecycleDeps {
  readonly datastore: Datastore;
  readonly metrics: EppMetrics;
  readonly saturationDetector: SaturationDetector;
  /** Present when the flowControl feature gate is on: admission queues instead of shedding. */
  readonly flowController?: FlowController;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** The request lifecycle: the built-in plugins first, then the config's plugins that implement a point. */
export function requestLifecycle(deps: LifecycleDeps, configPlugins: Iterable<Plugin> = []): RequestLifecycle {
  const builtin: Plugin[] = [
    deps.flowController ? new FlowControlAdmission(deps.flowController) : new SheddableAdmission(deps.saturationDetector),
    new InflightLoad(deps.datastore),
    new RequestMetrics(deps.metrics, deps.now ?? Date.now),
    new ModelNameRestore(),
  ];
  return new RequestLifecycle([...builtin, ...configPlugins], deps.logger.child({ component: 'request-lifecycle' }));
}
