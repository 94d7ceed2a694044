// Flag value parsers shared by the `tokenroute` subcommands (commander argParsers): each returns
// the parsed value or throws commander's InvalidArgumentError, which tokenroute.ts reports with
// TR_ERR_CLI_INVALID_ARGUMENT.
import { InvalidArgumentError } from 'commander';
import { parseGoDuration } from '../epp/src/framework/duration.js';

/** `--flag`, `--flag true|1`, `--flag false|0` (Go's flag package accepts the same). */
export function boolFlag(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new InvalidArgumentError('expected true or false');
}

/** A Go duration ("50ms", "1m30s"), in milliseconds. */
export function duration(value: string): number {
  const d = parseGoDuration(value);
  if (!d.ok) throw new InvalidArgumentError(d.message);
  return d.ms;
}

/** A Go duration that must be longer than zero, in milliseconds. */
export function positiveDuration(value: string): number {
  const ms = duration(value);
  if (!(ms > 0)) throw new InvalidArgumentError('expected a positive duration');
  return ms;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}
