// Drop-in for llm-d's router: every sample EndpointPickerConfig llm-d-inference-scheduler v0.7.1
// ships in deploy/config/ (fetched by scripts/deps/llm-d-samples.sh into .cache, never committed)
// loads, as written, and serves a request over labelled endpoints (prefill and decode roles;
// per-rank ports for the data-parallel sample). Two test-environment substitutions only: the
// samples' KV-event bind address tcp://0.0.0.0:5557 becomes an ephemeral loopback port, and
// ${MODEL_NAME} (filled by llm-d's deployment scripts) a real model id.
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { pipeline, type Pipeline } from '../epp/prefix/keys/pipeline.js';

const DIR = join(findPackageRoot(import.meta.url), '.cache', 'llm-d-samples', 'v0.7.1');
const ROLE = 'llm-d.ai/role';
const ENDPOINTS = [
  { address: '127.0.9.1', port: 8000, labels: { [ROLE]: 'prefill' } },
  { address: '127.0.9.2', port: 8000, labels: { [ROLE]: 'decode' } },
  { address: '127.0.9.3', port: 8000, labels: { [ROLE]: 'decode' } },
  // data parallelism: one pod, ranks on 8001/8002 behind the primary port 8000
  { address: '127.0.9.4', port: 8001, labels: { [ROLE]: 'decode' } },
  { address: '127.0.9.4', port: 8002, labels: { [ROLE]: 'decode' } },
];
const DECODE_ADDRESSES = new Set(['127.0.9.2', '127.0.9.3', '127.0.9.4']);

const open: Pipeline[] = [];
afterAll(() => Promise.all(open.map((p) => p.close())));

const samples = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort() : [];

describe('llm-d-inference-scheduler v0.7.1 sample configs', () => {
  it('are all present (scripts/deps/llm-d-samples.sh ran)', () => {
    assert.deepEqual(samples, [
      'dp-epp-config.yaml',
      'epp-config.yaml',
      'epp-estimate-prefix-cache-config.yaml',
      'epp-precise-prefix-cache-config.yaml',
      'pd-epp-config.yaml',
      'sim-epp-config.yaml',
      'sim-epp-external-tokenizer-config.yaml',
      'sim-epp-kvcache-config.yaml',
      'sim-epp-no-hit-lru.yaml',
      'sim-pd-epp-config.yaml',
    ]);
  });

  for (const file of samples) {
    it(`${file} loads as written and routes a request to a decode endpoint`, async () => {
      const text = readFileSync(join(DIR, file), 'utf8')
        .replaceAll('tcp://0.0.0.0:5557', 'tcp://127.0.0.1:*')
        .replaceAll('${MODEL_NAME}', 'Qwen/Qwen3-0.6B');
      const p = await pipeline(text, ENDPOINTS);
      open.push(p);
      const prompt = 'Explain the difference between prefill and decode. '.repeat(30);
      const d = await p.decide('/v1/completions', { model: 'Qwen/Qwen3-0.6B', prompt });
      const [address] = d.endpoints[0].split(':');
      assert.ok(DECODE_ADDRESSES.has(address), `${file}: destination ${d.endpoints[0]} is a decode endpoint`);
      if (file === 'dp-epp-config.yaml') {
        // The proxy addresses the pod's primary port; the chosen rank travels in the header.
        const rank = d.setHeaders.get('x-data-parallel-host-port') ?? '';
        assert.equal(d.endpoints[0], `${rank.split(':')[0]}:8000`, 'data parallel: the primary port of the chosen pod');
        assert.ok(ENDPOINTS.some((e) => `${e.address}:${e.port}` === rank), `rank ${rank} is a pool endpoint`);
      }
      if (file.includes('pd-epp')) assert.equal(d.setHeaders.get('x-prefiller-host-port'), '127.0.9.1:8000', `${file}: a long uncached prompt is disaggregated`);
      await p.close();
      open.splice(open.indexOf(p), 1);
    });
  }
});
