// The edge filter's x-tokenroute-* headers, verified once per request whoever asks: token-producer
// (the block keys) and openai-parser (a decision at the request's headers, issue 13) act on the
// same verdict. One verifier per trust configuration (same keys, one replay guard), and one verdict
// per request, remembered by the request's header map: a second reader of the same request gets
// the first verdict instead of being refused as a replay of it.
import { ReplayGuard, decodeTokenrouteHeaders, parseHmacKey, type DecodedTokenroute, type TokenrouteDecodeResult } from '../../protocol/tokenroute-headers.js';

export interface FilterHeaderTrust {
  /** HMAC keys (base64) the filter signs with. */
  readonly hmacKeys: readonly string[];
  /** Environment variable holding one more base64 key. */
  readonly hmacKeyEnv?: string;
  /** Accept unsigned headers when no key is configured (only when nothing but the filter can reach the EPP). */
  readonly trustUnsigned: boolean;
  /** Reject values older than this (seconds); 0 = no check. */
  readonly maxAgeSeconds: number;
}

/** Resolved HMAC keys (decoded once). */
export function hmacKeysOf(trust: FilterHeaderTrust): Uint8Array[] {
  const keys = trust.hmacKeys.map(parseHmacKey);
  const env = trust.hmacKeyEnv ? process.env[trust.hmacKeyEnv] : undefined;
  if (env) keys.push(parseHmacKey(env));
  return keys;
}

/** Usable values, or why not. */
export type FilterVerdict = { readonly ok: true; readonly value: DecodedTokenroute } | { readonly ok: false; readonly reason: string };

export class FilterHeaderVerifier {
  private readonly keys: Uint8Array[];
  /** Each signed header set is used by one request only. */
  private readonly replay = new ReplayGuard();
  private readonly verdicts = new WeakMap<object, TokenrouteDecodeResult>();

  constructor(readonly trust: FilterHeaderTrust) {
    this.keys = hmacKeysOf(trust);
  }

  /** The request's decoded headers, decoded and checked once per request. */
  decode(headers: ReadonlyMap<string, string>): TokenrouteDecodeResult {
    let r = this.verdicts.get(headers);
    if (!r) {
      r = decodeTokenrouteHeaders(headers, { keys: this.keys, maxAgeSeconds: this.trust.maxAgeSeconds || undefined, replay: this.replay });
      this.verdicts.set(headers, r);
    }
    return r;
  }

  /** The values when they may steer routing: verified (or unsigned and trusted), with keys, for `model`. */
  verdict(headers: ReadonlyMap<string, string>, model?: string): FilterVerdict {
    const d = this.decode(headers);
    if (!d.ok) return { ok: false, reason: `filter headers ${d.reason}` };
    if (!d.value.signed && !this.trust.trustUnsigned) return { ok: false, reason: 'filter headers unsigned (no hmac key configured)' };
    if (d.value.error !== undefined) return { ok: false, reason: `filter could not tokenize: ${d.value.error}` };
    if (model !== undefined && d.value.model !== model) return { ok: false, reason: 'filter headers name another model' };
    return { ok: true, value: d.value };
  }
}

const verifiers = new Map<string, FilterHeaderVerifier>();

/** The verifier of a trust configuration, shared by every plugin configured with the same one. */
export function filterHeaderVerifier(trust: FilterHeaderTrust): FilterHeaderVerifier {
  const env = trust.hmacKeyEnv ? (process.env[trust.hmacKeyEnv] ?? '') : '';
  const id = JSON.stringify([[...trust.hmacKeys].sort(), trust.hmacKeyEnv ?? '', env, trust.trustUnsigned, trust.maxAgeSeconds]);
  let v = verifiers.get(id);
  if (!v) {
    v = new FilterHeaderVerifier(trust);
    verifiers.set(id, v);
  }
  return v;
}
