// Config errors that name the field they are about (`plugins[2].parameters.maxNumOfEndpoints:
// expected a positive integer`), so a user can fix a config without reading our code. The loader
// collects every problem it finds and throws them together in one ConfigError.
import type { z } from 'zod';

export type FieldPath = readonly (string | number)[];

/** `['plugins', 2, 'parameters', 'x']` → `plugins[2].parameters.x`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** One message: `path: text` (just `text` at the document root). */
export function fieldMessage(path: FieldPath, text: string): string {
  const p = formatPath(path);
  return p === '' ? text : `${p}: ${text}`;
}

/** Zod issues under `prefix`, one message each (one per key for unknown-key issues). */
export function zodIssueMessages(prefix: FieldPath, issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(fieldMessage([...path, key], 'unknown field'));
    } else {
      out.push(fieldMessage(path, issue.message));
    }
  }
  return out;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Every problem found, each naming its field. */
  readonly errors: readonly string[];

  constructor(errors: readonly string[]) {
    super(`invalid EndpointPickerConfig (${errors.length} ${errors.length === 1 ? 'error' : 'errors'}):\n  - ${errors.join('\n  - ')}`);
    this.errors = errors;
  }

  /** Same list as `errors` (alias kept for callers that use this name). */
  get messages(): readonly string[] {
    return this.errors;
  }
}
