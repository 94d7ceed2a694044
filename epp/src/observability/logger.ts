// Structured JSON logs (pino). One root logger per process; modules take child loggers with a
// `component` field so a line says where it came from.
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { app: 'tokenroute' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything; for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Logs a given key at most once per `intervalMs`, counting what it suppressed, so a flood of
 * bad input (a broken scrape target, a malformed frame) cannot flood the log.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  /** Returns the number of suppressed occurrences to report, or -1 if this one must be suppressed. */
  admit(key: string): number {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return -1;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    if (this.last.size > 10_000) this.last.delete(this.last.keys().next().value as string);
    return suppressed;
  }
}
