// Test harness: a real etcd + kube-apiserver on 127.0.0.1, started the way controller-runtime's
// envtest starts them (free loopback ports, a temp dir, a static token file with a
// system:masters admin, service-account keys, RBAC authorization; flag set from
// scripts/deps/README.md). Each test file starts one, installs our CRDs, and stops it in `after`.
// `restart()` stops and starts the API server on the same port (etcd keeps running) for the
// watch-recovery tests. Missing binaries are an error that says how to build them, never a skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest, Agent } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';

export interface TestUser {
  readonly name: string;
  readonly groups?: readonly string[];
}

export interface KubeApiServerOptions {
  /** Non-admin identities to put in the token file (e.g. the EPP's service identity). */
  readonly users?: readonly TestUser[];
  /** Install the CRDs under manifests/crds before returning (default true). */
  readonly installCrds?: boolean;
  /** Extra CRD files (test fixtures) to install with ours. */
  readonly extraCrdFiles?: readonly string[];
}

export interface KubeApiServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Path of a kubeconfig file for `user` (default the admin). */
  kubeconfigPath(user?: string): string;
  kubeConfig(user?: string): KubeConfig;
  token(user?: string): string;
  /** Raw JSON request as `user` (default admin); resolves status and parsed body. */
  request(method: string, path: string, body?: unknown, opts?: { user?: string; contentType?: string }): Promise<{ status: number; body: any }>;
  /** Kills the API server and starts it again on the same port (etcd keeps its data). */
  restart(opts?: { downMs?: number }): Promise<void>;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export const ADMIN = 'admin';

/** The repository root: the first parent holding tokenroute's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'tokenroute') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tokenroute repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function binDir(): string {
  return process.env.TOKENROUTE_BIN_DIR || join(repoRoot(), '.cache', 'bin');
}

function requireBinary(name: string): string {
  const path = join(binDir(), name);
  if (!existsSync(path)) {
    throw new Error(`${name} not found at ${path}: run scripts/deps/all.sh (it builds etcd and kube-apiserver into .cache/bin)`);
  }
  return path;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(intervalMs);
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed test must not leave etcd / kube-apiserver running.
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

async function stopChild(child: ChildProcess | undefined, graceMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const insecureAgent = new Agent({ rejectUnauthorized: false, keepAlive: false });

function rawRequest(url: string, method: string, token: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = httpsRequest(
      url,
      {
        method,
        agent: insecureAgent,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(data !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* plain text (e.g. /readyz) */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const etcdBin = requireBinary('etcd');
  const kasBin = requireBinary('kube-apiserver');
  const dir = await mkdtemp(join(tmpdir(), 'tokenroute-envtest-'));
  await mkdir(join(dir, 'etcd-data'));
  await mkdir(join(dir, 'certs'));
  const [etcdPort, peerPort, kasPort] = [await freePort(), await freePort(), await freePort()];

  const tokens = new Map<string, string>();
  const lines: string[] = [];
  const addUser = (name: string, groups: readonly string[]) => {
    const token = randomBytes(16).toString('hex');
    tokens.set(name, token);
    lines.push(`${token},${name},${name}-uid${groups.length ? `,"${groups.join(',')}"` : ''}`);
  };
  addUser(ADMIN, ['system:masters']);
  for (const u of opts.users ?? []) addUser(u.name, u.groups ?? []);
  await writeFile(join(dir, 'tokens.csv'), lines.join('\n') + '\n');

  // Service-account signing keys (the API server requires them even though no pod runs).
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));

  const url = `https://127.0.0.1:${kasPort}`;
  const etcdArgs = [
    '--name=default',
    `--data-dir=${join(dir, 'etcd-data')}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    '--logger=zap',
    '--log-level=warn',
  ];
  const kasArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--cert-dir=${join(dir, 'certs')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${kasPort}`,
    '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--authorization-mode=RBAC',
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    `--service-account-issuer=${url}/`,
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--disable-admission-plugins=ServiceAccount',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ];

  const logTail = (file: string) => readFile(join(dir, file), 'utf8').then((t) => t.split('\n').slice(-30).join('\n'), () => '');
  const spawnLogged = async (bin: string, args: string[], log: string) => {
    const { openSync } = await import('node:fs');
    const fd = openSync(join(dir, log), 'a');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    track(child);
    return child;
  };

  let etcd: ChildProcess | undefined;
  let kas: ChildProcess | undefined;
  const adminToken = tokens.get(ADMIN)!;

  const startEtcd = async () => {
    etcd = await spawnLogged(etcdBin, etcdArgs, 'etcd.log');
    const child = etcd;
    await waitFor(
      'etcd /health',
      async () => {
        if (child.exitCode !== null) throw new Error(`etcd exited (${child.exitCode}):\n${await logTail('etcd.log')}`);
        const res = await fetch(`http://127.0.0.1:${etcdPort}/health`).catch(() => undefined);
        return res?.ok ? ((await res.json()) as { health: string }).health === 'true' : false;
      },
      20_000,
      50,
    );
  };

  const startApiServer = async () => {
    kas = await spawnLogged(kasBin, kasArgs, 'kube-apiserver.log');
    const child = kas;
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        if (child.exitCode !== null) throw new Error(`kube-apiserver exited (${child.exitCode}):\n${await logTail('kube-apiserver.log')}`);
        const res = await rawRequest(`${url}/readyz`, 'GET', adminToken).catch(() => undefined);
        return res?.status === 200 && res.body === 'ok';
      },
      60_000,
      50,
    );
  };

  // The API server holds watches open for minutes on SIGTERM; tests stop it like a crash.
  const stopApiServer = async () => {
    await stopChild(kas, 0, 'SIGKILL');
    kas = undefined;
  };

  const kubeconfigText = (user: string) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'envtest', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: user, user: { token: tokens.get(user) } }],
      contexts: [{ name: 'envtest', context: { cluster: 'envtest', user } }],
      'current-context': 'envtest',
    });

  try {
    await startEtcd();
    await startApiServer();
    for (const user of tokens.keys()) await writeFile(join(dir, `kubeconfig-${user}`), kubeconfigText(user));
  } catch (err) {
    await stopChild(kas);
    await stopChild(etcd);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const server: KubeApiServer = {
    url,
    port: kasPort,
    dir,
    kubeconfigPath: (user = ADMIN) => {
      if (!tokens.has(user)) throw new Error(`unknown test user ${user}`);
      return join(dir, `kubeconfig-${user}`);
    },
    kubeConfig(user = ADMIN) {
      const kc = new KubeConfig();
      kc.loadFromFile(this.kubeconfigPath(user));
      return kc;
    },
    token(user = ADMIN) {
      const t = tokens.get(user);
      if (!t) throw new Error(`unknown test user ${user}`);
      return t;
    },
    request(method, path, body, ropts = {}) {
      return rawRequest(`${url}${path}`, method, this.token(ropts.user), body, ropts.contentType);
    },
    async restart(ropts = {}) {
      await stopApiServer();
      if (ropts.downMs) await sleep(ropts.downMs);
      await startApiServer();
    },
    stopApiServer,
    startApiServer,
    async stop() {
      await stopApiServer();
      await stopChild(etcd);
      await rm(dir, { recursive: true, force: true });
    },
  };

  if (opts.installCrds ?? true) {
    try {
      const files = (await readdir(join(repoRoot(), 'manifests', 'crds'))).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      await installCrds(server, [...files.map((f) => join(repoRoot(), 'manifests', 'crds', f)), ...(opts.extraCrdFiles ?? [])]);
    } catch (err) {
      await server.stop();
      throw err;
    }
  }
  return server;
}

/** Creates each CRD in `files` and waits until the API server serves its resource. */
export async function installCrds(server: KubeApiServer, files: readonly string[]): Promise<void> {
  const crds: any[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      const obj = doc.toJS();
      if (obj?.kind === 'CustomResourceDefinition') crds.push(obj);
    }
  }
  for (const crd of crds) {
    const res = await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    if (res.status !== 201 && res.status !== 409) throw new Error(`installing CRD ${crd.metadata.name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  }
  for (const crd of crds) {
    const { group, names, versions } = crd.spec;
    for (const v of versions as { name: string; served: boolean }[]) {
      if (!v.served) continue;
      await waitFor(`CRD ${crd.metadata.name} served at ${group}/${v.name}`, async () => {
        const res = await server.request('GET', `/apis/${group}/${v.name}`);
        return res.status === 200 && (res.body.resources as { name: string }[]).some((r) => r.name === names.plural);
      }, 20_000, 50);
    }
  }
}

export async function createNamespace(server: KubeApiServer, name: string): Promise<void> {
  const res = await server.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (res.status !== 201 && res.status !== 409) throw new Error(`create namespace ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
}

/** Throws with the API server's message unless the status is one of `ok`. */
export function expectStatus(res: { status: number; body: any }, ok: readonly number[], what: string): any {
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${typeof res.body === 'string' ? res.body : res.body?.message ?? JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * The real CRDs of a project scripts/deps/crds.sh fetched from its Go module into .cache/crds
 * (gateway-api, istio, envoy-gateway, prometheus-operator).
 */
export function upstreamCrdFiles(project: string): string[] {
  const dir = join(repoRoot(), '.cache', 'crds', project);
  if (!existsSync(dir)) throw new Error(`${dir} missing: run bash scripts/deps/crds.sh`);
  return readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort().map((f) => join(dir, f));
}

/** kind → {path prefix, plural, namespaced}, from the API server's discovery documents. */
export function apiResolver(server: KubeApiServer): (apiVersion: string, kind: string) => Promise<{ base: string; plural: string; namespaced: boolean }> {
  const cache = new Map<string, { name: string; kind: string; namespaced: boolean }[]>();
  return async (apiVersion, kind) => {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!cache.has(base)) cache.set(base, expectStatus(await server.request('GET', base), [200], `discovery ${base}`).resources);
    const r = cache.get(base)!.find((x) => x.kind === kind && !x.name.includes('/'));
    if (!r) throw new Error(`${kind} is not served at ${base}`);
    return { base, plural: r.name, namespaced: r.namespaced };
  };
}

/**
 * Server-side apply as a dry run with strict field validation; resolves the HTTP status and the
 * API server's message (an object's namespace: its own, else `namespace`).
 */
export async function dryApply(
  server: KubeApiServer,
  resolve: ReturnType<typeof apiResolver>,
  obj: Record<string, any>,
  namespace = 'default',
): Promise<{ status: number; message: string }> {
  const { base, plural, namespaced } = await resolve(obj.apiVersion, obj.kind);
  const ns = obj.metadata?.namespace ?? namespace;
  const path = `${base}${namespaced ? `/namespaces/${ns}` : ''}/${plural}/${obj.metadata.name}?dryRun=All&fieldManager=tokenroute-dry-run&fieldValidation=Strict&force=true`;
  const res = await server.request('PATCH', path, stringify(obj), { contentType: 'application/apply-patch+yaml' });
  return { status: res.status, message: res.body?.message ?? '' };
}
