// e2e: the shared gateway specs (test/e2e/specs/gateway-specs.ts) against the local stack, so
// the specs a kind cluster runs (e2e/kind/run.sh) stay green in CI here. Real components
// (e2e/lib/stack.ts): three llm-d-inference-sim servers on 127.0.14.2-4, the tokenroute EPP as a
// `tokenroute epp` child process (stopped and restarted by the specs), the development gateway
// with the edge filter, FailOpen.
import { afterAll, beforeAll } from 'vitest';
import { startStack, type Stack } from '../../e2e/lib/stack.js';
import { defineGatewaySpecs } from './specs/gateway-specs.js';

let stack: Stack;
const removed = new Set<string>();
const podName = (ip: string) => `sim-${ip}`;

beforeAll(async () => {
  stack = await startStack({
    sims: 3,
    subnet: '127.0.14',
    tokenizer: 'dummy',
    eppProcess: 'child',
    maxNumOfEndpoints: 2,
    stalenessMs: 1000,
    failureMode: 'FailOpen',
    sim: { mode: 'random', interTokenLatency: '5ms', prefillTimePerToken: '200us' },
  });
});
afterAll(async () => {
  await stack?.close();
});

defineGatewaySpecs(
  () => ({
    url: stack.gateway.url,
    servers: async () => stack.sims.map((s) => podName(s.ip)).filter((p) => !removed.has(p)),
    addressOf: async (server) => stack.sims.find((s) => podName(s.ip) === server)!.key,
    stopEpp: () => stack.epp.kill('SIGKILL'),
    startEpp: () => stack.epp.restart(),
    async removeServer(server) {
      const sim = stack.sims.find((s) => podName(s.ip) === server)!;
      removed.add(server);
      sim.kill('SIGKILL');
      await sim.exited;
    },
  }),
  { label: 'local stack' },
);
