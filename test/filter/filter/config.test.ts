// Integration: the real filter's plugin configuration in the Node host — an invalid configuration
// makes proxy_on_configure return false (Envoy rejects the plugin) with one error log line naming
// the field.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { HostLoadError, ProxyWasmHost } from '../../../filter/host/index.js';
import { filterWasm } from '../host/support.js';

async function configure(config: string): Promise<{ ok: boolean; errors: string[]; info: string[] }> {
  const logs: { level: string; message: string }[] = [];
  try {
    await ProxyWasmHost.create({ wasm: filterWasm(), pluginConfig: config, onLog: (e) => logs.push(e) });
    return { ok: true, errors: [], info: logs.filter((l) => l.level === 'info').map((l) => l.message) };
  } catch (err) {
    assert.ok(err instanceof HostLoadError, String(err));
    assert.match(err.message, /Failed to configure base Wasm plugin/);
    return { ok: false, errors: logs.filter((l) => l.level === 'error').map((l) => l.message), info: [] };
  }
}

const model = { 'Qwen/Qwen3-8B': { tokenizer: 'qwen3' } };

describe('plugin configuration', () => {
  it('accepts a minimal configuration and reports the defaults', async () => {
    const r = await configure(JSON.stringify({ models: model }));
    assert.ok(r.ok);
    assert.ok(r.info.includes('tokenroute: configured 1 model(s), blockSize 16, maxBlocks 65536, denseBlocks 256, maxDigestBytes 16384, tokenCacheBytes 33554432'), r.info.join('\n'));
  });

  it('accepts every field', async () => {
    const r = await configure(
      JSON.stringify({
        models: { 'my-llama': { tokenizer: 'llama3.1', template: 'llama3', seedModel: 'meta-llama/Llama-3.1-8B-Instruct', lora: 'sql-adapter' } },
        blockSize: 64,
        maxBlocks: 2048,
        denseBlocks: 128,
        maxDigestBytes: 8192,
        tokenCacheBytes: 0,
        maxBodyBytes: 8 << 20,
        onError: 'reject',
        routes: { 'route-a': 'interactive' },
        defaultProfile: 'batch',
        hmacKey: Buffer.alloc(16, 1).toString('base64url'),
      }),
    );
    assert.ok(r.ok);
  });

  const invalid: [string, unknown, RegExp][] = [
    ['empty configuration', '', /configuration: empty/],
    ['not JSON', '{models:', /configuration: not valid JSON/],
    ['not an object', [], /configuration: expected a JSON object/],
    ['no models', {}, /models: required/],
    ['empty models', { models: {} }, /models: expected a non-empty object/],
    ['unknown top-level field', { models: model, blocksize: 16 }, /blocksize: unknown field/],
    ['unknown model field', { models: { m: { tokenizer: 'qwen3', tokeniser: 'x' } } }, /models\.m\.tokeniser: unknown field/],
    ['missing tokenizer', { models: { m: {} } }, /models\.m\.tokenizer: required/],
    ['unknown tokenizer', { models: { m: { tokenizer: 'gpt2' } } }, /models\.m\.tokenizer: "gpt2" is not a tokenizer embedded/],
    ['unknown template', { models: { m: { tokenizer: 'qwen3', template: 'mistral' } } }, /models\.m\.template: "mistral" is not a known template family/],
    ['tokenizer not a string', { models: { m: { tokenizer: 3 } } }, /models\.m\.tokenizer: expected a string/],
    ['blockSize zero', { models: model, blockSize: 0 }, /blockSize: expected an integer in \[1, 1024\]/],
    ['blockSize fractional', { models: model, blockSize: 1.5 }, /blockSize: expected an integer/],
    ['maxBlocks too large', { models: model, maxBlocks: 2_000_000 }, /maxBlocks: expected an integer in \[1, 1048576\]/],
    ['tokenCacheBytes negative', { models: model, tokenCacheBytes: -1 }, /tokenCacheBytes: expected an integer in \[0, 1073741824\]/],
    ['denseBlocks zero', { models: model, denseBlocks: 0 }, /denseBlocks: expected an integer in \[1, 65536\]/],
    ['maxDigestBytes under a key budget worth having', { models: model, maxDigestBytes: 512 }, /maxDigestBytes: expected an integer in \[1024, 49152\]/],
    ['maxBodyBytes a string', { models: model, maxBodyBytes: '1MB' }, /maxBodyBytes: expected an integer/],
    ['onError unknown', { models: model, onError: 'drop' }, /onError: expected "passthrough" or "reject"/],
    ['routes not an object', { models: model, routes: ['a'] }, /routes: expected an object/],
    ['route profile with a space', { models: model, routes: { r: 'a b' } }, /routes\.r: expected a profile name/],
    ['defaultProfile invalid', { models: model, defaultProfile: '' }, /defaultProfile: expected 1-128 characters/],
    ['hmacKey not base64', { models: model, hmacKey: 'not base64!' }, /hmacKey: not valid base64/],
    ['hmacKey too short', { models: model, hmacKey: Buffer.alloc(8).toString('base64') }, /hmacKey: must decode to at least 16 bytes/],
  ];
  for (const [name, cfg, message] of invalid) {
    it(`rejects: ${name}`, async () => {
      const r = await configure(typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
      assert.equal(r.ok, false);
      assert.equal(r.errors.length, 1, r.errors.join('\n'));
      assert.match(r.errors[0], /^tokenroute: TR_ERR_FILTER_CONFIG invalid plugin configuration: /);
      assert.match(r.errors[0], message);
    });
  }
});
