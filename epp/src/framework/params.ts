// Shared zod building blocks for plugin `parameters`, so every plugin reports bad values with
// the same wording (e.g. "expected a positive integer") and the config loader can prefix the
// field path. Defaults are GIE's; each plugin file says where its defaults come from.
import { z } from 'zod';
import { parseGoDuration } from './duration.js';

export const POSITIVE_INTEGER = 'expected a positive integer';
export const NON_NEGATIVE_INTEGER = 'expected a non-negative integer';
export const NON_NEGATIVE_NUMBER = 'expected a non-negative number';

/** An integer ≥ 1 with a default. YAML strings ("2") are rejected, as Go's JSON decoding does. */
export function positiveInt(defaultValue: number) {
  return z
    .number({ error: POSITIVE_INTEGER })
    .int({ error: POSITIVE_INTEGER })
    .positive({ error: POSITIVE_INTEGER })
    .default(defaultValue);
}

/** An integer ≥ 0 with a default. */
export function nonNegativeInt(defaultValue: number) {
  return z
    .number({ error: NON_NEGATIVE_INTEGER })
    .int({ error: NON_NEGATIVE_INTEGER })
    .nonnegative({ error: NON_NEGATIVE_INTEGER })
    .default(defaultValue);
}

/** A finite number ≥ 0 with a default. */
export function nonNegativeNumber(defaultValue: number) {
  return z
    .number({ error: NON_NEGATIVE_NUMBER })
    .finite({ error: NON_NEGATIVE_NUMBER })
    .nonnegative({ error: NON_NEGATIVE_NUMBER })
    .default(defaultValue);
}

/** Parameters of a plugin that takes none: `{}` (or absent); any key is an error. */
export const noParameters = z.strictObject({});

/** GIE's common picker default (picker/common.go: DefaultMaxNumOfEndpoints = 1). */
export const DEFAULT_MAX_NUM_OF_ENDPOINTS = 1;

/** `{ maxNumOfEndpoints }`, shared by every picker. */
export const pickerParameters = z.strictObject({
  maxNumOfEndpoints: positiveInt(DEFAULT_MAX_NUM_OF_ENDPOINTS),
});
export type PickerParameters = z.output<typeof pickerParameters>;

/**
 * A duration parameter in ms: a Go duration string ("100ms", "2s"), or a number of nanoseconds as
 * Go's json.Unmarshal reads a time.Duration (llm-d's samples write some durations that way).
 */
export function duration(defaultText: string) {
  const error = 'expected a Go duration string such as "100ms" (or nanoseconds)';
  return z
    .union([z.string(), z.number()], { error })
    .default(defaultText)
    .transform((v, ctx) => {
      if (typeof v === 'number') {
        if (Number.isFinite(v) && v >= 0) return v / 1e6;
        ctx.addIssue({ code: 'custom', message: `${error}, got ${v}` });
        return z.NEVER;
      }
      const r = parseGoDuration(v);
      if (!r.ok || r.ms < 0) {
        ctx.addIssue({ code: 'custom', message: `expected a Go duration string such as "100ms", got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return r.ms;
    });
}
