// e2e: faults in the stack — the EPP killed and restarted, a model server killed mid-run.
// Real components started (one stack for the file, e2e/lib/stack.ts): three llm-d-inference-sim
// model servers on 127.0.12.2-4 (prefix caching, KV events; as root tokenizing through
// tokenroute's render endpoint + hub stub, see e2e/lib/sims.ts), the tokenroute EPP as a CHILD
// PROCESS (`tokenroute epp`, standalone mode, the demo's prefix-aware profile with 3 endpoints per
// answer and a 1 s metrics-staleness filter) so it can be SIGKILLed, and two development gateways
// (gateway/, each running filter.wasm in the proxy-wasm host) on the same EPP: one for a
// FailOpen pool, one for a FailClose pool.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type RequestRecord, type RunningGateway } from '../../gateway/index.js';
import { startStack, type Stack } from '../../e2e/lib/stack.js';
import { call, chatBody, familyPrompt, type CallResult } from '../../e2e/lib/workload.js';

const STALENESS_MS = 1000;
let stack: Stack;
let open: RunningGateway;
let closed: RunningGateway;
const records: RequestRecord[] = [];
const recordOf = (id: string) => records.find((r) => r.id === id);
let seq = 0;
const rid = () => `e2e-fault-${++seq}`;

beforeAll(async () => {
  stack = await startStack({
    sims: 3,
    subnet: '127.0.12',
    tokenizer: (process.env.TOKENROUTE_E2E_TOKENIZER as 'auto' | 'render' | 'dummy' | undefined) ?? 'auto',
    eppProcess: 'child',
    maxNumOfEndpoints: 3,
    stalenessMs: STALENESS_MS,
    failureMode: 'FailOpen',
    messageTimeoutMs: 5000,
    onRequest: (r) => records.push(r),
    sim: { mode: 'random', interTokenLatency: '20ms', prefillTimePerToken: '200us' },
  });
  open = stack.gateway;
  closed = await startGateway({ ...stack.gatewayOptions, port: 0, failureMode: 'FailClose' });
});

afterAll(async () => {
  await closed?.close();
  await stack?.close();
});

const short = (q: string) => chatBody('You are terse.', q, { max_tokens: 2 });

describe('faults in the stack', () => {
  it('EPP killed: the FailOpen pool keeps serving, the FailClose pool answers 503 quickly; restarted, routing resumes', async (t) => {
    for (const gw of [open, closed]) {
      const r = await call(gw.url, '/v1/chat/completions', short('before'));
      assert.equal(r.status, 200);
      assert.equal(r.pick, 'epp');
    }
    await stack.epp.kill('SIGKILL');

    const served = new Set<string>();
    for (let i = 0; i < 6; i++) {
      // A routing header from the client must not pin the fail-open choice either.
      const r = await call(open.url, '/v1/chat/completions', short(`EPP down ${i}`), { 'x-gateway-destination-endpoint': stack.sims[0].key });
      assert.equal(r.status, 200, `FailOpen request ${i}: ${r.status} ${r.text}`);
      assert.equal(r.pick, 'fail-open');
      served.add(r.served!);
    }
    assert.equal(served.size, 3, `the gateway's own round-robin choice over the pool (got ${[...served].join(', ')})`);

    for (let i = 0; i < 3; i++) {
      const r = await call(closed.url, '/v1/chat/completions', short(`EPP down ${i}`));
      assert.equal(r.status, 503, r.text);
      assert.match(r.text, /endpoint picker unavailable/);
      assert.ok(r.totalMs < 1000, `FailClose 503 after ${r.totalMs.toFixed(0)} ms`);
    }

    await stack.epp.restart();
    const t0 = performance.now();
    for (const gw of [open, closed]) {
      for (;;) {
        const r = await call(gw.url, '/v1/chat/completions', short('after restart'));
        if (r.status === 200 && r.pick === 'epp') break;
        assert.ok(performance.now() - t0 < 10_000, `routing through the EPP did not resume (last: ${r.status} ${r.pick})`);
        await sleep(100);
      }
    }
    console.log(`routing through the EPP resumed ${(performance.now() - t0).toFixed(0)} ms after the restart`);
  });

  it('a model server killed mid-run: in-flight requests fail or are retried, the EPP stops choosing it within one staleness interval, nothing hangs', async (t) => {
    // Many prompt families, spread over the pool by the EPP; the ones that landed on the victim
    // keep attracting their repeats to it (prefix affinity) until its metrics go stale.
    const families = Array.from({ length: 96 }, (_, f) => familyPrompt(1000 + f, 120));
    const home = new Map<number, string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < families.length) {
          const f = next++;
          const r = await call(open.url, '/v1/chat/completions', chatBody(families[f], 'warm up', { max_tokens: 1 }));
          assert.equal(r.status, 200);
          home.set(f, r.served!);
        }
      }),
    );
    const victim = stack.sims[0];
    const victimFamilies = [...home].filter(([, ep]) => ep === victim.key).map(([f]) => f);
    assert.ok(victimFamilies.length >= 12, `only ${victimFamilies.length} families on the victim`);

    // In flight on the victim: long streams.
    const inflight: Promise<CallResult>[] = victimFamilies.slice(0, 4).map((f) =>
      call(open.url, '/v1/chat/completions', chatBody(families[f], 'a long answer please', { max_tokens: 60, ignore_eos: true, stream: true }), {}, 20_000),
    );
    await sleep(400);
    const tKill = performance.now();
    victim.kill('SIGKILL');
    await victim.exited;

    // Repeats of the victim's families: the EPP still chooses the victim first until its
    // metrics are stale (the gateway then walks the fallback list), and never after.
    let avoidedAfter: number | undefined;
    let retried = 0;
    let after = 0;
    let k = 4;
    while (after < 8) {
      const f = victimFamilies[k++ % victimFamilies.length];
      const id = rid();
      const r = await call(open.url, '/v1/chat/completions', chatBody(families[f], `repeat ${id}`, { max_tokens: 1 }), { 'x-request-id': id }, 10_000);
      const rec = recordOf(id)!;
      assert.equal(r.status, 200, `${id}: ${r.status} ${r.text} ${JSON.stringify(rec?.attempts)}`);
      assert.notEqual(r.served, victim.key);
      if (rec.endpoints[0] === victim.key) {
        assert.equal(avoidedAfter, undefined, 'once dropped, the dead server must not be chosen again');
        assert.deepEqual([rec.attempts[0].endpoint, rec.attempts[0].outcome], [victim.key, 'connect-error']);
        retried++;
      } else {
        avoidedAfter ??= performance.now() - tKill;
        after++;
      }
      assert.ok(performance.now() - tKill < 5000, 'the EPP kept choosing the dead model server');
      await sleep(50);
    }
    console.log(`the EPP chose the dead server first for ${retried} request(s) (each retried on the fallback) and stopped ${avoidedAfter!.toFixed(0)} ms after the kill`);
    assert.ok(retried >= 1, 'right after the kill the EPP still chose the dead server, and the gateway retried on the fallback');
    assert.ok(avoidedAfter! <= STALENESS_MS + 500, `the EPP stopped choosing it ${avoidedAfter!.toFixed(0)} ms after the kill`);

    const done = await Promise.all(inflight);
    console.log(`in flight at the kill: ${done.filter((r) => r.served === victim.key).length} on the victim (cut short), ${done.filter((r) => r.served !== victim.key).length} elsewhere`);
    for (const r of done) {
      assert.ok(r.totalMs < 15_000, 'no request hangs');
      if (r.served === victim.key) assert.ok(r.error !== undefined, 'a stream cut by the crash is reported as failed, not as complete');
      else assert.ok(r.status === 200 && r.done && r.error === undefined, `a stream on a healthy server completes: ${r.error ?? r.status}`);
    }
    assert.ok(done.some((r) => r.served === victim.key), 'at least one in-flight request was on the victim');
  });
});
