// Go duration strings as time.ParseDuration reads them.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { formatDurationMs, parseGoDuration } from '../../../epp/src/framework/duration.js';

const ms = (text: string) => {
  const r = parseGoDuration(text);
  assert.ok(r.ok, `${text}: ${r.ok ? '' : r.message}`);
  return r.ms;
};

describe('parseGoDuration', () => {
  it('parses single units', () => {
    assert.equal(ms('200ms'), 200);
    assert.equal(ms('2s'), 2000);
    assert.equal(ms('3m'), 180_000);
    assert.equal(ms('1h'), 3_600_000);
    assert.equal(ms('1500us'), 1.5);
    assert.equal(ms('1500µs'), 1.5);
    assert.equal(ms('1500μs'), 1.5);
    assert.equal(ms('2000000ns'), 2);
  });

  it('parses fractions and compound durations', () => {
    assert.equal(ms('1.5s'), 1500);
    assert.equal(ms('.5s'), 500);
    assert.equal(ms('1.s'), 1000);
    assert.equal(ms('1m30s'), 90_000);
    assert.equal(ms('1h2m3.5s'), 3_723_500);
  });

  it('accepts a sign and a bare zero', () => {
    assert.equal(ms('0'), 0);
    assert.equal(ms('-1.5s'), -1500);
    assert.equal(ms('+2ms'), 2);
  });

  it('rejects malformed input with a reason', () => {
    for (const [text, why] of [
      ['', /empty/],
      ['200', /missing unit/],
      ['1x', /unknown unit "x"/],
      ['s', /expected a number/],
      ['.s', /expected a number/],
      ['1s2', /missing unit/],
      ['1 s', /unknown unit/],
      ['1e3s', /unknown unit/],
      ['999999999999h', /out of range/],
    ] as const) {
      const r = parseGoDuration(text);
      assert.equal(r.ok, false, `${JSON.stringify(text)} must be rejected`);
      if (!r.ok) assert.match(r.message, why);
    }
  });
});

describe('formatDurationMs', () => {
  it('prints the main unit', () => {
    assert.equal(formatDurationMs(200), '200ms');
    assert.equal(formatDurationMs(1500), '1.5s');
    assert.equal(formatDurationMs(0.25), '250µs');
    assert.equal(formatDurationMs(0), '0s');
  });
});
