// Helpers for the filter behaviour tests: the real filter (filter/build/filter.wasm) in the Node host
// as Envoy ≥ 1.35 runs it with allow_on_headers_stop_iteration, plus decoding of its headers.
import assert from 'node:assert/strict';
import { ProxyWasmHost, type HostRequest, type HostResult, type ProxyWasmHostOptions } from '../../../filter/host/index.js';
import { decodeTokenrouteHeaders, parseHmacKey, type DecodedTokenroute } from '../../../epp/src/protocol/tokenroute-headers.js';
import { filterWasm } from '../host/support.js';

export const HMAC_KEY = Buffer.alloc(32, 0x5a).toString('base64');

export const MODELS = {
  'Qwen/Qwen3-8B': { tokenizer: 'qwen3' },
  'Qwen/Qwen2.5-7B-Instruct': { tokenizer: 'qwen2_5' },
  'meta-llama/Llama-3.1-8B-Instruct': { tokenizer: 'llama3_1' },
  'deepseek-ai/DeepSeek-V3': { tokenizer: 'deepseek_v3' },
};

export interface FilterConfigJson {
  models?: Record<string, Record<string, unknown>>;
  blockSize?: number;
  maxBlocks?: number;
  maxBodyBytes?: number;
  onError?: string;
  routes?: Record<string, string>;
  defaultProfile?: string;
  hmacKey?: string;
  [k: string]: unknown;
}

let wasm: Uint8Array | undefined;

export async function filterHost(config: FilterConfigJson = {}, opts: Partial<ProxyWasmHostOptions> = {}): Promise<ProxyWasmHost> {
  wasm ??= filterWasm();
  return ProxyWasmHost.create({
    wasm,
    pluginConfig: JSON.stringify({ models: MODELS, hmacKey: HMAC_KEY, ...config }),
    allowOnHeadersStopIteration: true,
    rootId: 'tokenroute',
    ...opts,
  });
}

export function chat(model: string, body: Record<string, unknown>): HostRequest {
  return { path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, ...body }) };
}

export function completion(model: string, body: Record<string, unknown>): HostRequest {
  return { path: '/v1/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, ...body }) };
}

/** The x-tokenroute-* headers as forwarded, decoded and verified. */
export function decoded(result: HostResult): DecodedTokenroute {
  assert.equal(result.action, 'continue', `request ${result.action}: ${JSON.stringify(result.localReply ?? result.trap)}`);
  const r = decodeTokenrouteHeaders(new Map(result.headersAfter), { keys: [parseHmacKey(HMAC_KEY)] });
  assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
  return r.value;
}

export function header(result: HostResult, name: string): string[] {
  return result.headersAfter.filter(([k]) => k === name).map(([, v]) => v);
}
