// Unit tests of Go-duration parsing for data-layer parameters.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parseDuration } from '../../../epp/src/framework/duration.js';

test('Go duration strings and plain milliseconds', () => {
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(parseDuration('200ms'), 200);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('500us'), 0.5);
  assert.equal(parseDuration('250µs'), 0.25);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration(' 2s '), 2000);
  assert.equal(parseDuration(750), 750);
});

test('malformed or negative durations are rejected', () => {
  for (const bad of ['', 's', '1', '10 s', '-1s', '1d', '1s2', 'abc', '+']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(parseDuration(-5), undefined);
  assert.equal(parseDuration(Number.NaN), undefined);
});
