// GIE parity (issue 12, difference 5): standalone mode names its pool with --pool-name (the
// metrics' `name` label says it instead of "standalone") and accepts an empty endpoint list from an
// endpoints file (every request then gets 503 until the file fills). A whole EPP (startEpp).
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../../epp/src/main.js';

const started: RunningEpp[] = [];
let dir = '';
afterAll(async () => {
  await Promise.all(started.map((e) => e.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('standalone mode with --pool-name', () => {
  it('labels the pool metrics with the given name', async () => {
    const epp = await startEpp(embeddedEppOptions({ poolName: 'chat-pool', staticEndpoints: [{ address: '127.0.14.1', port: 8000 }], refreshPrometheusMetricsIntervalMs: 50, metricsPort: 0 }));
    started.push(epp);
    assert.equal(epp.kubernetes, undefined, 'a static list keeps standalone mode');
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline && !/^inference_pool_\w+\{name="chat-pool"/m.test(text)) {
      text = await epp.metrics.registry.metrics();
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(text, /^inference_pool_\w+\{name="chat-pool"[^}]*\} /m);
    assert.doesNotMatch(text, /name="standalone"/);
  });

  it('starts on an empty endpoints file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenroute-empty-pool-'));
    const file = join(dir, 'endpoints.yaml');
    await writeFile(file, 'endpoints: []\n');
    const epp = await startEpp(embeddedEppOptions({ poolName: 'empty', endpointsFile: file }));
    started.push(epp);
    assert.equal(epp.datastore.candidates().length, 0);
  });
});
