// Durations as EndpointPickerConfig writes them. GIE parameters are Go durations ("200ms",
// "1.5s", "1m30s"), so configs written for the Go EPP must keep working; a bare number is
// accepted as milliseconds because YAML authors reach for it.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds for a Go duration string or a number of ms; undefined when malformed or negative. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const s = input.trim();
  if (s === '0') return 0;
  if (s.length === 0 || s.startsWith('-')) return undefined;
  let i = s.startsWith('+') ? 1 : 0;
  if (i === s.length) return undefined;
  let total = 0;
  while (i < s.length) {
    PART.lastIndex = i;
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    i = PART.lastIndex;
  }
  return total;
}
