// Go duration strings ("200ms", "2s", "1m30s", "1.5h", "-3us"), as time.ParseDuration and the
// Kubernetes metav1.Duration used by GIE's config accept them, so config values written for the
// Go EPP mean the same here. Returns milliseconds (fractional for sub-ms units).

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

// Go's maximum duration (int64 nanoseconds) in milliseconds.
const MAX_MS = 9_223_372_036_854.775;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/** Parses a Go duration string. Errors are values, phrased for config messages. */
export function parseGoDuration(text: string): DurationResult {
  const bad = (why: string): DurationResult => ({ ok: false, message: `invalid duration ${JSON.stringify(text)}: ${why}` });
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ms: 0 };
  if (s === '') return bad('empty');
  let total = 0;
  while (s.length > 0) {
    const num = /^([0-9]*)(?:\.([0-9]*))?/.exec(s);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (whole === '' && (frac === undefined || frac === '')) return bad('expected a number');
    s = s.slice(num![0].length);
    const unit = /^[^0-9.]+/.exec(s)?.[0];
    if (unit === undefined) return bad('missing unit (use ns, us, ms, s, m or h)');
    const scale = UNIT_MS[unit];
    if (scale === undefined) return bad(`unknown unit ${JSON.stringify(unit)} (use ns, us, ms, s, m or h)`);
    s = s.slice(unit.length);
    total += Number(`${whole === '' ? '0' : whole}.${frac ?? ''}0`) * scale;
    if (total > MAX_MS) return bad('out of range');
  }
  return { ok: true, ms: sign * total };
}

/** Formats milliseconds the way Go prints a duration's main unit (for logs and docs). */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  if (Math.abs(ms) < 1) return `${+(ms * 1000).toPrecision(6)}µs`;
  if (Math.abs(ms) < 1000) return `${+ms.toPrecision(6)}ms`;
  return `${+(ms / 1000).toPrecision(9)}s`;
}

/**
 * A non-negative duration parameter in ms: a Go duration string, or a bare number of ms (YAML
 * authors reach for numbers). Undefined when malformed or negative.
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const d = parseGoDuration(input.trim());
  return d.ok && d.ms >= 0 ? d.ms : undefined;
}
