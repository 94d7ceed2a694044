// BodyAccumulator: the preallocated path, the content-length-lied fallback, the limit, and the
// no-copy single-chunk case.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { BodyAccumulator, BodyTooLargeError, parseContentLength } from '../../../epp/src/extproc/body.js';

describe('BodyAccumulator', () => {
  it('copies chunks into one preallocated buffer when content-length is known', () => {
    const acc = new BodyAccumulator(1000, 10);
    const a = Buffer.from('hello');
    acc.append(a);
    acc.append(Buffer.from('world'));
    const out = acc.finish();
    assert.equal(out.toString(), 'helloworld');
    a.fill(0);
    assert.equal(out.toString(), 'helloworld', 'the result does not alias the gRPC frames');
  });

  it('falls back to concatenation when more arrives than content-length announced', () => {
    const acc = new BodyAccumulator(1000, 4);
    acc.append(Buffer.from('abc'));
    acc.append(Buffer.from('defg'));
    acc.append(Buffer.from('h'));
    assert.equal(acc.finish().toString(), 'abcdefgh');
  });

  it('returns only the received bytes when less arrives than announced', () => {
    const acc = new BodyAccumulator(1000, 10);
    acc.append(Buffer.from('abc'));
    assert.equal(acc.finish().toString(), 'abc');
  });

  it('returns a single chunk without copying and concatenates several', () => {
    const one = Buffer.from('only');
    const acc = new BodyAccumulator(100);
    acc.append(one);
    assert.equal(acc.finish(), one);
    const acc2 = new BodyAccumulator(100);
    acc2.append(Buffer.from('a'));
    acc2.append(new Uint8Array([98]));
    assert.equal(acc2.finish().toString(), 'ab');
    assert.equal(new BodyAccumulator(100).finish().length, 0);
  });

  it('enforces the size limit, counting across chunks', () => {
    const acc = new BodyAccumulator(10);
    acc.append(Buffer.alloc(6));
    assert.throws(() => acc.append(Buffer.alloc(5)), BodyTooLargeError);
    // An announced length over the limit must not preallocate (or bypass the limit).
    const big = new BodyAccumulator(10, 1_000_000);
    assert.throws(() => big.append(Buffer.alloc(11)), /exceeds the maximum of 10 bytes/);
  });

  it('parses content-length strictly', () => {
    assert.equal(parseContentLength('123'), 123);
    assert.equal(parseContentLength('0'), 0);
    assert.equal(parseContentLength(undefined), undefined);
    assert.equal(parseContentLength('-1'), undefined);
    assert.equal(parseContentLength('1e3x'), undefined);
    assert.equal(parseContentLength('99999999999999999999'), undefined);
  });
});
