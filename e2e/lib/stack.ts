// The local stack on one machine: N llm-d-inference-sim model servers (prefix caching and KV
// events on), tokenroute's EPP in standalone mode with a prefix-aware profile, and the development
// gateway (gateway/) running the edge filter in front of it. Used by `npm run demo` and the
// e2e tests; the routing benchmark can use it too.
//
// Tokenization (see sims.ts): `render` — the simulators tokenize through tokenroute's render
// endpoint, so the filter's block keys equal the keys recomputed from the simulators' KV events
// and the EPP runs the precise-prefix-cache-scorer (KV events over ZeroMQ, bind mode); `dummy` —
// the simulators use their FNV word tokenizer, whose KV events cannot match the filter's keys, so
// the EPP runs the approximate prefix-cache-scorer (routing history keyed by the filter's block
// keys). `auto` picks render when the machine allows it (root, unshare), else dummy.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../epp/src/main.js';
import { startRenderServer, type RenderServer } from '../../epp/src/render/server.js';
import { silentLogger, type Logger } from '../../epp/src/observability/logger.js';
import { startGateway, type FailureMode, type GatewayOptions, type RequestRecord, type RunningGateway } from '../../gateway/index.js';
import { SIM_MODEL, dieWithParentPrefix, freePort, renderModeUnavailable, startHubStub, startSim, type HubStub, type Sim, type SimOptions } from './sims.js';

export type TokenizerMode = 'render' | 'dummy';

export interface StackOptions {
  /** Model servers (default 3). */
  readonly sims?: number;
  /** First three octets of the simulators' addresses: `<subnet>.2`, `.3`, ...; the hub stub takes `.250`. Default 127.0.0. */
  readonly subnet?: string;
  readonly tokenizer?: 'auto' | TokenizerMode;
  /** Run the EPP in this process (default) or as a `tokenroute epp` child process (can be killed). */
  readonly eppProcess?: 'in-process' | 'child';
  /** Endpoints per EPP answer: the destination plus fallbacks (default 2). */
  readonly maxNumOfEndpoints?: number;
  /** The utilization-detector's metricsStalenessThreshold: a model server whose metrics are older is filtered out (default 1000 ms). */
  readonly stalenessMs?: number;
  /** Override the EndpointPickerConfig (receives the generated one's parameters). */
  readonly eppConfig?: (p: EppConfigParams) => string;
  readonly failureMode?: FailureMode;
  readonly gatewayHost?: string;
  readonly gatewayPort?: number;
  readonly messageTimeoutMs?: number;
  /** Simulator behaviour. */
  readonly sim?: {
    readonly mode?: 'echo' | 'random';
    readonly prefillTimePerToken?: string;
    readonly interTokenLatency?: string;
    readonly maxNumSeqs?: number;
    readonly kvCacheSize?: number;
  };
  /** Simulators in their own process groups (the demo stops them itself). */
  readonly detachedSims?: boolean;
  readonly logger?: Logger;
  readonly onRequest?: (r: RequestRecord) => void;
  /** Progress lines while starting. */
  readonly progress?: (line: string) => void;
}

export interface EppConfigParams {
  readonly tokenizer: TokenizerMode;
  readonly zmqEndpoint: string;
  readonly hmacKey: string;
  readonly maxNumOfEndpoints: number;
  readonly stalenessMs: number;
}

export interface EppHandle {
  /** `127.0.0.1:port` of the ext_proc service. */
  readonly address: string;
  /** The EPP itself, in in-process mode (its datastore, plugins, metrics). */
  readonly inProcess?: RunningEpp;
  readonly grpcPort: number;
  readonly metricsUrl: string;
  /** The child's pid (child mode). */
  pid(): number | undefined;
  /** Child mode: sends a signal (SIGKILL = crash). Resolves when it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Child mode: starts it again on the same ports. */
  restart(): Promise<void>;
  /** Waits (up to `ms`) until the EPP has scraped every model server's metrics once. */
  waitScraped(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface Stack {
  readonly tokenizer: TokenizerMode;
  /** One line on how prompts are tokenized and which prefix scorer is used. */
  readonly tokenizerNote: string;
  readonly sims: Sim[];
  /** Starts model server `index` again on its address (after a kill); replaces it in `sims`. */
  restartSim(index: number): Promise<Sim>;
  readonly epp: EppHandle;
  readonly gateway: RunningGateway;
  /** What the stack's gateway was started with (start another one with changes). */
  readonly gatewayOptions: GatewayOptions;
  readonly eppConfigYaml: string;
  readonly filterConfig: string;
  /** The profile, e.g. "precise-prefix-cache-scorer ×3, queue-scorer ×2, kv-cache-utilization-scorer ×2". */
  readonly profileSummary: string;
  close(): Promise<void>;
}

const BLOCK_SIZE = 16;

/** The demo's prefix-aware profile. */
export function defaultEppConfig(p: EppConfigParams): string {
  const prefix =
    p.tokenizer === 'render'
      ? `- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: {blockSize: ${BLOCK_SIZE}}
    kvEventsConfig: {zmqEndpoint: "${p.zmqEndpoint}"}
    speculativeIndexing: true
    models: {"${SIM_MODEL}": qwen3}
    filterHeaders: {hmacKeys: ["${p.hmacKey}"]}`
      : `- type: prefix-cache-scorer
  parameters:
    blockSizeTokens: ${BLOCK_SIZE}
    models: {"${SIM_MODEL}": qwen3}
    filterHeaders: {hmacKeys: ["${p.hmacKey}"]}`;
  const prefixName = p.tokenizer === 'render' ? 'precise-prefix-cache-scorer' : 'prefix-cache-scorer';
  return `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
${prefix}
- type: queue-scorer
- type: kv-cache-utilization-scorer
# The EPP's own in-flight tokens per endpoint: reacts to its decisions at once (scraped queues lag),
# so concurrent cold requests spread instead of tying; too small to outweigh a cached prefix.
- type: token-load-scorer
# Also the saturation detector. As a filter it drops model servers whose metrics are stale — a
# dead server stops being chosen within one staleness interval — and (with these generous
# thresholds) practically never for load.
- type: utilization-detector
  parameters: {queueDepthThreshold: 64, kvCacheUtilThreshold: 1.0, headroom: 0.5, metricsStalenessThreshold: "${p.stalenessMs}ms"}
- type: max-score-picker
  parameters: {maxNumOfEndpoints: ${p.maxNumOfEndpoints}}
- type: metrics-data-source
- type: core-metrics-extractor
# With the edge filter in front, a request whose filter headers verify is decided at its headers
# and its body streams through the EPP unread.
- type: openai-parser
  parameters:
    filterHeaders: {hmacKeys: ["${p.hmacKey}"]}
parser: {pluginRef: openai-parser}
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: utilization-detector
  - {pluginRef: ${prefixName}, weight: 3}
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: token-load-scorer, weight: 1}
  - pluginRef: max-score-picker
dataLayer:
  sources:
  - pluginRef: metrics-data-source
    extractors:
    - pluginRef: core-metrics-extractor
`;
}

/**
 * A profile whose capacity is a number of requests in flight (the concurrency detector, as the
 * saturation detector), for flow-control runs against simulators with the same --max-num-seqs:
 * `plugins` are extra plugin entries (YAML list items), `flowControl` the section's body (indented
 * two spaces) — given, the flowControl gate is on.
 */
export function slotsEppConfig(p: EppConfigParams, o: { slots: number; plugins?: readonly string[]; flowControl?: string }): string {
  return `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
${o.flowControl !== undefined ? 'featureGates: [flowControl]' : ''}
plugins:
- {name: slots, type: concurrency-detector, parameters: {maxConcurrency: ${o.slots}}}
- type: queue-scorer
- type: max-score-picker
- type: metrics-data-source
- type: core-metrics-extractor
${(o.plugins ?? []).map((x) => `- ${x}\n`).join('')}- type: openai-parser
  parameters:
    filterHeaders: {hmacKeys: ["${p.hmacKey}"]}
parser: {pluginRef: openai-parser}
saturationDetector: {pluginRef: slots}
schedulingProfiles:
- name: default
  plugins: [{pluginRef: queue-scorer}, {pluginRef: max-score-picker}]
dataLayer:
  sources: [{pluginRef: metrics-data-source, extractors: [{pluginRef: core-metrics-extractor}]}]
${o.flowControl !== undefined ? `flowControl:\n${o.flowControl}` : ''}
`;
}

/** The filter's plugin configuration for the stack's model. */
export function stackFilterConfig(hmacKey: string): string {
  return JSON.stringify({ models: { [SIM_MODEL]: { tokenizer: 'qwen3' } }, blockSize: BLOCK_SIZE, hmacKey });
}

// The compiled `tokenroute` command beside this module: dist*/e2e/lib/stack.js → dist*/cli/tokenroute.js.
export function tokenrouteCli(): string {
  const p = fileURLToPath(new URL('../../cli/tokenroute.js', import.meta.url));
  if (!existsSync(p)) throw new Error(`tokenroute CLI not found at ${p} (run the compiled build)`);
  return p;
}

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const n = o.sims ?? 3;
  const subnet = o.subnet ?? '127.0.0';
  const progress = o.progress ?? (() => undefined);
  const logger = o.logger ?? silentLogger();
  const hmacKey = randomBytes(32).toString('base64');
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const zmqPort = await freePort();
    const zmqEndpoint = `tcp://127.0.0.1:${zmqPort}`;
    const ips = Array.from({ length: n }, (_, i) => `${subnet}.${i + 2}`);
    const ports: number[] = [];
    for (let i = 0; i < n; i++) ports.push(await freePort('0.0.0.0'));
    const simCommon = {
      zmqEndpoint,
      mode: o.sim?.mode ?? 'random',
      prefillTimePerToken: o.sim?.prefillTimePerToken,
      interTokenLatency: o.sim?.interTokenLatency,
      maxNumSeqs: o.sim?.maxNumSeqs,
      kvCacheSize: o.sim?.kvCacheSize ?? 1024,
      detached: o.detachedSims,
    } as const;

    // The EPP starts first, on the planned endpoints: it binds the KV-event socket the simulators
    // dial, so their first events are not lost to a late connection (ZeroMQ PUB drops messages
    // while no subscriber is connected, and the simulators' redial backs off).
    const planned = ips.map((ip, i) => ({ ip, port: ports[i] }));
    let epp: EppHandle | undefined;
    let eppConfigYaml = '';
    const params = (tokenizer: TokenizerMode): EppConfigParams => ({ tokenizer, zmqEndpoint, hmacKey, maxNumOfEndpoints: o.maxNumOfEndpoints ?? 2, stalenessMs: o.stalenessMs ?? 1000 });
    const startEppFor = async (tokenizer: TokenizerMode) => {
      eppConfigYaml = (o.eppConfig ?? defaultEppConfig)(params(tokenizer));
      progress(`starting the EPP (standalone, ${o.eppProcess === 'child' ? 'child process' : 'in-process'}) ...`);
      epp = o.eppProcess === 'child' ? await startChildEpp(eppConfigYaml, planned) : await startInProcessEpp(eppConfigYaml, planned, logger);
    };
    let simExtra: Partial<SimOptions> = {};
    const startAll = async (extra: Partial<SimOptions>): Promise<Sim[]> => {
      simExtra = extra;
      const started = await Promise.allSettled(ips.map((ip, i) => startSim({ ip, port: ports[i], ...simCommon, ...extra })));
      const ok = started.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Sim>).value);
      const failed = started.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) {
        await Promise.all(ok.map((x) => x.stop()));
        throw failed.reason;
      }
      return ok;
    };

    // Tokenization mode: render when possible (and asked for), else dummy.
    let tokenizer: TokenizerMode = o.tokenizer === 'dummy' ? 'dummy' : 'render';
    let why = o.tokenizer === 'dummy' ? 'requested' : renderModeUnavailable();
    if (tokenizer === 'render' && why !== undefined) {
      if (o.tokenizer === 'render') throw new Error(`render-mode tokenization unavailable: ${why}`);
      tokenizer = 'dummy';
    }
    let sims: Sim[] = [];
    if (tokenizer === 'render') {
      const own: (() => Promise<void>)[] = [];
      try {
        await startEppFor('render');
        const started = epp!;
        own.push(() => started.close());
        progress(`starting tokenroute's render endpoint and ${n} llm-d-inference-sim servers that tokenize through it ...`);
        const render: RenderServer = await startRenderServer({ port: 0, host: '127.0.0.1', models: new Map([[SIM_MODEL, { tokenizer: 'qwen3', template: 'qwen3' }]]) });
        own.push(() => render.close());
        const hub: HubStub = await startHubStub(`${subnet}.250`);
        own.push(() => hub.close());
        sims = await startAll({ renderUrl: `http://127.0.0.1:${render.port}`, hub });
        cleanups.push(...own);
      } catch (err) {
        for (const c of own.reverse()) await c().catch(() => undefined);
        epp = undefined;
        if (o.tokenizer === 'render') throw err;
        why = `render mode failed: ${(err as Error).message.split('\n')[0]}`;
        tokenizer = 'dummy';
      }
    }
    if (tokenizer === 'dummy') {
      // After a failed render attempt its simulators may still hold their ports for a moment (they
      // run under unshare and a shell): the dummy ones get new ports rather than racing them.
      if (why?.startsWith('render mode failed')) {
        for (let i = 0; i < n; i++) {
          ports[i] = await freePort();
          planned[i] = { ip: ips[i], port: ports[i] };
        }
      }
      await startEppFor('dummy');
      const started = epp!;
      cleanups.push(() => started.close());
      progress(`starting ${n} llm-d-inference-sim servers (dummy tokenizer) ...`);
      sims = await startAll({});
    }
    const running = sims;
    // Stopped before the EPP (cleanups run in reverse).
    cleanups.push(async () => {
      await Promise.all(running.map((x) => x.stop()));
    });
    await epp!.waitScraped(3000);
    const tokenizerNote =
      tokenizer === 'render'
        ? 'prompts tokenized by tokenroute\'s render endpoint (exact Qwen3 ids): the precise prefix scorer matches the servers\' KV events'
        : `servers use the simulator's dummy tokenizer (${why}): the approximate prefix scorer (routing history keyed by the filter's block keys) is used`;
    const eppHandle = epp!;

    // The development gateway.
    const filterConfig = stackFilterConfig(hmacKey);
    const gatewayOptions: GatewayOptions = {
      host: o.gatewayHost ?? '127.0.0.1',
      port: o.gatewayPort ?? 0,
      epp: eppHandle.address,
      filter: { config: filterConfig },
      failureMode: o.failureMode ?? 'FailOpen',
      fallbackEndpoints: sims.map((s) => s.key),
      messageTimeoutMs: o.messageTimeoutMs ?? 10_000,
      logger: logger.child({ component: 'gateway' }),
      onRequest: o.onRequest,
    };
    progress('starting the development gateway (filter .wasm in the proxy-wasm host → ext_proc → model servers) ...');
    const gateway = await startGateway(gatewayOptions);
    cleanups.push(() => gateway.close());

    const prefixName = tokenizer === 'render' ? 'precise-prefix-cache-scorer' : 'prefix-cache-scorer';
    const maxNum = params(tokenizer).maxNumOfEndpoints;
    return {
      tokenizer,
      tokenizerNote,
      sims,
      async restartSim(index) {
        const old = sims[index];
        await old.stop().catch(() => undefined);
        const fresh = await startSim({ ip: old.ip, port: old.port, ...simCommon, ...simExtra });
        sims[index] = fresh;
        return fresh;
      },
      epp: eppHandle,
      gateway,
      gatewayOptions,
      eppConfigYaml,
      filterConfig,
      profileSummary: `utilization-detector (filter), ${prefixName} ×3, queue-scorer ×2, kv-cache-utilization-scorer ×2, token-load-scorer ×1, max-score-picker (${maxNum} endpoints: destination + fallback)`,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function startInProcessEpp(configText: string, sims: readonly { ip: string; port: number }[], logger: Logger): Promise<EppHandle> {
  const epp: RunningEpp = await startEpp(
    embeddedEppOptions({
      configText,
      staticEndpoints: sims.map((x) => ({ address: x.ip, port: x.port })),
      refreshPrometheusMetricsIntervalMs: 1000,
      logLevel: 'warn',
      logger: logger.child({ component: 'epp' }),
    }),
  );
  return {
    address: `127.0.0.1:${epp.grpcPort}`,
    inProcess: epp,
    grpcPort: epp.grpcPort,
    metricsUrl: `http://127.0.0.1:${epp.metricsPort}/metrics`,
    pid: () => process.pid,
    kill: () => Promise.reject(new Error('the in-process EPP cannot be killed; start the stack with eppProcess: child')),
    restart: () => Promise.reject(new Error('the in-process EPP cannot be restarted')),
    waitScraped: async (ms) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && !epp.datastore.candidates().every((c) => c.metrics.updatedAt > 0)) await new Promise((r) => setTimeout(r, 20));
    },
    close: () => epp.close(),
  };
}

/** `tokenroute epp` as a child process on fixed ports, so it can be killed and restarted. */
async function startChildEpp(configText: string, sims: readonly { ip: string; port: number }[]): Promise<EppHandle> {
  const [grpcPort, healthPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const cli = tokenrouteCli();
  const args = [
    cli, 'epp', '--grpc-port', String(grpcPort), '--grpc-health-port', String(healthPort), '--metrics-port', String(metricsPort),
    '--host', '127.0.0.1', '--secure-serving=false', '--static-endpoints', sims.map((x) => `${x.ip}:${x.port}`).join(','),
    '--config-text', configText, '--refresh-metrics-interval', '50ms', '--log-level', 'warn',
  ];
  let child: ChildProcess | undefined;
  let out = '';
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const exitedOf = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  const start = async () => {
    out = '';
    const cmd = [...dieWithParentPrefix(), process.execPath, ...args];
    const c = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
    c.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`tokenroute epp exited: ${out.slice(-2000)}`);
      try {
        if ((await fetch(metricsUrl)).ok) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`tokenroute epp did not start: ${out.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await start();
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    const t = signal === 'SIGKILL' ? undefined : setTimeout(() => c.kill('SIGKILL'), 15_000);
    await exitedOf(c);
    if (t) clearTimeout(t);
  };
  return {
    address: `127.0.0.1:${grpcPort}`,
    grpcPort,
    metricsUrl,
    pid: () => child?.pid,
    kill,
    restart: async () => {
      await kill('SIGKILL');
      await start();
    },
    waitScraped: async (ms) => {
      // The EPP's pool gauge of ready endpoints is not per endpoint; give the first scrapes a moment.
      await new Promise((r) => setTimeout(r, Math.min(ms, 200)));
    },
    close: () => kill('SIGTERM'),
  };
}
