// The container stack for the container e2e suite (test/containers/): tokenroute's real images
// built from the repo's Dockerfiles and started with testcontainers on a network the suite
// creates — two llm-d-inference-sim model servers, the EPP (`tokenroute epp`, standalone mode)
// and the development gateway with the edge filter (`tokenroute gateway`, same image), as a
// cluster would run them. The host reaches only the gateway's port, published on 127.0.0.1.
//
// Engine: the Docker API at $DOCKER_HOST or /var/run/docker.sock; else (this kind of machine)
// Debian's podman serving it (scripts/deps/podman.sh) with local base images
// (scripts/images/bases.sh), since no registry is reachable. Ryuk (the reaper) is disabled: its
// image cannot be pulled; the stack removes what it started.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { SIM_MODEL, simBinary } from './sims.js';

const ROOT = findPackageRoot();
const SIM_PORT = 8000;
const GATEWAY_PORT = 8080;

/** Lines KEY=VALUE printed by a script, as an object. */
function assignments(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of output.matchAll(/^([A-Z_]+)=(.*)$/gm)) out[m[1]] = m[2];
  return out;
}

/**
 * Makes testcontainers reach an engine and returns the Dockerfile's base-image build arguments
 * (empty: the Dockerfile's public defaults).
 */
export function prepareContainerEngine(): Record<string, string> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  // Containers are reached on ports published on the loopback, never on the bridge's address.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  const local = !process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock');
  if (local) {
    const engine = assignments(execFileSync('bash', [join(ROOT, 'scripts/deps/podman.sh')], { encoding: 'utf8', timeout: 600_000 }));
    process.env.DOCKER_HOST = engine.DOCKER_HOST;
  }
  if (process.env.BUILD_IMAGE && process.env.RUNTIME_IMAGE) return { BUILD_IMAGE: process.env.BUILD_IMAGE, RUNTIME_IMAGE: process.env.RUNTIME_IMAGE };
  if (!local) return {};
  const bases = assignments(execFileSync('bash', [join(ROOT, 'scripts/images/bases.sh')], { encoding: 'utf8', timeout: 900_000 }));
  return { BUILD_IMAGE: bases.BUILD_IMAGE, RUNTIME_IMAGE: bases.RUNTIME_IMAGE };
}

export interface ContainerImages {
  readonly epp: string;
  readonly sim: string;
}

/** Builds the EPP image (Dockerfile, target epp) and the simulator image (e2e/containers/sim.Dockerfile). */
export async function buildImages(buildArgs: Record<string, string>): Promise<ContainerImages> {
  const epp = 'localhost/tokenroute/epp:e2e';
  await GenericContainer.fromDockerfile(ROOT, 'Dockerfile').withBuildArgs(buildArgs).withTarget('epp').build(epp, { deleteOnExit: false });
  const context = mkdtempSync(join(tmpdir(), 'tokenroute-sim-image-'));
  try {
    copyFileSync(simBinary(), join(context, 'llm-d-inference-sim'));
    copyFileSync(join(ROOT, 'e2e/containers/sim.Dockerfile'), join(context, 'Dockerfile'));
    const sim = 'localhost/tokenroute/llm-d-inference-sim:e2e';
    await GenericContainer.fromDockerfile(context, 'Dockerfile').build(sim, { deleteOnExit: false });
    return { epp, sim };
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

export interface ContainerStackOptions {
  readonly images: ContainerImages;
  readonly eppConfig: string;
  readonly filterConfig: string;
  readonly sims?: number;
  /** The gateway's failureMode (FailOpen routes round-robin over the sims while the EPP is down). */
  readonly failureMode?: 'FailOpen' | 'FailClose';
}

export interface ContainerStack {
  readonly network: StartedNetwork;
  /** The simulators, with their `ip:port` on the stack's network (the EPP's endpoint keys). */
  readonly sims: { readonly name: string; readonly container: StartedTestContainer; readonly key: string }[];
  readonly epp: StartedTestContainer;
  readonly gateway: StartedTestContainer;
  /** `http://127.0.0.1:<published port>` of the gateway. */
  readonly url: string;
  /** Stops the EPP container and starts it again with the same command (a restart). */
  restartEpp(): Promise<void>;
  stopEpp(): Promise<void>;
  close(): Promise<void>;
}

function simContainer(o: ContainerStackOptions, network: StartedNetwork, name: string): GenericContainer {
  return new GenericContainer(o.images.sim)
    .withNetwork(network)
    .withNetworkAliases(name)
    // POD_IP only names the simulator's KV-event topic (required with --enable-kvcache).
    .withEnvironment({ POD_NAME: name, POD_NAMESPACE: 'default', POD_IP: name })
    .withCommand([
      '--model', SIM_MODEL, '--port', String(SIM_PORT), '--mode', 'random',
      '--enable-kvcache', '--kv-cache-size', '256', '--block-size', '16', '--force-dummy-tokenizer',
      '--max-model-len', '8192', '--max-num-seqs', '8', '--prefill-time-per-token', '200us', '--inter-token-latency', '5ms',
    ])
    .withExposedPorts(SIM_PORT)
    .withWaitStrategy(Wait.forHttp('/v1/models', SIM_PORT))
    .withStartupTimeout(60_000);
}

/** A container whose root filesystem is mounted read-only (as a hardened Deployment runs it). */
class ReadOnlyRootContainer extends GenericContainer {
  withReadonlyRootfs(): this {
    this.hostConfig.ReadonlyRootfs = true;
    return this;
  }
}

function eppContainer(o: ContainerStackOptions, network: StartedNetwork, endpoints: string): GenericContainer {
  return new ReadOnlyRootContainer(o.images.epp)
    .withReadonlyRootfs()
    .withNetwork(network)
    .withNetworkAliases('epp')
    .withCommand(['epp', '--static-endpoints', endpoints, '--pool-name', 'container-pool', '--secure-serving=false', '--config-text', o.eppConfig])
    .withExposedPorts(9090)
    .withWaitStrategy(Wait.forHttp('/metrics', 9090))
    .withStartupTimeout(60_000);
}

export async function startContainerStack(o: ContainerStackOptions): Promise<ContainerStack> {
  const started: StartedTestContainer[] = [];
  const network = await new Network().start();
  const stopAll = async () => {
    for (const c of started.splice(0).reverse()) await c.stop({ timeout: 2_000 }).catch(() => undefined);
    await network.stop().catch(() => undefined);
  };
  try {
    const sims = [];
    for (let i = 0; i < (o.sims ?? 2); i++) {
      const name = `sim-${i}`;
      const c = await simContainer(o, network, name).start();
      started.push(c);
      sims.push({ name, container: c, key: `${c.getIpAddress(network.getName())}:${SIM_PORT}` });
    }
    const endpoints = sims.map((s) => s.key).join(',');
    let epp = await eppContainer(o, network, endpoints).start();
    started.push(epp);
    const gateway = await new GenericContainer(o.images.epp)
      .withNetwork(network)
      .withCommand([
        'gateway', '--listen', `0.0.0.0:${GATEWAY_PORT}`, '--epp', 'epp:9002', '--filter-config', o.filterConfig,
        '--failure-mode', o.failureMode ?? 'FailOpen', '--fallback-endpoints', endpoints, '--epp-connect-timeout', '1s', '--message-timeout', '10s',
      ])
      .withExposedPorts(GATEWAY_PORT)
      // GET /v1/models goes gateway → EPP → a simulator: ready when the whole chain is.
      .withWaitStrategy(Wait.forHttp('/v1/models', GATEWAY_PORT))
      .withStartupTimeout(60_000)
      .start();
    started.push(gateway);
    const stack: ContainerStack = {
      network,
      sims,
      get epp() {
        return epp;
      },
      gateway,
      url: `http://127.0.0.1:${gateway.getMappedPort(GATEWAY_PORT)}`,
      async stopEpp() {
        await epp.stop({ timeout: 2_000 });
        started.splice(started.indexOf(epp), 1);
      },
      async restartEpp() {
        if (started.includes(epp)) await stack.stopEpp();
        epp = await eppContainer(o, network, endpoints).start();
        started.push(epp);
      },
      close: stopAll,
    };
    return stack;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
