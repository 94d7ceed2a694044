// A disaggregated (P/D) stack on one machine, as llm-d deploys it: prefill llm-d-inference-sim
// servers, decode servers each behind llm-d's own routing sidecar (`pd-sidecar` of
// llm-d-inference-scheduler v0.7.1, scripts/deps/pd-sidecar.sh), tokenroute's EPP in standalone
// mode reading the roles from an --endpoints-file (llm-d.ai/role), and the development gateway
// with the edge filter in front. A request goes gateway → EPP (decode endpoint = a sidecar,
// x-prefiller-host-port = a prefill server) → sidecar → prefill server (do_remote_decode) →
// decode server (do_remote_prefill) → back through the gateway.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../epp/src/main.js';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import type { Logger } from '../../epp/src/observability/logger.js';
import { startGateway, type RunningGateway } from '../../gateway/index.js';
import { SIM_MODEL, dieWithParentPrefix, freePort, startSim, type Sim } from './sims.js';
import { stackFilterConfig } from './stack.js';

export interface Sidecar {
  readonly port: number;
  /** `127.0.0.1:port`: the decode endpoint the EPP chooses. */
  readonly key: string;
  readonly decode: Sim;
  readonly log: () => string;
  stop(): Promise<void>;
}

export interface PdStack {
  readonly prefill: Sim[];
  readonly decode: Sidecar[];
  readonly epp: RunningEpp;
  readonly gateway: RunningGateway;
  readonly endpointsFile: string;
  readonly hmacKey: string;
  close(): Promise<void>;
}

export interface PdStackOptions {
  readonly prefill?: number;
  readonly decode?: number;
  /** The EndpointPickerConfig (gets the filter's HMAC key). */
  readonly eppConfig: (hmacKey: string) => string;
  /** Simulated prefill time per uncached prompt token on every server (default 1ms). */
  readonly prefillTimePerToken?: string;
  /** --max-num-seqs of the prefill servers (default the simulator's 8): 1 makes a queue easy to build. */
  readonly prefillMaxNumSeqs?: number;
  readonly logger: Logger;
}

export function sidecarBinary(): string {
  const p = process.env.PD_SIDECAR ?? join(findPackageRoot(), '.cache', 'bin', 'pd-sidecar');
  if (!existsSync(p)) throw new Error(`pd-sidecar not found at ${p}: run bash scripts/deps/pd-sidecar.sh`);
  return p;
}

/** llm-d's sidecar on `port` in front of the decode server on localhost:`vllmPort` (plain HTTP, NIXL v2 protocol). */
export async function startSidecar(port: number, decode: Sim): Promise<Sidecar> {
  const prefix = dieWithParentPrefix();
  const args = ['--port', String(port), '--vllm-port', String(decode.port), '--secure-proxy=false', '--kv-connector', 'nixlv2'];
  const command = [...prefix, sidecarBinary(), ...args];
  const child: ChildProcess = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pd-sidecar on ${port} exited: ${out.slice(-2000)}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pd-sidecar on ${port} did not become healthy: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    key: `127.0.0.1:${port}`,
    decode,
    log: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The endpoints file of the stack: prefill servers directly, decode servers through their sidecars. */
export function pdEndpointsYaml(prefill: readonly Sim[], decode: readonly Sidecar[]): string {
  const lines = ['endpoints:'];
  for (const s of prefill) lines.push(`  - {address: 127.0.0.1, port: ${s.port}, labels: {llm-d.ai/role: prefill}, name: prefill-${s.port}}`);
  for (const d of decode) lines.push(`  - {address: 127.0.0.1, port: ${d.port}, labels: {llm-d.ai/role: decode}, name: decode-${d.port}}`);
  return lines.join('\n') + '\n';
}

export async function startPdStack(o: PdStackOptions): Promise<PdStack> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const hmacKey = randomBytes(32).toString('base64');
    const zmq = `tcp://127.0.0.1:${await freePort()}`; // nothing binds it: the approximate scorer is used
    const common = { ip: '127.0.0.1', zmqEndpoint: zmq, mode: 'random' as const, prefillTimePerToken: o.prefillTimePerToken ?? '1ms', kvCacheSize: 1024 };
    const prefill: Sim[] = [];
    const decode: Sidecar[] = [];
    for (let i = 0; i < (o.prefill ?? 2); i++) {
      const sim = await startSim({ ...common, port: await freePort('0.0.0.0'), podName: `prefill-${i}`, ...(o.prefillMaxNumSeqs !== undefined ? { maxNumSeqs: o.prefillMaxNumSeqs } : {}) });
      cleanups.push(() => sim.stop());
      prefill.push(sim);
    }
    for (let i = 0; i < (o.decode ?? 2); i++) {
      const sim = await startSim({ ...common, port: await freePort('0.0.0.0'), podName: `decode-${i}` });
      cleanups.push(() => sim.stop());
      const sidecar = await startSidecar(await freePort('0.0.0.0'), sim);
      cleanups.push(() => sidecar.stop());
      decode.push(sidecar);
    }
    const dir = await mkdtemp(join(tmpdir(), 'tokenroute-pd-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const endpointsFile = join(dir, 'endpoints.yaml');
    await writeFile(endpointsFile, pdEndpointsYaml(prefill, decode));
    const epp = await startEpp(
      embeddedEppOptions({ configText: o.eppConfig(hmacKey), endpointsFile, refreshPrometheusMetricsIntervalMs: 1000, logLevel: 'debug', logger: o.logger.child({ component: 'epp' }) }),
    );
    cleanups.push(() => epp.close());
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !epp.datastore.candidates().every((c) => c.metrics.updatedAt > 0)) await new Promise((r) => setTimeout(r, 20));
    const gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      epp: `127.0.0.1:${epp.grpcPort}`,
      filter: { config: stackFilterConfig(hmacKey) },
      failureMode: 'FailClose',
      messageTimeoutMs: 10_000,
      logger: o.logger.child({ component: 'gateway' }),
    });
    cleanups.push(() => gateway.close());
    return { prefill, decode, epp, gateway, endpointsFile, hmacKey, close: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export { SIM_MODEL };
