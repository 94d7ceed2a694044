// Processes the routing benchmark starts: tokenroute's render endpoint, llm-d-inference-sim model
// servers that tokenize through it, tokenroute's EPP (a separate process, as deployed), and —
// for the llm-d peer — etcd + kube-apiserver with an InferencePool and one Pod per simulator,
// and llm-d's Go EPP (scripts/deps/llm-d-epp.sh, e2e/peers/llm-d-epp.md). Loopback only.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubStub, freePort, type HubStub } from '../lib/sims.js';

export { freePort };

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts a process and keeps its last output; with `logFile`, all of its output goes there too. */
export function startProc(name: string, cmd: string, args: string[], env: Record<string, string> = {}, logFile?: string): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const file = logFile ? createWriteStream(logFile) : undefined;
  const keep = (d: Buffer) => {
    file?.write(d);
    out = (out + d.toString()).slice(-30000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => (file?.end(), r())));
  return {
    name,
    child,
    log: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 4000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function waitHttp(url: string, proc: Proc | undefined, ms = 30_000, okBody?: RegExp): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited: ${proc.log().slice(-3000)}`);
    try {
      const r = await fetch(url);
      if (r.ok && (!okBody || okBody.test(await r.text()))) return;
    } catch {
      /* not up */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${ms} ms${proc ? `: ${proc.log().slice(-3000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SimSettings {
  model: string;
  maxNumSeqs: number;
  prefillOverheadMs: number;
  prefillPerTokenMs: number;
  interTokenLatencyMs: number;
  kvCacheBlocks: number;
  blockSize: number;
  maxModelLen: number;
  eventBatchSize: number;
}

export function simArgs(s: SimSettings, port: number, zmq: string, renderUrl: string): string[] {
  return [
    '--model', s.model, '--port', String(port), '--mode', 'random', '--seed', '7',
    '--latency-calculator', 'per-token',
    '--prefill-overhead', `${s.prefillOverheadMs}ms`, '--prefill-time-per-token', `${s.prefillPerTokenMs * 1000}us`,
    '--inter-token-latency', `${s.interTokenLatencyMs}ms`,
    '--max-num-seqs', String(s.maxNumSeqs), '--max-model-len', String(s.maxModelLen),
    '--enable-kvcache', '--kv-cache-size', String(s.kvCacheBlocks), '--block-size', String(s.blockSize), '--hash-seed', '0',
    '--zmq-endpoint', zmq, '--event-batch-size', String(s.eventBatchSize),
    '--render-url', renderUrl,
  ];
}

export interface Sim {
  ip: string;
  port: number;
  key: string;
  proc: Proc;
}

/**
 * Starts one simulator that tokenizes through tokenroute's render endpoint: a private mount
 * namespace whose /etc/hosts sends the simulator's startup "does the model exist" check to the
 * hub stub (test/integration/prefix/sims.ts explains why), POD_IP = ip:port so KV-event topics name
 * exactly this endpoint.
 */
export async function startSim(bin: string, hub: HubStub, ip: string, port: number, args: string[]): Promise<Sim> {
  const script = `mount --bind "$1" /etc/hosts && shift && exec "$@"`;
  const proc = startProc(`sim ${ip}:${port}`, 'unshare', ['--mount', 'sh', '-c', script, 'sh', hub.hostsFile, bin, ...args], {
    POD_IP: `${ip}:${port}`, POD_NAME: `sim-${port}`, POD_NAMESPACE: 'default', SSL_CERT_FILE: hub.certFile,
  });
  await waitHttp(`http://${ip}:${port}/health`, proc, 30_000);
  if (!/Render client created|HF tokenizer created/.test(proc.log()) && /simulated tokenizer/.test(proc.log())) {
    await proc.stop();
    throw new Error('simulator fell back to its dummy tokenizer (hub stub not reached)');
  }
  return { ip, port, key: `${ip}:${port}`, proc };
}

export { startHubStub, type HubStub };

// ---------------------------------------------------------------- kube-apiserver for llm-d's EPP

export interface Kube {
  url: string;
  token: string;
  kubeconfig: string;
  dir: string;
  procs: Proc[];
  api(method: string, path: string, body?: string, contentType?: string): string;
  stop(): Promise<void>;
}

export async function startKube(binDir: string): Promise<Kube> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-kube-'));
  const [pEtcd, pPeer, pKas] = [await freePort(), await freePort(), await freePort()];
  const etcd = startProc('etcd', join(binDir, 'etcd'), [
    '--name=default', `--data-dir=${dir}/etcd-data`,
    `--listen-client-urls=http://127.0.0.1:${pEtcd}`, `--advertise-client-urls=http://127.0.0.1:${pEtcd}`,
    `--listen-peer-urls=http://127.0.0.1:${pPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${pPeer}`,
    `--initial-cluster=default=http://127.0.0.1:${pPeer}`, '--logger=zap', '--log-level=warn',
  ]);
  execFileSync('openssl', ['genrsa', '-out', `${dir}/sa.key`, '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', `${dir}/sa.key`, '-pubout', '-out', `${dir}/sa.pub`], { stdio: 'ignore' });
  const token = execFileSync('openssl', ['rand', '-hex', '16']).toString().trim();
  writeFileSync(`${dir}/tokens.csv`, `${token},admin,admin-uid,system:masters\n`);
  await waitHttp(`http://127.0.0.1:${pEtcd}/health`, etcd, 20_000, /true/);
  const kas = startProc('kube-apiserver', join(binDir, 'kube-apiserver'), [
    `--etcd-servers=http://127.0.0.1:${pEtcd}`, `--cert-dir=${dir}/certs`, '--bind-address=127.0.0.1', `--secure-port=${pKas}`,
    '--advertise-address=127.0.0.1', '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true', '--authorization-mode=RBAC',
    `--token-auth-file=${dir}/tokens.csv`, `--service-account-issuer=https://127.0.0.1:${pKas}/`,
    `--service-account-key-file=${dir}/sa.pub`, `--service-account-signing-key-file=${dir}/sa.key`,
    '--disable-admission-plugins=ServiceAccount', '--enable-priority-and-fairness=false', '--profiling=false',
  ]);
  const url = `https://127.0.0.1:${pKas}`;
  const api = (method: string, path: string, body?: string, contentType = 'application/json'): string => {
    const args = ['-ksS', '--fail-with-body', '-X', method, '-H', `Authorization: Bearer ${token}`, `${url}${path}`];
    if (body !== undefined) args.push('-H', `Content-Type: ${contentType}`, '--data-binary', body);
    return execFileSync('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if (api('GET', '/readyz') === 'ok') break;
    } catch {
      /* not up */
    }
    if (kas.child.exitCode !== null || Date.now() > deadline) throw new Error(`kube-apiserver not ready: ${kas.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: envtest, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "${token}"}}]
contexts: [{name: envtest, context: {cluster: envtest, user: admin, namespace: default}}]
current-context: envtest
`);
  return {
    url, token, kubeconfig, dir, procs: [etcd, kas], api,
    async stop() {
      await kas.stop();
      await etcd.stop();
    },
  };
}

/** InferencePool CRD (GIE v1.4.0's, from the Go module cache) + pool + one Ready Pod per sim (with its extra labels, e.g. llm-d.ai/role). */
export async function createPool(kube: Kube, repoRoot: string, pool: string, sims: { ip: string; port: number; labels?: Record<string, string> }[], eppPort: number): Promise<void> {
  const modcache = execFileSync('go', ['env', 'GOMODCACHE']).toString().trim();
  const gie = join(modcache, 'sigs.k8s.io', 'gateway-api-inference-extension@v1.4.0', 'config', 'crd', 'bases');
  let crd = join(gie, 'inference.networking.k8s.io_inferencepools.yaml');
  if (!existsSync(crd)) crd = join(repoRoot, 'manifests', 'crds', 'inferencepools.yaml');
  const exists = (() => {
    try {
      kube.api('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/inferencepools.inference.networking.k8s.io');
      return true;
    } catch {
      return false;
    }
  })();
  if (!exists) {
    kube.api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', readFileSync(crd, 'utf8'), 'application/yaml');
    for (const f of ['inference.networking.x-k8s.io_inferenceobjectives.yaml', 'inference.networking.x-k8s.io_inferencemodelrewrites.yaml']) {
      if (existsSync(join(gie, f))) kube.api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', readFileSync(join(gie, f), 'utf8'), 'application/yaml');
    }
    for (let i = 0; i < 100; i++) {
      try {
        if (kube.api('GET', '/apis/inference.networking.k8s.io/v1').includes('"inferencepools"')) break;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  kube.api('POST', '/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools', JSON.stringify({
    apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: pool },
    spec: { selector: { matchLabels: { app: pool } }, targetPorts: [...new Set(sims.map((s) => s.port))].map((number) => ({ number })), endpointPickerRef: { name: 'llm-d-epp', port: { number: eppPort } } },
  }));
  sims.forEach((s, i) => {
    const name = `${pool}-${i}`;
    kube.api('POST', '/api/v1/namespaces/default/pods', JSON.stringify({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, labels: { ...(s.labels ?? {}), app: pool }, annotations: { 'inference.networking.k8s.io/active-ports': String(s.port) } },
      spec: { containers: [{ name: 'sim', image: 'llm-d-inference-sim:local' }] },
    }));
    kube.api('PATCH', `/api/v1/namespaces/default/pods/${name}/status`, JSON.stringify({
      status: { phase: 'Running', podIP: s.ip, podIPs: [{ ip: s.ip }], hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }] },
    }), 'application/merge-patch+json');
  });
}

export function deletePool(kube: Kube, pool: string, n: number): void {
  for (let i = 0; i < n; i++) {
    try {
      kube.api('DELETE', `/api/v1/namespaces/default/pods/${pool}-${i}?gracePeriodSeconds=0`);
    } catch {
      /* gone */
    }
  }
  try {
    kube.api('DELETE', `/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools/${pool}`);
  } catch {
    /* gone */
  }
}

// ---------------------------------------------------------------- the two EPPs, as benchmarks start them

export interface StartedEpp {
  readonly proc: Proc;
  readonly grpcPort: number;
  readonly metricsPort: number;
}

/** Runs `cmd args` pinned to the given CPUs (taskset execs the command: the pid stays the EPP's). */
function pinned(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
}

/**
 * tokenroute's EPP (the CLI, plaintext) over static endpoints `host:port`, ready when its metrics
 * answer. `configFile` absent: its built-in default profile (GIE's).
 */
export async function startTokenrouteEpp(o: { cli: string; endpoints: readonly string[]; configFile?: string; cpus?: string; name?: string }): Promise<StartedEpp> {
  const [grpcPort, health, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const eppArgs = [o.cli, 'epp', '--host', '127.0.0.1', '--grpc-port', String(grpcPort), '--grpc-health-port', String(health), '--metrics-port', String(metricsPort),
    '--secure-serving', 'false', '--static-endpoints', o.endpoints.join(','), '--log-level', 'warn'];
  if (o.configFile) eppArgs.push('--config-file', o.configFile);
  const [cmd, args] = pinned(o.cpus, process.execPath, eppArgs);
  const proc = startProc(o.name ?? 'tokenroute epp', cmd, args);
  await waitHttp(`http://127.0.0.1:${metricsPort}/metrics`, proc, 60_000);
  return { proc, grpcPort, metricsPort };
}

/**
 * tokenroute's EPP in Kubernetes mode, as deployed, over an InferencePool of `servers` created in
 * `kube` (the same objects llm-d's EPP gets); ready when it reports every pod ready.
 */
export async function startTokenrouteEppInPool(o: { cli: string; kube: Kube; repo: string; servers: readonly { ip: string; port: number }[]; cpus?: string }): Promise<StartedEpp & { pool: string }> {
  const [grpcPort, health, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const pool = `bench-${Date.now() % 1_000_000}`;
  await createPool(o.kube, o.repo, pool, [...o.servers], grpcPort);
  const eppArgs = [o.cli, 'epp', '--host', '127.0.0.1', '--grpc-port', String(grpcPort), '--grpc-health-port', String(health), '--metrics-port', String(metricsPort),
    '--secure-serving', 'false', '--pool-name', pool, '--pool-namespace', 'default', '--log-level', 'warn'];
  const [cmd, args] = pinned(o.cpus, process.execPath, eppArgs);
  const proc = startProc('tokenroute epp (kubernetes)', cmd, args, { KUBECONFIG: o.kube.kubeconfig, POD_NAME: 'tokenroute-epp-7f6c9-k2v8d', NAMESPACE: 'default' });
  await waitHttp(`http://127.0.0.1:${metricsPort}/metrics`, proc, 60_000, new RegExp(`^inference_pool_ready_pods\\{[^}]*\\} ${o.servers.length}$`, 'm'));
  return { proc, grpcPort, metricsPort, pool };
}

/**
 * llm-d's Go EPP (scripts/deps/llm-d-epp.sh) over an InferencePool of `servers` created in `kube`;
 * ready when it reports every pod ready. `configFile` absent: its built-in default profile.
 */
export async function startLlmdEpp(o: { bin: string; kube: Kube; repo: string; servers: readonly { ip: string; port: number }[]; configFile?: string; cpus?: string; extraArgs?: readonly string[] }): Promise<StartedEpp & { pool: string }> {
  const [grpcPort, health, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const pool = `bench-${Date.now() % 1_000_000}`;
  await createPool(o.kube, o.repo, pool, [...o.servers], grpcPort);
  const eppArgs = ['--secure-serving=false', '--grpc-port', String(grpcPort), '--grpc-health-port', String(health), '--metrics-port', String(metricsPort),
    '--metrics-endpoint-auth=false', '--tracing=false', '--enable-pprof=false', '--v', '1', '--pool-name', pool, '--pool-namespace', 'default'];
  if (o.configFile) eppArgs.push('--config-file', o.configFile);
  eppArgs.push(...(o.extraArgs ?? []));
  const [cmd, args] = pinned(o.cpus, o.bin, eppArgs);
  const proc = startProc('llm-d-epp', cmd, args, {
    KUBECONFIG: o.kube.kubeconfig, POD_NAME: 'llm-d-epp-5d9c7-x2x4q', NAMESPACE: 'default', OTEL_TRACES_SAMPLER_ARG: '0', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317',
  });
  await waitHttp(`http://127.0.0.1:${metricsPort}/metrics`, proc, 60_000, new RegExp(`^inference_pool_ready_pods\\{[^}]*\\} ${o.servers.length}$`, 'm'));
  return { proc, grpcPort, metricsPort, pool };
}
