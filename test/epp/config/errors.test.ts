// Field paths in config errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, fieldMessage, formatPath, zodIssueMessages } from '../../../epp/src/config/errors.js';

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
    assert.deepEqual(zodIssueMessages(['plugins', 0, 'parameters'], r.error.issues).sort(), [
      'plugins[0].parameters.a: expected a number',
      'plugins[0].parameters.b: unknown field',
      'plugins[0].parameters.c: unknown field',
    ]);
  });

  it('list every error in the message', () => {
    const e = new ConfigError(['a: x', 'b: y']);
    assert.equal(e.name, 'ConfigError');
    assert.deepEqual(e.errors, ['a: x', 'b: y']);
    assert.equal(e.messages, e.errors);
    assert.match(e.message, /2 errors[\s\S]*a: x[\s\S]*b: y/);
  });
});
