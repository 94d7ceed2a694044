// `npm run demo`: the local stack on the embedded default (e2e/lib/stack.ts). Starts N
// llm-d-inference-sim model servers on 127.0.0.x with prefix caching and KV events on, the
// tokenroute EPP in standalone mode with a prefix-aware profile, and the development gateway (a
// local stand-in for Envoy: the edge filter .wasm in the proxy-wasm host, then the EPP over
// ext_proc, then the model server it names). Sends a short shared-prefix workload through the
// gateway with a progress bar, then the same workload on new prompt families through a second
// gateway without the EPP (round-robin, the baseline), prints what happened (cache-hit rate, TTFT,
// where requests went), and leaves the gateway listening with a curl line to try. Ctrl-C stops
// everything.
//
//   node dist/e2e/demo.js [--sims 3] [--requests 60] [--concurrency 4] [--families 5]
//                         [--port 8080] [--tokenizer auto|render|dummy] [--subnet 127.0.0]
//                         [--no-baseline] [--exit]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import { findPackageRoot } from '../epp/src/protocol/proto.js';
import { createLogger } from '../epp/src/observability/logger.js';
import { startStack, type Stack } from './lib/stack.js';
import { SIM_MODEL } from './lib/sims.js';
import { formatEndpoints, formatRuns, runWorkload, summarize, type Outcome } from './lib/workload.js';
import { startGateway } from '../gateway/index.js';

const USAGE = `usage: demo [--sims N] [--requests N] [--concurrency N] [--families N] [--port P] [--tokenizer auto|render|dummy] [--subnet A.B.C] [--no-baseline] [--exit]`;

function intFlag(v: string | undefined, d: number, name: string, min = 1): number {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name}: expected an integer ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

let stack: Stack | undefined;
let stopping = false;

/** Stops every part (children first), then exits. A second signal kills the simulators outright. */
function shutdown(code: number, why?: string): void {
  if (stopping) {
    for (const s of stack?.sims ?? []) s.kill('SIGKILL');
    process.exit(code);
  }
  stopping = true;
  if (why) process.stderr.write(`\n${why}: stopping the model servers, the EPP and the gateway ...\n`);
  const hard = setTimeout(() => {
    for (const s of stack?.sims ?? []) s.kill('SIGKILL');
    process.exit(code);
  }, 8000);
  hard.unref();
  void (stack ? stack.close() : Promise.resolve()).finally(() => {
    clearTimeout(hard);
    process.exit(code);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sims: { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      families: { type: 'string' },
      port: { type: 'string' },
      tokenizer: { type: 'string' },
      subnet: { type: 'string' },
      exit: { type: 'boolean', default: false },
      'no-baseline': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const sims = intFlag(values.sims, 3, 'sims');
  const requests = intFlag(values.requests, 60, 'requests');
  const concurrency = intFlag(values.concurrency, 4, 'concurrency');
  const families = intFlag(values.families, 5, 'families');
  const tokenizer = (values.tokenizer ?? 'auto') as 'auto' | 'render' | 'dummy';
  if (!['auto', 'render', 'dummy'].includes(tokenizer)) {
    console.error(`--tokenizer: auto, render or dummy\n${USAGE}`);
    process.exit(2);
  }
  const subnet = values.subnet ?? '127.0.0';
  let port = intFlag(values.port, 8080, 'port', 0);
  if (values.port === undefined && !(await portFree('127.0.0.1', port))) port = 0;

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig === 'SIGINT' ? 130 : 143, sig === 'SIGINT' ? 'Ctrl-C' : sig));

  execFileSync('bash', [join(findPackageRoot(), 'scripts', 'deps', 'inference-sim.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log('tokenroute demo: the local stack (development gateway = a local stand-in for Envoy, not a production proxy)\n');
  const t0 = performance.now();
  stack = await startStack({
    sims,
    subnet,
    tokenizer,
    gatewayPort: port,
    failureMode: 'FailOpen',
    detachedSims: true,
    // Simulated time: 1 ms per uncached prompt token, 10 ms per output token, 4 sequences at once;
    // a KV cache of 80 blocks of 16 tokens (~3 of the workload's prompts): like a real server, it
    // cannot hold every prompt, so where a request goes decides whether its prefix is cached.
    sim: { mode: 'random', prefillTimePerToken: '1ms', interTokenLatency: '10ms', maxNumSeqs: 4, kvCacheSize: 80 },
    logger: createLogger('error'),
    progress: (line) => console.log(`  ${line}`),
  });
  if (stopping) return;
  const s = stack;
  console.log(`\n  model servers  ${s.sims.length} × llm-d-inference-sim (${SIM_MODEL}): ${s.sims.map((x) => x.key).join(', ')}`);
  console.log(`                 prefix caching + KV events on; ${s.tokenizerNote}`);
  console.log(`  EPP            standalone, ext_proc on ${s.epp.address}, metrics ${s.epp.metricsUrl}`);
  console.log(`                 profile: ${s.profileSummary}`);
  console.log(`  gateway        ${s.gateway.url}  filter.wasm (proxy-wasm host) → ext_proc (FULL_DUPLEX_STREAMED) → model server; FailOpen`);
  console.log(`  ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  console.log(`workload: ${requests} streaming chat requests in ${families} prompt families (each a ~300-word shared system prompt + a unique question), ${concurrency} at a time`);
  const tty = process.stdout.isTTY === true;
  const run = async (label: string, url: string, familyOffset: number): Promise<{ outcomes: Outcome[]; secs: number }> => {
    const w0 = performance.now();
    let lastQuarter = 0;
    const outcomes = await runWorkload({
      url,
      requests,
      concurrency,
      families,
      familyOffset,
      onProgress: (done, total) => {
        if (stopping) return;
        const secs = ((performance.now() - w0) / 1000).toFixed(1);
        if (tty) {
          const n = Math.round((done / total) * 40);
          process.stdout.write(`\r  ${label.padEnd(12)} [${'#'.repeat(n)}${'.'.repeat(40 - n)}] ${done}/${total}  ${secs} s`);
          if (done === total) process.stdout.write('\n');
        } else {
          const q = Math.floor((done / total) * 4);
          if (q > lastQuarter) {
            lastQuarter = q;
            console.log(`  ${label}: ${done}/${total} requests done (${secs} s)`);
          }
        }
      },
    });
    return { outcomes, secs: (performance.now() - w0) / 1000 };
  };
  const viaEpp = await run('via the EPP', s.gateway.url, 0);
  if (stopping) return;
  let baseline: { outcomes: Outcome[]; secs: number } | undefined;
  if (!values['no-baseline']) {
    // The same gateway and filter without an EPP: round-robin over the pool, on new (uncached) families.
    const rr = await startGateway({ ...s.gatewayOptions, port: 0, epp: undefined, onRequest: undefined });
    try {
      baseline = await run('round-robin', rr.url, 1000);
    } finally {
      await rr.close();
    }
    if (stopping) return;
  }
  const summary = summarize(viaEpp.outcomes, s.sims.map((x) => x.key));
  console.log(`\nresults (TTFT measured by the client through the gateway; cache hits as the model servers report them)\n`);
  console.log(
    formatRuns([
      { label: 'tokenroute EPP (prefix-aware)', summary },
      ...(baseline ? [{ label: 'round-robin, no EPP (baseline)', summary: summarize(baseline.outcomes) }] : []),
    ]),
  );
  console.log(`\nwhere the EPP sent them:\n`);
  console.log(formatEndpoints(summary, families));
  const errors = [...viaEpp.outcomes, ...(baseline?.outcomes ?? [])].filter((o) => o.status !== 200 || o.error);
  if (errors.length > 0) {
    console.log(`\n${errors.length} request(s) failed, e.g. #${errors[0].i}: status ${errors[0].status} ${errors[0].error ?? errors[0].text.slice(0, 200)}`);
  }

  if (values.exit) {
    shutdown(errors.length === 0 ? 0 : 1);
    return;
  }
  const body = JSON.stringify({ model: SIM_MODEL, stream: true, max_tokens: 20, messages: [{ role: 'user', content: 'Hello! What can you do?' }] });
  console.log(`\nThe gateway is still listening. Try it (the response header x-gateway-destination-endpoint-served names the model server):\n`);
  console.log(`  curl -sN ${s.gateway.url}/v1/chat/completions -H 'content-type: application/json' -d '${body}'\n`);
  console.log('Ctrl-C stops everything.');
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.stack ?? err.message}`);
  shutdown(1);
});
