// Types for parse-prometheus-text-format (the package ships none). Only what exposition.ts
// relies on: with comment lines stripped, every family is UNTYPED and each sample is
// `{ value, labels?, timestamp_ms? }` with the raw text of the value.
declare module 'parse-prometheus-text-format' {
  interface ParsedSample {
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
  }
  interface ParsedFamily {
    name: string;
    help: string;
    type: string;
    metrics: ParsedSample[];
  }
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
