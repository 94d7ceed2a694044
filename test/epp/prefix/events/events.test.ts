// KV-event decoding (epp/src/prefix/events/events.ts): both encodings, every hash representation
// (small/large ints, negative int64, bytes), and bad input that must be counted, never thrown.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { EventBatchDecoder, parseTopic, readSeq, type StoredEvent } from '../../../../epp/src/prefix/events/events.js';
import { bytesHash, eventBatch, seqFrame } from './vllm-events.js';

const dec = new EventBatchDecoder();

function u64(halves: Uint32Array, i: number): bigint {
  return (BigInt(halves[2 * i + 1]) << 32n) | BigInt(halves[2 * i]);
}

describe('EventBatchDecoder', () => {
  for (const format of ['array', 'map'] as const) {
    it(`decodes BlockStored / BlockRemoved / AllBlocksCleared (${format} encoding)`, () => {
      const big = 0xfedcba98_76543210n;
      const payload = eventBatch(
        [
          { stored: { hashes: [big, 7, bytesHash(0x1122334455667788n)], parent: 5n, tokens: Array.from({ length: 12 }, (_, i) => i), blockSize: 4, medium: 'CPU', loraName: 'ad' } },
          { removed: [big], medium: 'GPU' },
          { cleared: true },
        ],
        format,
      );
      const r = dec.decode(payload);
      assert.deepEqual(r.problems, []);
      assert.equal(r.events.length, 3);
      const s = r.events[0] as StoredEvent;
      assert.equal(s.kind, 'stored');
      assert.equal(u64(s.hashes, 0), big);
      assert.equal(u64(s.hashes, 1), 7n);
      assert.equal(u64(s.hashes, 2), 0x1122334455667788n);
      assert.equal(s.parentLo, 5);
      assert.equal(s.parentHi, 0);
      assert.equal(s.blockSize, 4);
      assert.equal(s.medium, 'cpu');
      assert.equal(s.loraName, 'ad');
      assert.equal(r.events[1].kind, 'removed');
      assert.equal(r.events[2].kind, 'cleared');
    });
  }

  it('treats a 0 or null parent as no parent and negative int64 hashes modulo 2^64', () => {
    const r = dec.decode(
      eventBatch([
        { stored: { hashes: [-1n], parent: 0, tokens: [1, 2], blockSize: 2 } },
        { stored: { hashes: [-2], parent: null, tokens: [1, 2], blockSize: 2 } },
      ]),
    );
    const [a, b] = r.events as StoredEvent[];
    assert.equal(a.parentLo, undefined);
    assert.equal(b.parentLo, undefined);
    assert.equal(u64(a.hashes, 0), 0xffffffff_ffffffffn);
    assert.equal(u64(b.hashes, 0), 0xffffffff_fffffffen);
  });

  it('counts bad input instead of throwing', () => {
    assert.deepEqual(dec.decode(new Uint8Array([0xc1, 0xff, 0x00])).problems, ['malformed_payload']);
    assert.deepEqual(dec.decode(encode({ nope: 1 })).problems, ['malformed_payload']);
    const r = dec.decode(
      encode([
        0,
        [
          ['SomethingNew', 1, 2],
          ['BlockStored', ['not-a-hash'], null, [1], 1, null, 'GPU'],
          ['BlockStored', [1], null, [1.5], 1, null, 'GPU'],
          ['BlockRemoved', [{ x: 1 }]],
          42,
          ['BlockStored', [3], null, [9], 1, null, 'GPU'],
        ],
      ]),
    );
    assert.deepEqual(r.problems, ['unknown_tag', 'bad_hash_type', 'malformed_event', 'bad_hash_type', 'malformed_event']);
    assert.equal(r.events.length, 1);
    // an oversized array is refused by the decoder limits
    const limited = new EventBatchDecoder({ maxArrayLength: 8 });
    assert.deepEqual(limited.decode(eventBatch([{ stored: { hashes: [1], tokens: Array.from({ length: 16 }, () => 1), blockSize: 16 } }])).problems, ['malformed_payload']);
  });

  it('parses topics and sequence frames', () => {
    assert.deepEqual(parseTopic('kv@10.0.0.1:8000@Qwen/Qwen3-32B'), { pod: '10.0.0.1:8000', model: 'Qwen/Qwen3-32B' });
    assert.deepEqual(parseTopic('kv@127.0.0.2@m'), { pod: '127.0.0.2', model: 'm' });
    assert.equal(parseTopic('garbage'), undefined);
    assert.equal(readSeq(seqFrame(0x0102030405060708n)), 0x0102030405060708n);
    assert.equal(readSeq(Buffer.alloc(4)), undefined);
  });
});
