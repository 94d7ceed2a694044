// The gateway specs every deployment of tokenroute must pass, whatever runs it: the local stack
// (test/e2e/shared-specs.test.ts), the container images (test/containers/stack.test.ts) and a kind
// cluster behind Istio or Envoy Gateway (test/kind/cluster.kind.ts, run by e2e/kind/run.sh). They
// speak to the gateway as a client does and learn which model server answered from the
// simulator's own x-inference-pod response header, so they need nothing from the gateway but HTTP.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { call, chatBody, familyPrompt, type CallResult } from '../../../e2e/lib/workload.js';

/** What a spec run needs from the deployment under test. */
export interface GatewaySpecTarget {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** The model servers, as their x-inference-pod header names them. */
  servers(): Promise<readonly string[]>;
  /** `ip:port` of a model server (to forge a routing header naming it). */
  addressOf(server: string): Promise<string>;
  /** Takes the EPP away (pod scaled to zero, container or process stopped). */
  stopEpp(): Promise<void>;
  /** Brings it back; resolves when it serves again. */
  startEpp(): Promise<void>;
  /** Removes one model server (pod deleted, container or process stopped). */
  removeServer(server: string): Promise<void>;
}

const POD_HEADER = 'x-inference-pod';
const podOf = (r: CallResult) => r.headers.get(POD_HEADER) ?? undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers the specs; `target` is read when they run (after the suite's beforeAll). */
export function defineGatewaySpecs(target: () => GatewaySpecTarget, opts: { readonly label: string; readonly seed?: number }): void {
  const seed = opts.seed ?? 700;
  const chat = (system: string, q: string, headers: Record<string, string> = {}) => call(target().url, '/v1/chat/completions', chatBody(system, q, { max_tokens: 2 }), headers);

  describe(`gateway specs (${opts.label})`, () => {
    it('routes a chat completion to a model server of the pool', async () => {
      const r = await chat('You are terse.', 'Hello?');
      assert.equal(r.status, 200, r.text);
      assert.ok((await target().servers()).includes(podOf(r)!), `served by ${podOf(r)}`);
    });

    it('streams a chat completion as server-sent events to the end', async () => {
      const r = await call(target().url, '/v1/chat/completions', chatBody('You are terse.', 'Stream please.', { max_tokens: 6, stream: true }));
      assert.equal(r.status, 200, r.text);
      assert.ok(r.events >= 2, `${r.events} events`);
      assert.ok(r.done, 'ends with data: [DONE]');
    });

    it('sends the repeats of a prefix to the model server that holds it', async () => {
      const system = familyPrompt(seed + 1, 250);
      const home = podOf(await chat(system, 'First question?'));
      assert.ok(home);
      for (let i = 0; i < 4; i++) assert.equal(podOf(await chat(system, `Follow-up ${i}?`)), home, `repeat ${i}`);
    });

    it('ignores a routing header sent by the client', async () => {
      const system = familyPrompt(seed + 2, 250);
      const home = podOf(await chat(system, 'Warm up.'))!;
      const elsewhere = (await target().servers()).find((s) => s !== home)!;
      const forged = await target().addressOf(elsewhere);
      for (let i = 0; i < 3; i++) {
        const r = await chat(system, `Spoof ${i}.`, { 'x-gateway-destination-endpoint': forged, 'x-gateway-destination-endpoint-served': forged });
        assert.equal(r.status, 200, r.text);
        assert.equal(podOf(r), home, `attempt ${i}`);
      }
    });

    it('keeps serving while the EPP is away (FailOpen), and routes by prefix again once it is back', async () => {
      await target().stopEpp();
      for (let i = 0; i < 3; i++) {
        const r = await chat('You are terse.', `EPP away ${i}`);
        assert.equal(r.status, 200, `request ${i} with the EPP away: ${r.status} ${r.text}`);
      }
      await target().startEpp();
      // The restarted EPP learns a new prefix and sends its repeats after it: FailOpen's
      // round-robin could not keep four repeats on one server.
      const system = familyPrompt(seed + 3, 250);
      let home: string | undefined;
      const deadline = Date.now() + 60_000;
      for (;;) {
        home = podOf(await chat(system, 'After the restart.'));
        const repeats = await Promise.all([0, 1, 2, 3].map(async (i) => podOf(await chat(system, `Again ${i}?`))));
        if (home && repeats.every((p) => p === home)) break;
        assert.ok(Date.now() < deadline, `prefix routing did not resume (home ${home}, repeats ${repeats.join(', ')})`);
        await sleep(500);
      }
    });

    it('stops sending requests to a removed model server', async () => {
      const before = await target().servers();
      assert.ok(before.length >= 2, 'needs two model servers');
      const victim = before[0];
      await target().removeServer(victim);
      // Within the EPP's staleness interval (or the pod watch) the victim is out of the pool.
      const deadline = Date.now() + 60_000;
      let streak = 0;
      for (let i = 0; streak < 6; i++) {
        const r = await chat(familyPrompt(seed + 10 + i, 60), 'after the removal');
        streak = r.status === 200 && podOf(r) !== victim ? streak + 1 : 0;
        assert.ok(Date.now() < deadline, `still failing or served by ${victim}: ${r.status} ${podOf(r)}`);
      }
    });
  });
}
