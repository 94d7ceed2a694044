// --endpoints-file (epp/src/datastore/endpoints-file.ts): the standalone pool with labels, read
// and validated with the field named, followed on change (in place and rename-on-save), an
// invalid version refused with the previous pool kept, and the EPP refusing to start on an
// invalid first version.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEndpointsFile, watchEndpointsFile } from '../../../epp/src/datastore/endpoints-file.js';
import type { Endpoint } from '../../../epp/src/framework/endpoint.js';
import { embeddedEppOptions, startEpp } from '../../../epp/src/main.js';
import { TokenrouteError } from '../../../epp/src/framework/error-catalogue.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tokenroute-endpoints-'));
  dirs.push(dir);
  const file = join(dir, 'endpoints.yaml');
  await writeFile(file, text);
  return file;
}
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const TWO = `endpoints:
  - {address: 10.0.0.5, port: 8000, labels: {llm-d.ai/role: prefill}}
  - {address: "fd00::6", port: 8000, labels: {llm-d.ai/role: decode}, engine: sglang, name: decode-0}
`;

describe('parseEndpointsFile', () => {
  it('reads addresses, ports, labels, engine and name', () => {
    const r = parseEndpointsFile(TWO, { engine: 'vllm', namespace: 'llm' });
    assert.ok(r.ok);
    assert.deepEqual(
      r.endpoints.map((e) => [e.key, e.labels['llm-d.ai/role'], e.engine, e.podName, e.namespace]),
      [
        ['10.0.0.5:8000', 'prefill', 'vllm', '10.0.0.5:8000', 'llm'],
        ['[fd00::6]:8000', 'decode', 'sglang', 'decode-0', 'llm'],
      ],
    );
    const empty = parseEndpointsFile('endpoints: []\n');
    assert.ok(empty.ok && empty.endpoints.length === 0, 'an empty pool is valid');
  });

  it('names the field of every problem', () => {
    const r = parseEndpointsFile(`endpoints:
  - {address: 10.0.0.500, port: 8000}
  - {address: 10.0.0.6, port: 70000, labels: {a: 1}}
  - {address: 10.0.0.7, port: 8000, colour: red}
`);
    assert.ok(!r.ok);
    assert.deepEqual(r.errors, [
      'endpoints[0].address: expected an IPv4 or IPv6 address',
      'endpoints[1].port: expected a port (1–65535)',
      'endpoints[1].labels.a: Invalid input: expected string, received number',
      'endpoints[2]: Unrecognized key: "colour"',
    ]);
    assert.ok(!parseEndpointsFile('endpoints: [{address: 10.0.0.1, port: 1}, {address: 10.0.0.1, port: 1}]\n').ok, 'duplicates are refused');
    assert.ok(!parseEndpointsFile('endpoints: {').ok);
    assert.ok(!parseEndpointsFile('pods: []\n').ok);
  });
});

describe('watchEndpointsFile', () => {
  it('follows edits in place and rename-on-save, refuses an invalid version once and keeps the pool', async () => {
    const file = await tempFile(TWO);
    const seen: Endpoint[][] = [];
    const refused: (readonly string[])[] = [];
    const { first, watcher } = await watchEndpointsFile(file, { onEndpoints: (e) => seen.push(e), onInvalid: (e) => refused.push(e), pollMs: 200 });
    try {
      assert.ok(first.ok && first.endpoints.length === 2);
      await writeFile(file, 'endpoints:\n  - {address: 10.0.0.9, port: 8000}\n');
      await until(() => seen.length === 1, 'the in-place edit');
      assert.deepEqual(seen[0].map((e) => e.key), ['10.0.0.9:8000']);
      await writeFile(file, 'endpoints:\n  - {address: nope, port: 8000}\n');
      await until(() => refused.length === 1, 'the refusal');
      assert.deepEqual(refused[0], ['endpoints[0].address: expected an IPv4 or IPv6 address']);
      await new Promise((r) => setTimeout(r, 600)); // three polls of the same bad version
      assert.equal(refused.length, 1, 'a refusal is reported once per distinct problem');
      assert.equal(seen.length, 1, 'nothing applied meanwhile');
      const tmp = `${file}.tmp`;
      await writeFile(tmp, 'endpoints:\n  - {address: 10.0.0.10, port: 8000}\n  - {address: 10.0.0.11, port: 8000}\n');
      await rename(tmp, file);
      await until(() => seen.length === 2, 'the renamed version');
      assert.deepEqual(seen[1].map((e) => e.key), ['10.0.0.10:8000', '10.0.0.11:8000']);
    } finally {
      watcher.close();
    }
  });
});

describe('tokenroute epp --endpoints-file', () => {
  it('serves the file\'s pool with its labels and follows changes', async () => {
    const file = await tempFile(TWO);
    const epp = await startEpp(embeddedEppOptions({ endpointsFile: file, configText: undefined }));
    try {
      assert.deepEqual(epp.datastore.candidates().map((c) => c.endpoint.labels['llm-d.ai/role']), ['prefill', 'decode']);
      await writeFile(file, 'endpoints: []\n');
      await until(() => epp.datastore.candidates().length === 0, 'the emptied pool');
      const text = await epp.metrics.registry.getSingleMetric('tokenroute_endpoints_file_reloads_total')!.get();
      assert.equal(text.values.find((v) => v.labels.outcome === 'applied')?.value, 2);
    } finally {
      await epp.close();
    }
  });

  it('refuses to start on an invalid first version, naming the field', async () => {
    const file = await tempFile('endpoints:\n  - {address: 10.0.0.1}\n');
    await assert.rejects(startEpp(embeddedEppOptions({ endpointsFile: file })), (err: unknown) => {
      assert.ok(err instanceof TokenrouteError);
      assert.equal(err.code, 'TR_ERR_STARTUP_ENDPOINTS_FILE');
      assert.match(err.message, /endpoints\[0\]\.port: required: a port/);
      return true;
    });
  });
});
