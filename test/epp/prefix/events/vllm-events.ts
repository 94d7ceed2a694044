// Test helper: vLLM KV-event payloads as vLLM's msgspec encoder writes them (EventBatch
// [ts, events, dp_rank], events as tagged positional arrays), or in the named-field map format
// (vLLM PR #42892), encoded with @msgpack/msgpack. Used by the unit tests and, over a real ZeroMQ
// PUB socket, by the dial-mode and sequence-gap integration tests.
import { encode } from '@msgpack/msgpack';

export type Hash = bigint | number | Uint8Array;

export interface Stored {
  hashes: Hash[];
  parent?: Hash | null;
  tokens: number[];
  blockSize: number;
  medium?: string;
  loraName?: string | null;
}

export type Ev = { stored: Stored } | { removed: Hash[]; medium?: string } | { cleared: true };

function positional(e: Ev): unknown {
  if ('stored' in e) {
    const s = e.stored;
    return ['BlockStored', s.hashes, s.parent ?? null, s.tokens, s.blockSize, null, s.medium ?? 'GPU', s.loraName ?? null, null];
  }
  if ('removed' in e) return ['BlockRemoved', e.removed, e.medium ?? 'GPU'];
  return ['AllBlocksCleared'];
}

function mapped(e: Ev): unknown {
  if ('stored' in e) {
    const s = e.stored;
    return {
      type: 'BlockStored',
      block_hashes: s.hashes,
      parent_block_hash: s.parent ?? null,
      token_ids: s.tokens,
      block_size: s.blockSize,
      medium: s.medium ?? 'GPU',
      lora_name: s.loraName ?? null,
    };
  }
  if ('removed' in e) return { type: 'BlockRemoved', block_hashes: e.removed, medium: e.medium ?? 'GPU' };
  return { type: 'AllBlocksCleared' };
}

export function eventBatch(events: Ev[], format: 'array' | 'map' = 'array'): Uint8Array {
  const list = events.map(format === 'array' ? positional : mapped);
  return encode([Date.now() / 1000, list, 0], { useBigInt64: true });
}

export function seqFrame(seq: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
}

/** `hash` as 32 big-endian bytes (vLLM's bytes hashes) whose low 64 bits are `low`. */
export function bytesHash(low: bigint): Uint8Array {
  const b = Buffer.alloc(32, 0xab);
  b.writeBigUInt64BE(low, 24);
  return new Uint8Array(b);
}
