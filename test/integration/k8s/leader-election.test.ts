// Integration: active-passive HA with three EPP processes.
// Real components started: etcd + kube-apiserver on 127.0.0.1 (our CRDs installed), three
// `tokenroute epp --pool-name ... --ha-enable-leader-election` child processes (the real CLI,
// a 2 s lease), gRPC health clients on each replica's health port and an ext_proc client.
// Checks: exactly one replica is ready and it holds the Lease named as GIE names it; followers
// are synced (warm) but not ready; after SIGKILL of the leader a follower is ready within the
// lease duration; after SIGTERM the lease is released and the last replica takes over at once.
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { leaseNameForPool } from '../../../epp/src/k8s/leader-election.js';
import { newExtProcClient } from '../../epp/extproc/harness.js';
import { createNamespace, sleep, startKubeApiServer, waitFor, type KubeApiServer } from './harness.js';
import { createPod, createPool } from './objects.js';
import { decide } from './epp.js';

const NS = 'ha';
const POOL = 'ha-pool';
const LEASE_MS = 2000;
const CLI = fileURLToPath(new URL('../../../cli/tokenroute.js', import.meta.url));

type HealthClient = grpc.Client & {
  Check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};

function healthClient(port: number): HealthClient {
  const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

function check(c: HealthClient, service: string): Promise<string> {
  return new Promise((resolve) => c.Check({ service }, { deadline: Date.now() + 1000 }, (err, res) => resolve(err ? `error:${err.code}` : res!.status)));
}

interface Replica {
  child: ChildProcess;
  log: Record<string, any>[];
  grpcPort: number;
  health: HealthClient;
  identity: string;
  alive: boolean;
}

let server: KubeApiServer;
const replicas: Replica[] = [];

async function startReplica(i: number): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [
      CLI, 'epp', '--pool-name', POOL, '--pool-namespace', NS, '--kubeconfig', server.kubeconfigPath(),
      '--ha-enable-leader-election', '--leader-election-lease-duration', `${LEASE_MS}ms`,
      '--leader-election-renew-deadline', '1500ms', '--leader-election-retry-period', '250ms',
      '--secure-serving=false', '--grpc-port', '0', '--grpc-health-port', '0', '--metrics-port', '-1', '--host', '127.0.0.1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOSTNAME: `epp-${i}` } },
  );
  const log: Record<string, any>[] = [];
  let buf = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        log.push(JSON.parse(line));
      } catch {
        /* not JSON */
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const r = { child, log, alive: true } as Replica;
  child.once('exit', () => (r.alive = false));
  await waitFor(`replica ${i} serving`, () => {
    if (!r.alive) throw new Error(`replica ${i} exited: ${stderr}`);
    return log.find((l) => l.msg === 'tokenroute EPP serving');
  }, 15_000);
  const serving = log.find((l) => l.msg === 'tokenroute EPP serving')!;
  r.grpcPort = serving.grpcPort;
  r.health = healthClient(serving.grpcHealthPort);
  r.identity = log.find((l) => l.msg === 'leader election started')!.identity;
  return r;
}

async function readiness(r: Replica): Promise<string> {
  return r.alive ? check(r.health, 'readiness') : 'dead';
}

async function readyOnes(): Promise<Replica[]> {
  const states = await Promise.all(replicas.map(readiness));
  return replicas.filter((_, i) => states[i] === 'SERVING');
}

beforeAll(async () => {
  server = await startKubeApiServer();
  await createNamespace(server, NS);
  await createPool(server, NS, POOL, { selector: { app: 'ha' }, ports: [8000] });
  await createPod(server, NS, 'm-0', { labels: { app: 'ha' }, ip: '127.0.0.110', ready: true });
  replicas.push(...(await Promise.all([0, 1, 2].map(startReplica))));
});

afterAll(async () => {
  for (const r of replicas) {
    r.health?.close();
    if (r.alive) {
      r.child.kill('SIGKILL');
      await once(r.child, 'exit');
    }
  }
  await server?.stop();
});

test('three replicas: one ready leader holding the pool Lease, followers synced but not ready; failover within the lease duration', async () => {
  await waitFor('every replica synced (followers keep warm informers)', () => replicas.every((r) => r.log.some((l) => l.msg === 'synced with the API server')), 10_000);
  await waitFor('a leader is ready', async () => (await readyOnes()).length === 1, 10_000, 50);
  // Stable: still exactly one, across several renewals.
  for (let i = 0; i < 4; i++) {
    await sleep(250);
    assert.equal((await readyOnes()).length, 1, 'exactly one ready replica');
  }
  const [leader] = await readyOnes();
  for (const r of replicas) {
    assert.equal(await check(r.health, 'liveness'), 'SERVING', 'every replica is live');
    const want = r === leader ? 'SERVING' : 'NOT_SERVING';
    assert.equal(await check(r.health, 'envoy.service.ext_proc.v3.ExternalProcessor'), want, 'the ext_proc health service follows readiness');
  }
  const lease = await server.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${leaseNameForPool(NS, POOL)}`);
  assert.equal(lease.status, 200, 'Lease epp-<ns>-<pool>.gateway-api-inference-extension.sigs.k8s.io exists');
  assert.equal(lease.body.spec.holderIdentity, leader.identity);
  assert.equal(lease.body.spec.leaseDurationSeconds, LEASE_MS / 1000);

  // Hard failure: the leader dies without releasing the lease.
  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  await once(leader.child, 'exit');
  const next = await waitFor('a follower takes over', async () => (await readyOnes())[0], 4 * LEASE_MS, 10);
  const takeoverMs = Date.now() - killedAt;
  console.log(`# failover after SIGKILL of the leader: follower ready after ${takeoverMs} ms (lease ${LEASE_MS} ms, retry 250 ms)`);
  // A follower can only take over once the lease expires; on a loaded 2-core machine its retry
  // timer and the API round trips may run late, so the bound leaves a generous margin.
  assert.ok(takeoverMs <= LEASE_MS + 2000, `takeover soon after the lease duration (+ retries, API round trips): ${takeoverMs} ms`);
  assert.equal((await readyOnes()).length, 1, 'still exactly one ready replica');
  // No cold start: the new leader routes at once.
  const client = newExtProcClient(`127.0.0.1:${next.grpcPort}`, grpc.credentials.createInsecure());
  try {
    assert.equal((await decide(client)).endpoint, '127.0.0.110:8000');
  } finally {
    client.close();
  }
  const lease2 = await server.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${leaseNameForPool(NS, POOL)}`);
  assert.equal(lease2.body.spec.holderIdentity, next.identity);
  assert.ok(lease2.body.spec.leaseTransitions >= 1);

  // Graceful stop: the leader releases the lease; the last replica takes over within ~a retry period.
  const stoppedAt = Date.now();
  next.child.kill('SIGTERM');
  const last = await waitFor('the last replica takes over', async () => (await readyOnes()).find((r) => r !== next), 4 * LEASE_MS, 10);
  const handoverMs = Date.now() - stoppedAt;
  console.log(`# hand-over after SIGTERM of the leader (lease released): ${handoverMs} ms`);
  assert.ok(handoverMs < LEASE_MS, `a released lease is taken before it would expire: ${handoverMs} ms`);
  assert.ok(replicas.every((r) => r === next || r === last || !r.alive), 'the third replica is the one that was killed');
  await waitFor('the old leader exited after draining', () => !next.alive, 15_000);
  assert.deepEqual(await readyOnes(), [last], 'one ready replica remains');
});
