// Container e2e: tokenroute in its real images, as a cluster runs it. Real components, all in
// containers started with testcontainers on a network this suite creates (e2e/lib/containers.ts):
// the EPP image built from the repo's Dockerfile (target epp) running `tokenroute epp` with a
// read-only root filesystem as user 65532, the same image running the development gateway with
// the edge filter, and two llm-d-inference-sim servers in a scratch image. The host reaches only
// the gateway's published port on 127.0.0.1. The specs are the shared gateway specs
// (test/e2e/specs/gateway-specs.ts) a kind cluster and the local stack run too. The engine is Docker where there is one, else
// Debian's podman serving the Docker API (scripts/deps/podman.sh) with local base images.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getContainerRuntimeClient } from 'testcontainers';
import { buildImages, prepareContainerEngine, startContainerStack, type ContainerStack } from '../../e2e/lib/containers.js';
import { defaultEppConfig, stackFilterConfig } from '../../e2e/lib/stack.js';
import { defineGatewaySpecs } from '../e2e/specs/gateway-specs.js';
import { call, chatBody } from '../../e2e/lib/workload.js';

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

const removed = new Set<string>();

describe('tokenroute in containers: gateway image → EPP image → simulator containers', () => {
  it('the EPP container runs as 65532 with a read-only root filesystem', async () => {
    const client = await getContainerRuntimeClient();
    const info = await client.container.inspect(client.container.getById(stack.epp.getId()));
    assert.equal(info.Config.User, '65532:65532');
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.equal(info.State.Running, true);
  });

  it('the gateway reaches the EPP by its network name (not failing open)', async () => {
    // The gateway dials `epp:9002`; without name resolution on the network it fails open and
    // round-robins, which the routing specs below would only show as lost affinity.
    const r = await call(stack.url, '/v1/chat/completions', chatBody('You are terse.', 'Who routed this?', { max_tokens: 2 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tokenroute-gateway-pick'), 'epp');
  });
});

defineGatewaySpecs(
  () => ({
    url: stack.url,
    servers: async () => stack.sims.map((s) => s.name).filter((n) => !removed.has(n)),
    addressOf: async (server) => stack.sims.find((s) => s.name === server)!.key,
    stopEpp: () => stack.stopEpp(),
    startEpp: () => stack.restartEpp(),
    async removeServer(server) {
      removed.add(server);
      await stack.sims.find((s) => s.name === server)!.container.stop({ timeout: 2_000 });
    },
  }),
  { label: 'containers', seed: 900 },
);
