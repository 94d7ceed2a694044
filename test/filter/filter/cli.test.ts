// The `tokenroute filter run` and `tokenroute tokenize` subcommands, run as processes (they start the
// real filter module in the Node host, and the standalone tokenizer core).
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRequestFile } from '../../../cli/filter-command.js';
import { HMAC_KEY } from './helpers.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli', 'tokenroute.js');
const dir = mkdtempSync(join(tmpdir(), 'tokenroute-cli-'));
const config = join(dir, 'plugin.json');
writeFileSync(config, JSON.stringify({ models: { 'Qwen/Qwen3-8B': { tokenizer: 'qwen3' } }, hmacKey: HMAC_KEY, routes: { chat: 'interactive' }, blockSize: 4 }));
const rejecting = join(dir, 'reject.json');
writeFileSync(rejecting, JSON.stringify({ models: { 'Qwen/Qwen3-8B': { tokenizer: 'qwen3' } }, onError: 'reject' }));

function run(args: string[], input: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const body = { model: 'Qwen/Qwen3-8B', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi there' }], chat_template_kwargs: { enable_thinking: false } };

describe('tokenroute filter run', () => {
  it('prints the headers the filter adds for a bare OpenAI body', () => {
    const r = run(['filter', 'run', '--config', config, '--route', 'chat'], JSON.stringify(body));
    assert.equal(r.code, 0, r.stderr);
    const headers = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(': ')));
    assert.equal(headers['x-tokenroute-tokens'], '23');
    assert.equal(headers['x-tokenroute-profile'], 'interactive');
    assert.equal(headers['x-tokenroute-block-size'], '4');
    assert.match(headers['x-tokenroute-sig'], /^[A-Za-z0-9_-]{22}$/);
  });

  it('--json shows the decoded, verified keys; an envelope carries path, headers and route', () => {
    const envelope = { path: '/v1/chat/completions', headers: { 'x-tokenroute-profile': 'spoofed' }, body, routeName: 'chat' };
    const r = run(['filter', 'run', '--config', config, '--json', '--chunk-size', '16'], JSON.stringify(envelope));
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { action: string; decoded: { signed: boolean; blockKeys: string[]; profile: string }; callbacks: unknown[] };
    assert.equal(out.action, 'continue');
    assert.equal(out.decoded.signed, true);
    assert.equal(out.decoded.profile, 'interactive');
    assert.equal(out.decoded.blockKeys.length, 5);
    assert.ok(out.callbacks.length > 3, 'the body went through several data frames');
  });

  it('exits 1 and reports the local reply when the filter rejects the request', () => {
    const r = run(['filter', 'run', '--config', rejecting, '--path', '/v1/completions'], '{"model": 1}');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /request localReply 400 \(tokenroute_bad_request\)/);
  });

  it('reports an invalid configuration with the field', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"models": {}}');
    const r = run(['filter', 'run', '--config', bad], '{}');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TR_ERR_STARTUP_FILTER_LOAD[\s\S]*TR_ERR_FILTER_CONFIG invalid plugin configuration: models: expected a non-empty object/);
  });

  it('parseRequestFile tells envelopes from bodies and infers the path', () => {
    assert.equal(parseRequestFile('{"model":"m","input":"x"}', undefined).path, '/v1/responses');
    assert.equal(parseRequestFile('{"model":"m","prompt":"x"}', undefined).path, '/v1/completions');
    assert.equal(parseRequestFile('{"path":"/v1/completions","body":{"model":"m"}}', undefined).body, '{"model":"m"}');
    assert.equal(parseRequestFile('not json', '/v1/completions').body, 'not json');
  });
});

describe('tokenroute tokenize', () => {
  it('prints raw-text token ids without special tokens, by tokenizer or configured model name', () => {
    const llama = run(['tokenize', '--model', 'llama3_1'], 'Hello world');
    assert.equal(llama.code, 0, llama.stderr);
    assert.deepEqual(JSON.parse(llama.stdout), [9906, 1917]);
    const qwen = run(['tokenize', '--model', 'Qwen/Qwen3-8B', '--config', config], 'Hi there');
    assert.deepEqual(JSON.parse(qwen.stdout), [13048, 1052]);
  });

  it('reads --file and rejects unknown models', () => {
    const f = join(dir, 'text.txt');
    writeFileSync(f, '<|im_start|>user');
    assert.deepEqual(JSON.parse(run(['tokenize', '--model', 'qwen3', '--file', f], '').stdout), [151644, 872]);
    const r = run(['tokenize', '--model', 'gpt2'], 'x');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TR_ERR_CLI_INVALID_ARGUMENT: unknown model "gpt2"/);
  });
});
