// The EPP's gRPC health service (GIE `cmd/epp/runner/health.go`, v1.5.0): `liveness` is SERVING whenever the process answers;
// `readiness`, `envoy.service.ext_proc.v3.ExternalProcessor` and "" are SERVING only while the
// supplied readiness predicate holds (datastore synced and, with leader election, leader). The
// predicate is polled on a short interval and can be re-evaluated on demand, so a proxy or kubelet
// sees a replica flip within about one interval. Unknown service names get NOT_FOUND from Check
// (the standard gRPC health semantics; Watch reports SERVICE_UNKNOWN).
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from '../observability/logger.js';
import { EXT_PROC_SERVICE_NAME } from '../protocol/keys.js';

export const LIVENESS_SERVICE = 'liveness';
export const READINESS_SERVICE = 'readiness';
/** Service names whose status follows readiness. */
export const READINESS_SERVICES: readonly string[] = [READINESS_SERVICE, EXT_PROC_SERVICE_NAME, ''];

export interface EppHealthOptions {
  readonly isReady: () => boolean;
  /** Poll interval of isReady, ms (default 1000). */
  readonly intervalMs?: number;
  readonly logger: Logger;
}

export class EppHealth {
  readonly implementation: HealthImplementation;
  private timer: NodeJS.Timeout | undefined;
  private ready = false;
  private shuttingDown = false;

  constructor(private readonly opts: EppHealthOptions) {
    const initial: Record<string, ServingStatus> = { [LIVENESS_SERVICE]: 'SERVING' };
    for (const s of READINESS_SERVICES) initial[s] = 'NOT_SERVING';
    this.implementation = new HealthImplementation(initial);
  }

  /** Evaluates readiness now and starts polling. */
  start(): void {
    this.refresh();
    if (this.timer || this.shuttingDown) return;
    this.timer = setInterval(() => this.refresh(), this.opts.intervalMs ?? 1000);
    // Health polling must never keep a stopping process alive.
    this.timer.unref();
  }

  /** Re-evaluates the predicate and publishes a change; returns the current readiness. */
  refresh(): boolean {
    if (this.shuttingDown) return false;
    let ready: boolean;
    try {
      ready = this.opts.isReady() === true;
    } catch (err) {
      this.opts.logger.warn({ err }, 'readiness check threw; reporting NOT_SERVING');
      ready = false;
    }
    if (ready !== this.ready) {
      this.ready = ready;
      this.publish(ready ? 'SERVING' : 'NOT_SERVING');
      this.opts.logger.info({ ready }, ready ? 'EPP ready: health SERVING' : 'EPP not ready: health NOT_SERVING');
    }
    return ready;
  }

  /** Shutdown begins: stop taking traffic (readiness NOT_SERVING for good), stay live. */
  setShuttingDown(): void {
    this.shuttingDown = true;
    this.stop();
    this.ready = false;
    this.publish('NOT_SERVING');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private publish(status: ServingStatus): void {
    for (const s of READINESS_SERVICES) this.implementation.setStatus(s, status);
  }
}
