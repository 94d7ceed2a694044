// Logging. The gateway takes the caller's pino logger (the CLI's, or a child of a test's) and
// never creates a configured one itself; without one it is silent.
import { pino, type Logger } from 'pino';

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Warnings at most once a second (with the number suppressed), so a down EPP cannot flood the log. */
export class RateLimitedWarn {
  private last = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    this.logger.warn({ ...fields, suppressed: this.suppressed }, msg);
    this.suppressed = 0;
  }
}
