// The EPP as the ext_proc benchmark runs it: the real startEpp (plaintext gRPC, GIE's default
// scorers) over N static endpoints, with metrics scraping off and the datastore fed synthetic,
// changing metrics instead, so the measurement is decision + ext_proc cost, not scrape cost
// (the data layer has its own benchmark: epp/bench/datalayer.ts). Prints one JSON line
// {"ready":true,"grpcPort":N,"pid":P} when serving.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { embeddedEppOptions, startEpp } from '../src/main.js';
import type { EndpointMetrics } from '../src/framework/endpoint.js';

export const BENCH_CONFIG = `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
dataLayer:
  sources: []
`;

/** GIE's default scorers minus the prefix scorer: the cost of the protocol and load scoring alone. */
export const LOAD_ONLY_CONFIG = `
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
dataLayer:
  sources: []
`;

/** GIE's default scorers with every body parsed on the event loop (bench:large-bodies' baseline). */
export const INLINE_PARSE_CONFIG = BENCH_CONFIG.replace(
  'plugins:\n- type: queue-scorer\n',
  'plugins:\n- type: openai-parser\n  name: inline-parser\n  parameters: {offThreadBodyBytes: 0}\n- type: queue-scorer\n',
) + 'parser: {pluginRef: inline-parser}\n';

export const BENCH_CONFIGS: Record<string, string> = { 'gie-default': BENCH_CONFIG, 'load-only': LOAD_ONLY_CONFIG, 'gie-default-inline-parse': INLINE_PARSE_CONFIG };

/** N distinct loopback endpoints (never contacted: scraping is off). */
export function benchEndpoints(n: number): { address: string; port: number }[] {
  return Array.from({ length: n }, (_, i) => ({ address: `127.0.${1 + (i >> 8)}.${(i & 255) + 1}`, port: 8000 }));
}

export function syntheticMetrics(random: () => number, now: number): EndpointMetrics {
  return {
    waitingRequests: Math.floor(random() * 10),
    runningRequests: Math.floor(random() * 32),
    kvCacheUsage: random(),
    activeLoras: [],
    waitingLoras: [],
    maxLoras: 0,
    cacheBlockSize: 16,
    cacheNumBlocks: 4096,
    updatedAt: now,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { endpoints: { type: 'string', default: '8' }, port: { type: 'string', default: '0' }, config: { type: 'string', default: 'gie-default' }, 'config-file': { type: 'string' } },
  });
  const configText = values['config-file'] ? readFileSync(values['config-file'], 'utf8') : BENCH_CONFIGS[values.config!];
  if (!configText) throw new Error(`--config must be one of ${Object.keys(BENCH_CONFIGS).join(', ')} (or give --config-file)`);
  const n = Number(values.endpoints);
  const epp = await startEpp(embeddedEppOptions({ grpcPort: Number(values.port), metricsPort: -1, configText, staticEndpoints: benchEndpoints(n) }));
  // Refresh every endpoint's metrics on the scrape interval, as the collector would.
  const refresh = () => {
    const now = Date.now();
    for (const c of epp.datastore.candidates()) epp.datastore.updateMetrics(c.endpoint.key, syntheticMetrics(Math.random, now));
  };
  refresh();
  setInterval(refresh, 50).unref();
  console.log(JSON.stringify({ ready: true, grpcPort: epp.grpcPort, pid: process.pid }));
  process.on('SIGTERM', () => void epp.close().then(() => process.exit(0)));
}
