// Shape of an EndpointPickerConfig document, section by section (GIE v1.5.0
// apix/config/v1alpha1/endpointpickerconfig_types.go), as strict zod schemas: an unknown key
// anywhere is an error, as with GIE's strict decoder. Each section is checked on its own so one
// bad section does not hide errors in another. Plugin `parameters` are checked later against
// the plugin type's own schema. `profileSelection` is a tokenroute extension.
import { z } from 'zod';
import { parseGoDuration } from '../framework/duration.js';

/** Top-level keys: GIE's, plus tokenroute's `profileSelection`. */
export const ROOT_KEYS = [
  'apiVersion',
  'kind',
  'featureGates',
  'plugins',
  'schedulingProfiles',
  'saturationDetector',
  'dataLayer',
  'flowControl',
  'parser',
  'profileSelection',
] as const;

const required = (expected: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? 'required' : `expected ${expected}`;

/** A non-empty string; "required" when missing. */
export const nonEmptyString = () =>
  z.string({ error: required('a string') }).min(1, { error: 'must not be empty' });

export const pluginSpecSchema = z.strictObject({
  name: z.string({ error: 'expected a string' }).min(1, { error: 'must not be empty' }).optional(),
  type: nonEmptyString(),
  // Checked against the plugin type's schema by the loader (must be a mapping or absent).
  parameters: z.unknown().optional(),
});
export type PluginSpec = z.output<typeof pluginSpecSchema>;

export const schedulingPluginSchema = z.strictObject({
  pluginRef: nonEmptyString(),
  weight: z.number({ error: 'expected a number' }).finite({ error: 'expected a finite number' }).optional(),
});

export const schedulingProfileSchema = z.strictObject({
  name: nonEmptyString(),
  plugins: z.array(schedulingPluginSchema, { error: 'expected a list' }).nullish(),
});
export type SchedulingProfileConfig = z.output<typeof schedulingProfileSchema>;

export const saturationDetectorSchema = z.strictObject({
  pluginRef: z.string({ error: 'expected a string' }).optional(),
});

export const parserSchema = z.strictObject({
  pluginRef: nonEmptyString(),
});

export const dataLayerSchema = z.strictObject({
  sources: z
    .array(
      z.strictObject({
        pluginRef: nonEmptyString(),
        extractors: z.array(z.strictObject({ pluginRef: nonEmptyString() }), { error: 'expected a list' }).nullish(),
      }),
      { error: 'expected a list' },
    )
    .nullish(),
});
export type DataLayerConfig = z.output<typeof dataLayerSchema>;

// Kubernetes resource.Quantity: a number, or a string such as "100", "1k", "500M", "1Gi", "1e3";
// validated and read here, once, into a number.
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const QUANTITY_ERROR = 'expected a Kubernetes quantity such as 100, "1k" or "1Gi"';
const QUANTITY_SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
export const quantity = z.union(
  [
    z.number().nonnegative({ error: QUANTITY_ERROR }),
    z
      .string()
      .regex(QUANTITY, { error: QUANTITY_ERROR })
      .transform((q) => {
        const [, digits, suffix = ''] = QUANTITY.exec(q) as RegExpExecArray;
        return /^[eE]/.test(suffix) && suffix.length > 1 ? Number(digits + suffix) : Number(digits) * (QUANTITY_SUFFIX[suffix] ?? 1);
      }),
  ],
  { error: QUANTITY_ERROR },
);

/** A Go duration string, read into ms (a negative one counts as 0). */
const goDuration = z.string({ error: 'expected a Go duration string such as "30s"' }).transform((text, ctx) => {
  const parsed = parseGoDuration(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  }
  return Math.max(0, parsed.ms);
});

const priorityBandSchema = z.strictObject({
  priority: z.number({ error: required('an integer') }).int({ error: 'expected an integer' }),
  maxBytes: quantity.optional(),
  maxRequests: quantity.optional(),
  fairnessPolicyRef: z.string({ error: 'expected a string' }).optional(),
  orderingPolicyRef: z.string({ error: 'expected a string' }).optional(),
});

/** llm-d's router's FlowControlConfig (apix/config/v1alpha1 endpointpickerconfig_types.go). */
export const flowControlSchema = z.strictObject({
  maxBytes: quantity.optional(),
  maxRequests: quantity.optional(),
  defaultRequestTTL: goDuration.optional(),
  noEndpointRequestTTL: goDuration.optional(),
  defaultPriorityBand: priorityBandSchema.partial({ priority: true }).optional(),
  defaultNegativePriorityBand: priorityBandSchema.partial({ priority: true }).optional(),
  priorityBands: z.array(priorityBandSchema, { error: 'expected a list' }).optional(),
  usageLimitPolicyPluginRef: z.string({ error: 'expected a string' }).optional(),
  /** tokenroute extension: per-tenant request/token rates (a flow-rate-limit-policy plugin). */
  rateLimitPolicyPluginRef: z.string({ error: 'expected a string' }).optional(),
  saturationDetector: z.strictObject({ pluginRef: z.string({ error: 'expected a string' }).optional() }).optional(),
  enableEviction: z.boolean({ error: 'expected true or false' }).optional(),
});
export type FlowControlConfig = z.output<typeof flowControlSchema>;
export type PriorityBandConfig = z.output<typeof priorityBandSchema>;

/** tokenroute extension: which profile a request runs, by route (see docs/configuration.md). */
export const profileSelectionSchema = z.strictObject({
  default: nonEmptyString().optional(),
  routes: z
    .array(z.strictObject({ route: nonEmptyString(), profile: nonEmptyString() }), { error: 'expected a list' })
    .optional(),
});
export type ProfileSelectionConfig = z.output<typeof profileSelectionSchema>;

export const featureGatesSchema = z.array(z.string({ error: 'expected a string' }), { error: 'expected a list of strings' });
