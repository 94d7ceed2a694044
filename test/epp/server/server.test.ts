// Integration tests of the gRPC bootstrap. Real components started: startEppGrpcServers (ext_proc
// + health servers on 127.0.0.1 ephemeral ports, TLS self-signed / from files with reload /
// plaintext), real grpc-js clients (ext_proc from Envoy's protos, grpc.health.v1 from
// grpc-health-check's proto) and raw TLS sockets to see which certificate is served.
import { describe, it, afterAll } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { generateSelfSignedCertificate } from '../../../epp/src/server/tls.js';
import { EXT_PROC_SERVICE_NAME } from '../../../epp/src/protocol/keys.js';
import {
  bodyMsg,
  headersMsg,
  newExtProcClient,
  setHeadersOf,
  startWithClient,
  StreamDriver,
  TestController,
  waitFor,
  type Started,
} from '../extproc/harness.js';

type HealthClient = grpc.Client & {
  Check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};

function healthClient(port: number): HealthClient {
  const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

function check(c: HealthClient, service: string): Promise<string> {
  return new Promise((resolve) => {
    c.Check({ service }, { deadline: Date.now() + 3000 }, (err, res) => resolve(err ? `error:${err.code}` : res!.status));
  });
}

/** One bodiless request end to end; resolves to the destination header, or the gRPC error code. */
async function bodilessRoundTrip(s: { client: ReturnType<typeof newExtProcClient> }): Promise<string> {
  const d = new StreamDriver(s.client);
  d.send(headersMsg({ ':method': 'GET' }, true));
  try {
    const r = await d.next(4000);
    d.end();
    await d.status;
    return setHeadersOf(r.request_headers?.response?.header_mutation).get('x-gateway-destination-endpoint') ?? 'none';
  } catch {
    return `error:${(await d.status).code}`;
  }
}

/** SHA-256 fingerprint of the certificate the server presents on a fresh TLS connection. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      const fp = sock.getPeerCertificate().fingerprint256;
      sock.destroy();
      resolve(fp);
    });
    sock.on('error', reject);
  });
}

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

async function writePair(dir: string, pair: { cert: string; key: string }): Promise<void> {
  // Like a Kubernetes Secret update: each file replaced atomically.
  await writeFile(join(dir, 'tls.key.tmp'), pair.key);
  await writeFile(join(dir, 'tls.crt.tmp'), pair.cert);
  await rename(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
  await rename(join(dir, 'tls.crt.tmp'), join(dir, 'tls.crt'));
}

const skipVerify = () => grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false });

describe('TLS on the ext_proc port', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('serves a self-signed certificate by default to a client that skips verification', async () => {
    const s = await startWithClient(new TestController(), { secureServing: true }, skipVerify());
    cleanups.push(s.close);
    assert.equal(s.servers.tlsMode, 'self-signed');
    assert.equal(await bodilessRoundTrip(s), '10.0.0.1:8000');
    const plain = newExtProcClient(`127.0.0.1:${s.servers.grpcPort}`, grpc.credentials.createInsecure());
    assert.equal(await bodilessRoundTrip({ client: plain }), `error:${grpc.status.UNAVAILABLE}`, 'plaintext client refused');
    plain.close();
  });

  it('serves plaintext when secureServing is false', async () => {
    const s = await startWithClient(new TestController(), { secureServing: false });
    cleanups.push(s.close);
    assert.equal(s.servers.tlsMode, 'plaintext');
    assert.equal(await bodilessRoundTrip(s), '10.0.0.1:8000');
  });

  it('serves tls.crt/tls.key from certPath and reloads them when they change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tokenroute-certs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const a = await generateSelfSignedCertificate('cert-a');
    const b = await generateSelfSignedCertificate('cert-b');
    await writePair(dir, a);
    const s = await startWithClient(new TestController(), { secureServing: true, certPath: dir, certRefreshIntervalMs: 100 }, skipVerify());
    cleanups.push(s.close);
    assert.equal(s.servers.tlsMode, 'files-reloading');
    assert.equal(await servedFingerprint(s.servers.grpcPort), fingerprintOf(a.cert));
    const trustA = newExtProcClient(`127.0.0.1:${s.servers.grpcPort}`, grpc.credentials.createSsl(Buffer.from(a.cert)));
    assert.equal(await bodilessRoundTrip({ client: trustA }), '10.0.0.1:8000', 'verifying client trusts cert A');
    trustA.close();

    await writePair(dir, b);
    // Generous: on a loaded 2-core machine a handshake may be cut while the pair is swapped
    // (the files are written one after the other); such a probe is retried, never counted.
    const deadline = Date.now() + 20_000;
    let fp = '';
    while (Date.now() < deadline) {
      fp = await servedFingerprint(s.servers.grpcPort).catch(() => '');
      if (fp === fingerprintOf(b.cert)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(fp, fingerprintOf(b.cert), 'new connections get the new certificate');
    const trustB = newExtProcClient(`127.0.0.1:${s.servers.grpcPort}`, grpc.credentials.createSsl(Buffer.from(b.cert)));
    assert.equal(await bodilessRoundTrip({ client: trustB }), '10.0.0.1:8000');
    trustB.close();
    const staleTrust = newExtProcClient(`127.0.0.1:${s.servers.grpcPort}`, grpc.credentials.createSsl(Buffer.from(a.cert)));
    assert.equal(await bodilessRoundTrip({ client: staleTrust }), `error:${grpc.status.UNAVAILABLE}`, 'cert A no longer served');
    staleTrust.close();
  });

  it('loads the files once when reload is off', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tokenroute-certs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const a = await generateSelfSignedCertificate('cert-static');
    await writePair(dir, a);
    const s = await startWithClient(new TestController(), { secureServing: true, certPath: dir, certReload: false }, skipVerify());
    cleanups.push(s.close);
    assert.equal(s.servers.tlsMode, 'files');
    assert.equal(await servedFingerprint(s.servers.grpcPort), fingerprintOf(a.cert));
  });

  it('refuses to start with missing or mismatched certificate files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tokenroute-certs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await assert.rejects(startWithClient(new TestController(), { secureServing: true, certPath: dir }), /tls\.crt\/tls\.key/);
    const a = await generateSelfSignedCertificate('a');
    const b = await generateSelfSignedCertificate('b');
    await writePair(dir, { cert: a.cert, key: b.key });
    await assert.rejects(startWithClient(new TestController(), { secureServing: true, certPath: dir }), /invalid tls\.crt\/tls\.key/);
    await assert.rejects(startWithClient(new TestController(), { secureServing: true, certPath: dir, certReload: false }), /invalid tls\.crt\/tls\.key/);
  });
});

describe('gRPC health service', () => {
  it('reports liveness at once and readiness only when ready, on demand and by polling', async () => {
    let ready = false;
    const s = await startWithClient(new TestController(), { isReady: () => ready, readinessIntervalMs: 40 });
    const hc = healthClient(s.servers.healthPort);
    try {
      assert.equal(await check(hc, 'liveness'), 'SERVING');
      for (const svc of ['readiness', EXT_PROC_SERVICE_NAME, '']) assert.equal(await check(hc, svc), 'NOT_SERVING', svc);
      assert.equal(await check(hc, 'no-such-service'), `error:${grpc.status.NOT_FOUND}`);

      ready = true;
      assert.equal(s.servers.health.refresh(), true);
      for (const svc of ['readiness', EXT_PROC_SERVICE_NAME, '']) assert.equal(await check(hc, svc), 'SERVING', svc);

      ready = false; // no refresh call: the poller must notice
      const deadline = Date.now() + 2000;
      while ((await check(hc, 'readiness')) !== 'NOT_SERVING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await check(hc, 'readiness'), 'NOT_SERVING');
      assert.equal(await check(hc, 'liveness'), 'SERVING');
    } finally {
      hc.close();
      await s.close();
    }
  });

  it('reports NOT_SERVING when the readiness predicate throws', async () => {
    const s = await startWithClient(new TestController(), {
      isReady: () => {
        throw new Error('datastore exploded');
      },
    });
    const hc = healthClient(s.servers.healthPort);
    try {
      assert.equal(s.servers.health.refresh(), false);
      assert.equal(await check(hc, 'readiness'), 'NOT_SERVING');
      assert.equal(await check(hc, 'liveness'), 'SERVING');
    } finally {
      hc.close();
      await s.close();
    }
  });

  it('is also served on the ext_proc port with healthOnGrpcPort, and never there without it', async () => {
    const on = await startWithClient(new TestController(), { healthOnGrpcPort: true });
    const off = await startWithClient(new TestController());
    const hOn = healthClient(on.servers.grpcPort);
    const hOff = healthClient(off.servers.grpcPort);
    try {
      assert.equal(await check(hOn, EXT_PROC_SERVICE_NAME), 'SERVING');
      assert.equal(await check(hOff, EXT_PROC_SERVICE_NAME), `error:${grpc.status.UNIMPLEMENTED}`);
    } finally {
      hOn.close();
      hOff.close();
      await on.close();
      await off.close();
    }
  });
});

describe('server lifecycle', () => {
  it('binds the requested address and reports the real ephemeral ports', async () => {
    const s = await startWithClient();
    try {
      assert.ok(s.servers.grpcPort > 0 && s.servers.healthPort > 0);
      assert.notEqual(s.servers.grpcPort, s.servers.healthPort);
    } finally {
      await s.close();
    }
  });

  it('closes gracefully: cuts a stream still open after the grace period and releases its handle', async () => {
    const s: Started = await startWithClient();
    const d = new StreamDriver(s.client);
    d.send(headersMsg({ ':method': 'POST' }));
    d.send(bodyMsg('{}', true));
    await d.take(2);
    const h = s.controller.handles.at(-1)!;
    const t0 = Date.now();
    await s.servers.close({ graceMs: 300 });
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 2000, `close took ${took} ms`);
    await waitFor(() => h.ends.length > 0, 2000, 'onEnd');
    assert.deepEqual(h.ends, ['cancelled']);
    assert.notEqual((await d.status).code, grpc.status.OK);
    s.client.close();
    // The ports are released.
    const again = newExtProcClient(`127.0.0.1:${s.servers.grpcPort}`, grpc.credentials.createInsecure());
    assert.match(await bodilessRoundTrip({ client: again }), /^error:/);
    again.close();
  });

  it('fails to start on a port already in use', async () => {
    const s = await startWithClient();
    try {
      await assert.rejects(
        startWithClient(new TestController(), { grpcPort: s.servers.grpcPort }),
        /cannot bind/,
      );
    } finally {
      await s.close();
    }
  });
});
