// The filter's protocol primitives in AssemblyScript (filter/assembly/protocol.ts), compiled into a
// small fixture module: SHA-256 and HMAC-SHA256 against the RFC 4231 vectors and node:crypto,
// base64url against Buffer, percent-encoding against the EPP decoder's encodeModel.
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { encodeModel } from '../../../epp/src/protocol/tokenroute-headers.js';
import { compileFixture } from '../host/support.js';

interface Vectors {
  memory: WebAssembly.Memory;
  _initialize(): void;
  input(len: number): number;
  output(): number;
  reset(): void;
  sha(): number;
  hmac(): number;
  b64(): number;
  pct(): number;
}

let x: Vectors;

beforeAll(async () => {
  const module = new WebAssembly.Module(await compileFixture('protocol-vectors', 'filter'));
  const instance = new WebAssembly.Instance(module, {
    env: { proxy_log: () => 0 },
    wasi_snapshot_preview1: { random_get: () => 0 },
  });
  x = instance.exports as unknown as Vectors;
  x._initialize();
});

function call(fn: 'sha' | 'hmac' | 'b64' | 'pct', ...inputs: Uint8Array[]): Buffer {
  x.reset();
  for (const data of inputs) {
    const ptr = x.input(data.length);
    new Uint8Array(x.memory.buffer, ptr, data.length).set(data);
  }
  const n = x[fn]();
  return Buffer.from(new Uint8Array(x.memory.buffer, x.output(), n));
}

const b = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

describe('HMAC-SHA256 (RFC 4231 test cases 1-7)', () => {
  const cases: [string, Uint8Array, Uint8Array, string][] = [
    ['1', new Uint8Array(20).fill(0x0b), b('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    ['2', b('Jefe'), b('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    ['3', new Uint8Array(20).fill(0xaa), new Uint8Array(50).fill(0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
    ['4', Uint8Array.from({ length: 25 }, (_, i) => i + 1), new Uint8Array(50).fill(0xcd), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
    ['5 (truncated to 128 bits)', new Uint8Array(20).fill(0x0c), b('Test With Truncation'), 'a3b6167473100ee06e0c796c2955552b'],
    ['6', new Uint8Array(131).fill(0xaa), b('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
    [
      '7',
      new Uint8Array(131).fill(0xaa),
      b('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ];
  for (const [name, key, data, mac] of cases) {
    it(`test case ${name}`, () => {
      assert.equal(call('hmac', key, data).toString('hex').slice(0, mac.length), mac);
    });
  }

  it('matches node:crypto for random keys and messages (incl. block-boundary lengths)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), (key, msg) => {
        assert.equal(call('hmac', key, msg).toString('hex'), createHmac('sha256', key).update(msg).digest('hex'));
      }),
      { numRuns: 300 },
    );
  });
});

describe('SHA-256', () => {
  it('the FIPS 180-4 examples and padding boundaries (55, 56, 63, 64, 119 bytes)', () => {
    assert.equal(call('sha', b('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(call('sha', new Uint8Array(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (const n of [55, 56, 63, 64, 119, 1000]) {
      const data = new Uint8Array(n).fill(n);
      assert.equal(call('sha', data).toString('hex'), createHash('sha256').update(data).digest('hex'), `length ${n}`);
    }
  });
});

describe('value encodings', () => {
  it('base64url without padding equals Buffer\'s', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
        assert.equal(call('b64', data).toString('latin1'), Buffer.from(data).toString('base64url'));
      }),
      { numRuns: 300 },
    );
  });

  it('percent-encoding equals the EPP decoder\'s encodeModel (and round-trips)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const encoded = call('pct', b(s)).toString('latin1');
        assert.equal(encoded, encodeModel(s));
        assert.equal(decodeURIComponent(encoded), s);
        assert.match(encoded, /^[A-Za-z0-9\-._~:/@+%]*$/);
      }),
      { numRuns: 300 },
    );
  });
});
