// The x-tokenroute-* request headers the proxy-wasm filter adds for the EPP (protocol version 3,
// version 2 still decoded; docs/protocol-headers.md): decoding, HMAC verification and — for tests and tools that need to
// produce what the filter produces — encoding. The filter's side is filter/assembly/protocol.ts;
// test/epp/protocol/tokenroute-headers.test.ts runs the real filter through the Node host and
// decodes its output here.
//
// Trust: the filter removes every client-sent x-tokenroute-* header before adding its own, and
// signs the values with a key shared with the EPP. A request that reached the EPP by another path
// (a route without the filter, a client talking to the pool directly) cannot produce a valid
// signature, so with a key configured the EPP only acts on verified values.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { digestPositions } from './digest.js';

export const TOKENROUTE_PROTOCOL_VERSION = '3';
/** Versions decoded: 2 (every key of the first maxBlocks blocks) and 3 (a prefix digest). */
export type TokenrouteVersion = '2' | '3';

/** The request id the signature binds (Envoy sets it on every request). */
export const REQUEST_ID_HEADER_NAME = 'x-request-id';

export const TOKENROUTE_HEADERS = {
  version: 'x-tokenroute-v',
  time: 'x-tokenroute-t',
  model: 'x-tokenroute-model',
  profile: 'x-tokenroute-profile',
  tokens: 'x-tokenroute-tokens',
  blockSize: 'x-tokenroute-block-size',
  exact: 'x-tokenroute-exact',
  digest: 'x-tokenroute-digest',
  blocks: 'x-tokenroute-blocks',
  error: 'x-tokenroute-error',
  signature: 'x-tokenroute-sig',
} as const;

/** Bytes of HMAC-SHA256 kept in the signature. */
export const SIGNATURE_BYTES = 16;

/** Why the filter gave no keys (its error kinds). */
export const TOKENROUTE_ERRORS = ['too_large', 'bad_json', 'invalid_utf8', 'bad_request', 'unknown_model', 'internal'] as const;

/** A v3 digest's grid (protocol/digest.ts): blocks keyed one by one, and the prompt's full blocks. */
export interface DigestLayout {
  readonly dense: number;
  readonly blocks: number;
}

export interface TokenrouteValues {
  /** Protocol version (default: the current one, 3). */
  readonly version?: TokenrouteVersion;
  /** Unix seconds when the filter produced the values. */
  readonly timeSeconds: number;
  /** The request's x-request-id (signed; travels in its own header, not as x-tokenroute-*). */
  readonly requestId?: string;
  /** The request's model as the filter read it from the body. */
  readonly model: string;
  /** Scheduling profile the route selected ("" = none). */
  readonly profile: string;
  /** Set when the filter tokenized the prompt. */
  readonly tokens?: number;
  readonly blockSize?: number;
  readonly exact?: boolean;
  /**
   * v2: chained block keys of the prompt's first full blocks (at most the filter's maxBlocks);
   * v3: the keys of the digest's positions.
   */
  readonly blockKeys: BigUint64Array;
  /** v3: the digest's grid. Encoding without one treats the keys as every block's. */
  readonly digest?: DigestLayout;
  /** Set instead of tokens/keys when the filter could not tokenize the request. */
  readonly error?: string;
}

export interface DecodedTokenroute extends TokenrouteValues {
  readonly version: TokenrouteVersion;
  /** Whether a signature was present and verified (false only when no key is configured). */
  readonly signed: boolean;
  /** v3: the block position of each key; absent for v2 (key i is block i). */
  readonly positions?: Uint32Array;
}

export type TokenrouteFailure =
  /** No x-tokenroute-v header: the request did not pass through the filter. */
  | 'absent'
  | 'unsupported_version'
  | 'malformed'
  /** A key is configured but the request carries no signature. */
  | 'unsigned'
  | 'bad_signature'
  /** The timestamp is further from now than maxAgeSeconds. */
  | 'stale'
  /** A signature already accepted once (a replayed header set). */
  | 'replayed';

export type TokenrouteDecodeResult =
  | { readonly ok: true; readonly value: DecodedTokenroute }
  | { readonly ok: false; readonly reason: TokenrouteFailure; readonly detail: string };

export interface TokenrouteDecoderOptions {
  /** Shared HMAC keys (several during a rotation). With none, signatures are not checked. */
  readonly keys?: readonly Uint8Array[];
  /** Reject values whose timestamp is more than this many seconds from now (default: no check). */
  readonly maxAgeSeconds?: number;
  /** Largest number of block keys accepted (default 6144: the filter's largest digest budget, 48 KiB). */
  readonly maxBlocks?: number;
  /** Clock in unix seconds (tests). */
  readonly nowSeconds?: () => number;
  /** Accepts each signature once while it is fresh (with keys and maxAgeSeconds). */
  readonly replay?: ReplayGuard;
}

/**
 * Signatures accepted within the freshness window, so each is accepted once. Bounded: entries
 * expire with the window, and past `maxEntries` the oldest go first (a flood cannot grow it).
 */
export class ReplayGuard {
  /** signature → unix second it stops being fresh; insertion order ≈ time order. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 262_144) {}

  /** Records `signature`; false when it was already accepted and is still fresh. */
  accept(signature: string, freshUntilSeconds: number, nowSeconds: number): boolean {
    for (const [sig, until] of this.seen) {
      if (until >= nowSeconds && this.seen.size < this.maxEntries) break;
      this.seen.delete(sig);
    }
    const until = this.seen.get(signature);
    if (until !== undefined && until >= nowSeconds) return false;
    this.seen.set(signature, freshUntilSeconds);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

/** Decodes a base64 (standard or URL-safe) HMAC key as both configs hold it; at least 16 bytes. */
export function parseHmacKey(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) throw new Error('hmac key: not base64');
  const key = new Uint8Array(Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
  if (key.length < 16) throw new Error('hmac key: must decode to at least 16 bytes');
  return key;
}

/** The string the signature covers (docs/protocol-headers.md "Signature"). */
export function canonicalString(v: TokenrouteValues, wire: { model: string; blocks: string; digest: string }): string {
  const ok = v.error === undefined;
  const version = v.version ?? TOKENROUTE_PROTOCOL_VERSION;
  return [
    `tokenroute/${version}`,
    String(v.timeSeconds),
    v.requestId ?? '',
    wire.model,
    v.profile,
    ok ? String(v.tokens ?? 0) : '',
    ok ? String(v.blockSize ?? 0) : '',
    ok ? (v.exact ? '1' : '0') : '',
    // v3 signs the digest's grid on its own line.
    ...(version === '2' ? [] : [ok ? wire.digest : '']),
    ok ? wire.blocks : '',
    v.error ?? '',
  ].join('\n');
}

/** x-tokenroute-digest's value for these values (v3). */
function digestValue(v: TokenrouteValues): string {
  const d = v.digest ?? { dense: Math.max(1, v.blockKeys.length), blocks: v.blockKeys.length };
  return `${d.dense}:${d.blocks}`;
}

function sign(key: Uint8Array, canonical: string): Buffer {
  return createHmac('sha256', key).update(canonical, 'utf8').digest().subarray(0, SIGNATURE_BYTES);
}

/** Header-safe model encoding: RFC 3986 percent-encoding of bytes outside [A-Za-z0-9-._~:/@+]. */
export function encodeModel(model: string): string {
  let out = '';
  for (const b of Buffer.from(model, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~:/@+]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function encodeBlockKeys(keys: ArrayLike<bigint>): string {
  const buf = Buffer.alloc(keys.length * 8);
  for (let i = 0; i < keys.length; i++) buf.writeBigUInt64LE(BigInt.asUintN(64, keys[i]), i * 8);
  return buf.toString('base64url');
}

/**
 * The headers the filter would add for these values (same order), signed with `key` when given.
 * For tests and tools; the filter itself is the producer in production.
 */
export function encodeTokenrouteHeaders(v: TokenrouteValues, key?: Uint8Array): [string, string][] {
  const H = TOKENROUTE_HEADERS;
  const version = v.version ?? TOKENROUTE_PROTOCOL_VERSION;
  const wire = { model: encodeModel(v.model), blocks: encodeBlockKeys(v.blockKeys), digest: digestValue(v) };
  const out: [string, string][] = [
    [H.version, version],
    [H.time, String(v.timeSeconds)],
    [H.model, wire.model],
  ];
  if (v.profile) out.push([H.profile, v.profile]);
  if (v.error === undefined) {
    out.push([H.tokens, String(v.tokens ?? 0)], [H.blockSize, String(v.blockSize ?? 0)], [H.exact, v.exact ? '1' : '0']);
    if (version !== '2') out.push([H.digest, wire.digest]);
    out.push([H.blocks, wire.blocks]);
  } else {
    out.push([H.error, v.error]);
  }
  if (key) out.push([H.signature, sign(key, canonicalString(v, wire)).toString('base64url')]);
  return out;
}

const DECIMAL = /^(0|[1-9][0-9]{0,14})$/;
const DIGEST = /^([1-9][0-9]{0,8}):(0|[1-9][0-9]{0,8})$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const PROFILE = /^[A-Za-z0-9._-]{1,128}$/;
const ERROR_KIND = /^[a-z0-9_]{1,64}$/;

function fail(reason: TokenrouteFailure, detail: string): TokenrouteDecodeResult {
  return { ok: false, reason, detail };
}

type HeaderSource = ReadonlyMap<string, string> | Readonly<Record<string, string | undefined>>;

function lookup(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Map) return (headers as ReadonlyMap<string, string>).get(name);
  return (headers as Readonly<Record<string, string | undefined>>)[name];
}

/**
 * Decodes and verifies the filter's headers. Header names must be lower-case (as Envoy sends them
 * and epp/src/protocol/headers.ts decodeHeaderMap produces); a repeated header arrives joined with
 * ',' and is then malformed.
 */
export function decodeTokenrouteHeaders(headers: HeaderSource, opts: TokenrouteDecoderOptions = {}): TokenrouteDecodeResult {
  const H = TOKENROUTE_HEADERS;
  const version = lookup(headers, H.version);
  if (version === undefined) return fail('absent', 'no x-tokenroute-v header');
  if (version !== '3' && version !== '2') return fail('unsupported_version', `x-tokenroute-v ${JSON.stringify(version)}`);

  const time = lookup(headers, H.time);
  if (time === undefined || !DECIMAL.test(time)) return fail('malformed', 'x-tokenroute-t is not a decimal timestamp');
  const wireModel = lookup(headers, H.model) ?? '';
  let model: string;
  try {
    model = decodeURIComponent(wireModel);
  } catch {
    return fail('malformed', 'x-tokenroute-model is not percent-encoded UTF-8');
  }
  if (encodeModel(model) !== wireModel) return fail('malformed', 'x-tokenroute-model is not in canonical encoding');
  const profile = lookup(headers, H.profile) ?? '';
  if (profile !== '' && !PROFILE.test(profile)) return fail('malformed', 'x-tokenroute-profile has characters outside [A-Za-z0-9._-]');

  const requestId = lookup(headers, REQUEST_ID_HEADER_NAME) ?? '';
  const error = lookup(headers, H.error);
  let value: TokenrouteValues;
  let wireBlocks = '';
  let wireDigest = '';
  let positions: Uint32Array | undefined;
  if (error !== undefined) {
    if (!ERROR_KIND.test(error)) return fail('malformed', 'x-tokenroute-error is not an error kind');
    value = { version, timeSeconds: Number(time), requestId, model, profile, blockKeys: new BigUint64Array(0), error };
  } else {
    const tokens = lookup(headers, H.tokens);
    const blockSize = lookup(headers, H.blockSize);
    const exact = lookup(headers, H.exact);
    wireBlocks = lookup(headers, H.blocks) ?? '';
    if (tokens === undefined || !DECIMAL.test(tokens)) return fail('malformed', 'x-tokenroute-tokens is not a decimal count');
    if (blockSize === undefined || !DECIMAL.test(blockSize) || blockSize === '0') return fail('malformed', 'x-tokenroute-block-size is not a positive integer');
    if (exact !== '0' && exact !== '1') return fail('malformed', 'x-tokenroute-exact is not 0 or 1');
    if (!BASE64URL.test(wireBlocks)) return fail('malformed', 'x-tokenroute-blocks is not base64url');
    const maxBlocks = opts.maxBlocks ?? 6144;
    if (wireBlocks.length > Math.ceil((maxBlocks * 8 * 4) / 3)) return fail('malformed', `x-tokenroute-blocks holds more than ${maxBlocks} keys`);
    const raw = Buffer.from(wireBlocks, 'base64url');
    if (raw.length % 8 !== 0 || raw.toString('base64url') !== wireBlocks) return fail('malformed', 'x-tokenroute-blocks is not a whole number of 8-byte keys');
    const keys = new BigUint64Array(raw.length / 8);
    for (let i = 0; i < keys.length; i++) keys[i] = raw.readBigUInt64LE(i * 8);
    let digest: DigestLayout | undefined;
    if (version !== '2') {
      wireDigest = lookup(headers, H.digest) ?? '';
      const m = DIGEST.exec(wireDigest);
      if (!m) return fail('malformed', 'x-tokenroute-digest is not <dense>:<blocks>');
      digest = { dense: Number(m[1]), blocks: Number(m[2]) };
      positions = digestPositions(digest.dense, digest.blocks, keys.length);
      if (positions.length !== keys.length) return fail('malformed', `x-tokenroute-blocks holds ${keys.length} keys, more than the digest ${wireDigest} has positions`);
    }
    value = { version, timeSeconds: Number(time), requestId, model, profile, tokens: Number(tokens), blockSize: Number(blockSize), exact: exact === '1', blockKeys: keys, digest };
  }

  const keys = opts.keys ?? [];
  const sig = lookup(headers, H.signature);
  let signed = false;
  if (keys.length > 0) {
    if (sig === undefined) return fail('unsigned', 'no x-tokenroute-sig but a key is configured');
    const got = BASE64URL.test(sig) ? Buffer.from(sig, 'base64url') : Buffer.alloc(0);
    if (got.length !== SIGNATURE_BYTES) return fail('bad_signature', 'x-tokenroute-sig is not a 16-byte base64url value');
    const canonical = canonicalString(value, { model: wireModel, blocks: wireBlocks, digest: wireDigest });
    let match = false;
    for (const key of keys) {
      // Every key is tried, so the time taken does not tell which one (if any) matched.
      if (timingSafeEqual(sign(key, canonical), got)) match = true;
    }
    if (!match) return fail('bad_signature', 'x-tokenroute-sig does not match the values');
    signed = true;
  }

  if (opts.maxAgeSeconds !== undefined) {
    const now = opts.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - value.timeSeconds) > opts.maxAgeSeconds) return fail('stale', `timestamp ${value.timeSeconds} is more than ${opts.maxAgeSeconds}s from now`);
    // Checked last: only a verified, fresh signature takes a place in the guard.
    if (signed && opts.replay && !opts.replay.accept(sig!, value.timeSeconds + opts.maxAgeSeconds, now)) {
      return fail('replayed', 'x-tokenroute-sig was already used by another request');
    }
  }
  return { ok: true, value: { ...value, version, signed, positions } };
}
