// Container e2e: tokenroute in its real images, as a cluster runs it. Real components, all in
// containers started with testcontainers on a network this suite creates (e2e/lib/containers.ts):
// the EPP image built from the repo's Dockerfile (target epp) running `tokenroute epp` with a
// read-only root filesystem as user 65532, the same image running the development gateway with
// the edge filter, and two llm-d-inference-sim servers in a scratch image. The host reaches only
// the gateway's published port on 127.0.0.1. The engine is Docker where there is one, else
// Debian's podman serving the Docker API (scripts/deps/podman.sh) with local base images.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getContainerRuntimeClient } from 'testcontainers';
import { buildImages, prepareContainerEngine, startContainerStack, type ContainerStack } from '../../e2e/lib/containers.js';
import { defaultEppConfig, stackFilterConfig } from '../../e2e/lib/stack.js';
import { call, chatBody, familyPrompt } from '../../e2e/lib/workload.js';

let stack: ContainerStack;

beforeAll(async () => {
  const buildArgs = prepareContainerEngine();
  const images = await buildImages(buildArgs);
  const hmacKey = randomBytes(32).toString('base64');
  stack = await startContainerStack({
    images,
    eppConfig: defaultEppConfig({ tokenizer: 'dummy', zmqEndpoint: 'tcp://127.0.0.1:5557', hmacKey, maxNumOfEndpoints: 1, stalenessMs: 2000 }),
    filterConfig: stackFilterConfig(hmacKey),
    failureMode: 'FailOpen',
  });
}, 1_200_000);

afterAll(async () => {
  await stack?.close();
});

const chat = (system: string, question: string, headers: Record<string, string> = {}) => call(stack.url, '/v1/chat/completions', chatBody(system, question, { max_tokens: 2 }), headers);

describe('tokenroute in containers: gateway image → EPP image → simulator containers', () => {
  it('the EPP container runs as 65532 with a read-only root filesystem', async () => {
    const client = await getContainerRuntimeClient();
    const info = await client.container.inspect(client.container.getById(stack.epp.getId()));
    assert.equal(info.Config.User, '65532:65532');
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.equal(info.State.Running, true);
  });

  it('routes a chat completion through the EPP to a simulator on the container network', async () => {
    const r = await chat('You are terse.', 'Hello?');
    assert.equal(r.status, 200, r.error);
    assert.equal(r.pick, 'epp', 'the EPP chose the endpoint');
    assert.ok(stack.sims.some((s) => s.key === r.served), `served by ${r.served}`);
  });

  it('a prefix repeat lands on the same simulator', async () => {
    const system = familyPrompt(301, 250);
    const first = await chat(system, 'First question?');
    assert.equal(first.status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await chat(system, `Follow-up ${i}?`)).served, first.served, `repeat ${i}`);
  });

  it('a spoofed destination header does not steer routing', async () => {
    const system = familyPrompt(302, 250);
    const home = (await chat(system, 'Warm up.')).served!;
    const elsewhere = stack.sims.find((s) => s.key !== home)!.key;
    for (let i = 0; i < 3; i++) {
      const r = await chat(system, `Spoof ${i}.`, { 'x-gateway-destination-endpoint': elsewhere, 'x-gateway-destination-endpoint-served': elsewhere });
      assert.equal(r.status, 200);
      assert.equal(r.served, home, `attempt ${i}`);
    }
  });

  it('EPP container stopped: the FailOpen gateway keeps serving; restarted, the EPP routes again', async () => {
    await stack.stopEpp();
    const during = await chat('You are terse.', 'Anyone there?');
    assert.equal(during.status, 200, during.error);
    assert.equal(during.pick, 'fail-open');
    await stack.restartEpp();
    const restarted = Date.now();
    let pick: string | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && pick !== 'epp') {
      pick = (await chat('You are terse.', 'Back?')).pick;
      if (pick !== 'epp') await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(pick, 'epp', 'routing through the restarted EPP');
    console.log(`containers: the gateway routed through the restarted EPP container (new address) ${Date.now() - restarted} ms after it was ready`);
  });
});
