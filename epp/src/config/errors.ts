// Config errors that name the field they are about (`plugins[2].parameters.maxNumOfEndpoints:
// expected a positive integer`), so a user can fix a config without reading our code. The loader
// collects every problem it finds and throws them together in one ConfigError.
import type { z } from 'zod';
import { ERRORS, type ErrorDefinition } from '../framework/error-catalogue.js';

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

/** One config problem: its catalogue code and its message (`path: text`). */
export interface ConfigIssue {
  readonly code: string;
  readonly message: string;
}

export function configIssue(definition: ErrorDefinition, path: FieldPath, text: string): ConfigIssue {
  return { code: definition.code, message: fieldMessage(path, text) };
}

/** Zod issues under `prefix`, one each (one per key for unknown-key issues). */
export function zodIssues(prefix: FieldPath, issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(configIssue(ERRORS.CONFIG_UNKNOWN_FIELD, [...path, key], 'unknown field'));
    } else {
      out.push(configIssue(ERRORS.CONFIG_INVALID_VALUE, path, issue.message));
    }
  }
  return out;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Every problem found, each with its catalogue code (docs/errors.md). */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid EndpointPickerConfig (${issues.length} ${issues.length === 1 ? 'error' : 'errors'}):\n  - ${issues.map(formatIssue).join('\n  - ')}`);
    this.issues = issues;
  }

  /** The messages alone, each naming its field. */
  get errors(): readonly string[] {
    return this.issues.map((i) => i.message);
  }
}

/** `TR_ERR_CONFIG_UNKNOWN_FIELD plugins[2].parameters.x: unknown field` */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.code} ${issue.message}`;
}
