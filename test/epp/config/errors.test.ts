// Field paths in config errors.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, configIssue, fieldMessage, formatPath, zodIssues } from '../../../epp/src/config/errors.js';
import { ERRORS } from '../../../epp/src/framework/error-catalogue.js';

describe('config errors', () => {
  it('format paths as YAML readers expect', () => {
    assert.equal(formatPath(['plugins', 2, 'parameters', 'maxNumOfEndpoints']), 'plugins[2].parameters.maxNumOfEndpoints');
    assert.equal(formatPath([]), '');
    assert.equal(fieldMessage([], 'oops'), 'oops');
    assert.equal(fieldMessage(['kind'], 'required'), 'kind: required');
  });

  it('turn zod issues into one message per field (one per unknown key)', () => {
    const r = z.strictObject({ a: z.number({ error: 'expected a number' }) }).safeParse({ a: 'x', b: 1, c: 2 });
    assert.ok(!r.success);
    const issues = zodIssues(['plugins', 0, 'parameters'], r.error.issues);
    assert.deepEqual(issues.map((i) => `${i.code} ${i.message}`).sort(), [
      'TR_ERR_CONFIG_INVALID_VALUE plugins[0].parameters.a: expected a number',
      'TR_ERR_CONFIG_UNKNOWN_FIELD plugins[0].parameters.b: unknown field',
      'TR_ERR_CONFIG_UNKNOWN_FIELD plugins[0].parameters.c: unknown field',
    ]);
  });

  it('list every error in the message', () => {
    const e = new ConfigError([configIssue(ERRORS.CONFIG_YAML, ['a'], 'x'), configIssue(ERRORS.CONFIG_PROFILE, ['b'], 'y')]);
    assert.equal(e.name, 'ConfigError');
    assert.deepEqual(e.errors, ['a: x', 'b: y']);
    assert.deepEqual(e.issues.map((i) => i.code), ['TR_ERR_CONFIG_YAML', 'TR_ERR_CONFIG_PROFILE']);
    assert.match(e.message, /2 errors[\s\S]*TR_ERR_CONFIG_YAML a: x[\s\S]*TR_ERR_CONFIG_PROFILE b: y/);
  });
});
