// vLLM KV-event wire format → plain, validated events (vLLM `vllm/distributed/kv_events.py`, v0.10). A ZMQ message is three
// frames [topic, 8-byte big-endian seq, msgpack EventBatch]; EventBatch is [ts, events, dp_rank?]
// (msgspec array_like) or a map {ts, events, data_parallel_rank}. Each event is a positional array
// whose first element is its tag (BlockStored, BlockRemoved, AllBlocksCleared), or — vLLM PR
// #42892 / the simulator's --use-vllm-map-event-format — a map with the tag under `type`.
// Block hashes are `bytes | int`: an int (any msgpack width, signed or unsigned) is taken modulo
// 2^64, bytes by their last 8 bytes big-endian (llm-d's adapter rule). Anything else is counted
// and skipped; decoding never throws to the caller, and the decoder's length limits bound memory.
import { Decoder } from '@msgpack/msgpack';

export interface StoredEvent {
  readonly kind: 'stored';
  /** Engine block hashes as interleaved (lo, hi) u32 halves. */
  readonly hashes: Uint32Array;
  /** Engine hash of the parent block; undefined when none (null, absent or 0). */
  readonly parentLo?: number;
  readonly parentHi?: number;
  readonly tokens: readonly number[];
  /** block_size from the event; 0 when absent. */
  readonly blockSize: number;
  readonly loraName: string;
  /** Lower-cased medium ("gpu" when absent). */
  readonly medium: string;
}

export interface RemovedEvent {
  readonly kind: 'removed';
  readonly hashes: Uint32Array;
  readonly medium: string;
}

export interface ClearedEvent {
  readonly kind: 'cleared';
}

export type KvEvent = StoredEvent | RemovedEvent | ClearedEvent;

export type DecodeProblem = 'malformed_frame' | 'malformed_payload' | 'malformed_event' | 'unknown_tag' | 'bad_hash_type';

export interface DecodedBatch {
  readonly events: KvEvent[];
  readonly dataParallelRank: number | undefined;
  /** Problems met while decoding (counted by kind by the caller). */
  readonly problems: DecodeProblem[];
}

export interface DecodeLimits {
  /** Longest array accepted (token ids of one event, events of a batch). */
  readonly maxArrayLength?: number;
  readonly maxStrLength?: number;
  readonly maxBinLength?: number;
}

/** Splits a topic `kv@<pod>@<model>` (the model may itself contain '@'? no: split on the first two). */
export function parseTopic(topic: string): { pod: string; model: string } | undefined {
  const a = topic.indexOf('@');
  if (a < 0) return undefined;
  const b = topic.indexOf('@', a + 1);
  if (b < 0) return { pod: topic.slice(a + 1), model: '' };
  return { pod: topic.slice(a + 1, b), model: topic.slice(b + 1) };
}

/** The 8-byte big-endian sequence number, or undefined when the frame is not 8 bytes. */
export function readSeq(frame: Uint8Array): bigint | undefined {
  if (frame.length !== 8) return undefined;
  return new DataView(frame.buffer, frame.byteOffset, 8).getBigUint64(0, false);
}

const TWO64 = 1n << 64n;

/** Writes a hash into out[2i], out[2i+1]; returns false when its type is not int/bigint/bytes. */
function putHash(v: unknown, out: Uint32Array, i: number): boolean {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return false;
    if (v >= 0 && v <= 0xffffffff) {
      out[2 * i] = v;
      out[2 * i + 1] = 0;
      return true;
    }
    const b = BigInt.asUintN(64, BigInt(v));
    out[2 * i] = Number(b & 0xffffffffn);
    out[2 * i + 1] = Number(b >> 32n);
    return true;
  }
  if (typeof v === 'bigint') {
    const b = v < 0n ? (v % TWO64) + TWO64 : v & (TWO64 - 1n);
    out[2 * i] = Number(b & 0xffffffffn);
    out[2 * i + 1] = Number((b >> 32n) & 0xffffffffn);
    return true;
  }
  if (v instanceof Uint8Array) {
    if (v.length === 0) return false;
    let hi = 0;
    let lo = 0;
    const start = Math.max(0, v.length - 8);
    for (let k = start; k < v.length; k++) {
      hi = ((hi << 8) | (lo >>> 24)) >>> 0;
      lo = ((lo << 8) | v[k]) >>> 0;
    }
    out[2 * i] = lo;
    out[2 * i + 1] = hi;
    return true;
  }
  return false;
}

function hashList(v: unknown, problems: DecodeProblem[]): Uint32Array | undefined {
  if (!Array.isArray(v)) {
    problems.push('malformed_event');
    return undefined;
  }
  const out = new Uint32Array(v.length * 2);
  for (let i = 0; i < v.length; i++) {
    if (!putHash(v[i], out, i)) {
      problems.push('bad_hash_type');
      return undefined;
    }
  }
  return out;
}

function mediumOf(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v.toLowerCase() : 'gpu';
}

function isTokenList(v: unknown): v is number[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffffffff) return false;
  }
  return true;
}

interface Fields {
  tag: unknown;
  block_hashes?: unknown;
  parent_block_hash?: unknown;
  token_ids?: unknown;
  block_size?: unknown;
  medium?: unknown;
  lora_name?: unknown;
}

function fieldsOf(raw: unknown): Fields | undefined {
  if (Array.isArray(raw)) {
    const tag = raw[0];
    if (tag === 'BlockStored') {
      return { tag, block_hashes: raw[1], parent_block_hash: raw[2], token_ids: raw[3], block_size: raw[4], medium: raw[6], lora_name: raw[7] };
    }
    if (tag === 'BlockRemoved') return { tag, block_hashes: raw[1], medium: raw[2] };
    return { tag };
  }
  if (raw !== null && typeof raw === 'object' && !(raw instanceof Uint8Array)) {
    const m = raw as Record<string, unknown>;
    return { ...(m as object), tag: m.type ?? m.tag } as Fields;
  }
  return undefined;
}

function toEvent(raw: unknown, problems: DecodeProblem[]): KvEvent | undefined {
  const f = fieldsOf(raw);
  if (!f || typeof f.tag !== 'string') {
    problems.push('malformed_event');
    return undefined;
  }
  switch (f.tag) {
    case 'BlockStored': {
      const hashes = hashList(f.block_hashes, problems);
      if (!hashes) return undefined;
      const tokens = f.token_ids ?? [];
      if (!isTokenList(tokens)) {
        problems.push('malformed_event');
        return undefined;
      }
      const bs = f.block_size;
      if (bs !== undefined && bs !== null && (typeof bs !== 'number' || !Number.isInteger(bs) || bs < 0 || bs > 1 << 20)) {
        problems.push('malformed_event');
        return undefined;
      }
      let parentLo: number | undefined;
      let parentHi: number | undefined;
      if (f.parent_block_hash !== undefined && f.parent_block_hash !== null) {
        const p = new Uint32Array(2);
        if (!putHash(f.parent_block_hash, p, 0)) {
          problems.push('bad_hash_type');
          return undefined;
        }
        if (p[0] !== 0 || p[1] !== 0) {
          parentLo = p[0];
          parentHi = p[1];
        }
      }
      return {
        kind: 'stored',
        hashes,
        parentLo,
        parentHi,
        tokens,
        blockSize: typeof bs === 'number' ? bs : 0,
        loraName: typeof f.lora_name === 'string' ? f.lora_name : '',
        medium: mediumOf(f.medium),
      };
    }
    case 'BlockRemoved': {
      const hashes = hashList(f.block_hashes, problems);
      if (!hashes) return undefined;
      return { kind: 'removed', hashes, medium: mediumOf(f.medium) };
    }
    case 'AllBlocksCleared':
      return { kind: 'cleared' };
    default:
      problems.push('unknown_tag');
      return undefined;
  }
}

export class EventBatchDecoder {
  private readonly decoder: Decoder;

  constructor(limits: DecodeLimits = {}) {
    this.decoder = new Decoder({
      useBigInt64: true,
      maxArrayLength: limits.maxArrayLength ?? 1 << 20,
      maxStrLength: limits.maxStrLength ?? 1 << 16,
      maxBinLength: limits.maxBinLength ?? 1 << 16,
      maxMapLength: 64,
      maxExtLength: 0,
    });
  }

  /** Decodes one msgpack EventBatch payload. Never throws. */
  decode(payload: Uint8Array): DecodedBatch {
    const problems: DecodeProblem[] = [];
    let root: unknown;
    try {
      root = this.decoder.decode(payload);
    } catch {
      return { events: [], dataParallelRank: undefined, problems: ['malformed_payload'] };
    }
    let rawEvents: unknown;
    let rank: unknown;
    if (Array.isArray(root)) {
      rawEvents = root[1];
      rank = root[2];
    } else if (root !== null && typeof root === 'object' && !(root instanceof Uint8Array)) {
      const m = root as Record<string, unknown>;
      rawEvents = m.events;
      rank = m.data_parallel_rank;
    }
    if (!Array.isArray(rawEvents)) return { events: [], dataParallelRank: undefined, problems: ['malformed_payload'] };
    const events: KvEvent[] = [];
    for (const raw of rawEvents) {
      const e = toEvent(raw, problems);
      if (e) events.push(e);
    }
    return { events, dataParallelRank: typeof rank === 'number' && Number.isInteger(rank) ? rank : undefined, problems };
  }
}
