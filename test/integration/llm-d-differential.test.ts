// Differential: tokenroute's EPP and llm-d's Go EPP (llm-d-inference-scheduler v0.7.1, built by
// scripts/deps/llm-d-epp.sh) make the same decisions on the same pool, metrics and requests, for a
// P/D config whose plugins tokenroute implements with llm-d's formulas: role filters,
// queue-scorer, GIE's approximate prefix-cache-scorer, max-score-picker, prefix-based-pd-decider,
// disagg-profile-handler, disagg-headers-handler. Both read the same /metrics pages (real HTTP
// servers on 127.0.0.141-144 with distinct queue lengths); llm-d discovers the pods through a real
// kube-apiserver (its only discovery mode), tokenroute through --endpoints-file with the same
// labels. Each distinct request is sent to both over ext_proc; the decode endpoint and
// x-prefiller-host-port must agree. Prompts are either clearly short or clearly long, so the
// estimate both use without a tokenizer (characters ÷ 4) cannot straddle the threshold.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../epp/src/main.js';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';
import { newExtProcClient, type ExtProcClient } from '../epp/extproc/harness.js';
import { startFakeModelServer, type FakeModelServer } from '../epp/datalayer/helpers.js';
import { vllmMetricsPage } from '../fixtures/sample-exposition.js';
import { decide } from './k8s/epp.js';
import { llmdPdConfig } from '../fixtures/pd-config.js';
import { createPool, deletePool, freePort, startKube, startProc, waitHttp, type Kube, type Proc } from '../../e2e/bench/stack.js';

const ROOT = findPackageRoot(import.meta.url);
const BIN = join(ROOT, '.cache', 'bin');
const ROLE = 'llm-d.ai/role';
const CONFIG = llmdPdConfig({ nonCachedTokens: 64, headersHandler: true });
/** ip, role, waiting requests: the lowest queue of each role is the expected choice. */
const PODS = [
  { ip: '127.0.0.141', role: 'prefill', waiting: 4 },
  { ip: '127.0.0.142', role: 'prefill', waiting: 1 },
  { ip: '127.0.0.143', role: 'decode', waiting: 0 },
  { ip: '127.0.0.144', role: 'decode', waiting: 6 },
];

/** Each pod's port (the pool's targetPorts must be distinct; each pod serves one of them). */
const ports: number[] = [];
let servers: FakeModelServer[] = [];
let kube: Kube | undefined;
let llmd: Proc | undefined;
let llmdClient: ExtProcClient | undefined;
let ours: RunningEpp | undefined;
let oursClient: ExtProcClient | undefined;
let dir = '';
const pool = `diff-${process.pid}`;

beforeAll(async () => {
  if (!existsSync(join(BIN, 'llm-d-epp'))) throw new Error('llm-d-epp missing: bash scripts/deps/llm-d-epp.sh');
  for (const _ of PODS) ports.push(await freePort());
  servers = await Promise.all(PODS.map((p, i) => startFakeModelServer(p.ip, vllmMetricsPage({ waiting: p.waiting, running: 1, kvUsage: 0.2 }), { port: ports[i] })));
  // llm-d's EPP: InferencePool + labelled pods on a real kube-apiserver.
  kube = await startKube(BIN);
  const [grpcPort, healthPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  await createPool(kube, ROOT, pool, PODS.map((p, i) => ({ ip: p.ip, port: ports[i], labels: { [ROLE]: p.role } })), grpcPort);
  dir = await mkdtemp(join(tmpdir(), 'tokenroute-diff-'));
  await writeFile(join(dir, 'config.yaml'), CONFIG);
  llmd = startProc('llm-d-epp', join(BIN, 'llm-d-epp'), ['--secure-serving=false', '--grpc-port', String(grpcPort), '--grpc-health-port', String(healthPort), '--metrics-port', String(metricsPort),
    '--metrics-endpoint-auth=false', '--tracing=false', '--enable-pprof=false', '--v', '1', '--pool-name', pool, '--pool-namespace', 'default', '--config-file', join(dir, 'config.yaml')], {
    KUBECONFIG: kube.kubeconfig, POD_NAME: 'llm-d-epp-5d9c7-x2x4q', NAMESPACE: 'default', OTEL_TRACES_SAMPLER_ARG: '0', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317',
  });
  await waitHttp(`http://127.0.0.1:${metricsPort}/metrics`, llmd, 60_000, /^inference_pool_ready_pods\{[^}]*\} 4$/m);
  llmdClient = newExtProcClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  // tokenroute's EPP: the same pods from an endpoints file.
  const endpointsFile = join(dir, 'endpoints.yaml');
  await writeFile(endpointsFile, `endpoints:\n${PODS.map((p, i) => `  - {address: ${p.ip}, port: ${ports[i]}, labels: {${ROLE}: ${p.role}}}`).join('\n')}\n`);
  ours = await startEpp(embeddedEppOptions({ configText: CONFIG, endpointsFile, refreshMetricsIntervalMs: 50 }));
  oursClient = newExtProcClient(`127.0.0.1:${ours.grpcPort}`, grpc.credentials.createInsecure());
  // Both have scraped every page (llm-d scrapes every 50 ms as well).
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !ours.datastore.candidates().every((c) => c.metrics.updatedAt > 0)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
});

afterAll(async () => {
  llmdClient?.close();
  oursClient?.close();
  await ours?.close();
  await llmd?.stop();
  if (kube) {
    deletePool(kube, pool, PODS.length);
    await kube.stop();
  }
  await Promise.all(servers.map((s) => s.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tokenroute and llm-d's Go EPP decide alike (P/D, same metrics and requests)", () => {
  const requests = [
    ...[1, 2, 3, 4].map((i) => ({ what: `long ${i}`, content: `Long document number ${i} to summarise carefully. `.repeat(20) })),
    ...[1, 2, 3, 4].map((i) => ({ what: `short ${i}`, content: `Hi ${i}` })),
  ];
  it('chooses the same decode endpoint and the same prefill endpoint (or none) for every request', async () => {
    const rows: string[] = [];
    for (const r of requests) {
      const theirs = await decide(llmdClient!, { model: 'meta-llama/Llama-3.1-8B-Instruct', content: r.content });
      const mine = await decide(oursClient!, { model: 'meta-llama/Llama-3.1-8B-Instruct', content: r.content });
      const pair = (d: typeof mine) => `${d.endpoint} prefill=${d.setHeaders?.get('x-prefiller-host-port') ?? '-'}`;
      rows.push(`${r.what}: llm-d ${pair(theirs)} | tokenroute ${pair(mine)}`);
      assert.equal(mine.endpoint, theirs.endpoint, rows.at(-1));
      assert.equal(mine.setHeaders?.get('x-prefiller-host-port'), theirs.setHeaders?.get('x-prefiller-host-port'), rows.at(-1));
    }
    console.log(rows.join('\n'));
    // The expected choices, so the test also fails if both were wrong alike.
    assert.match(rows[0], new RegExp(`llm-d 127\\.0\\.0\\.143:${ports[2]} prefill=127\\.0\\.0\\.142:${ports[1]} \\|`));
    assert.match(rows[4], new RegExp(`llm-d 127\\.0\\.0\\.143:${ports[2]} prefill=- \\|`));
  });
});
