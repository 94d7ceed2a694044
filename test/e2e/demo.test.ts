// e2e: `npm run demo` (dist*/e2e/demo.js) as a user runs it, as a child process.
// Real components started, by the demo itself: three llm-d-inference-sim model servers on
// 127.0.13.x (and, as root, tokenroute's render endpoint + hub stub), the tokenroute EPP
// in-process (standalone, prefix-aware profile), and the development gateway with filter.wasm in
// the proxy-wasm host. The tests check its printed results and the curl line it offers, and that
// it leaves no process behind — after --exit, after Ctrl-C (SIGINT) and even after SIGKILL.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { dieWithParentPrefix } from '../../e2e/lib/sims.js';
import { call } from '../../e2e/lib/workload.js';

const DEMO = fileURLToPath(new URL('../../e2e/demo.js', import.meta.url));
const SUBNET = '127.0.13';

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runDemo(args: string[]): Run {
  const child = spawn(process.execPath, [DEMO, '--subnet', SUBNET, '--port', '0', '--concurrency', '3', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, output: () => out, exit };
}

async function waitForOutput(run: Run, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = run.output().match(re);
    if (m) return m;
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`demo output never matched ${re}:\n${run.output()}`);
    await sleep(100);
  }
}

/** The simulators' ports from the demo's "model servers" line. */
function simPorts(output: string): number[] {
  const line = output.split('\n').find((l) => /^\s+model servers\s+\d/.test(l)) ?? '';
  return [...line.matchAll(new RegExp(`${SUBNET.replaceAll('.', '\\.')}\\.\\d+:(\\d+)`, 'g'))].map((m) => Number(m[1]));
}

/** Live llm-d-inference-sim processes listening on one of `ports` (from /proc). */
function simProcesses(ports: number[]): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let parts: string[];
    try {
      parts = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!parts.some((p) => p.endsWith('llm-d-inference-sim'))) continue;
    const i = parts.indexOf('--port');
    if (i >= 0 && ports.includes(Number(parts[i + 1]))) pids.push(Number(d));
  }
  return pids;
}

async function assertNoneLeft(ports: number[]): Promise<void> {
  assert.equal(ports.length, 3, 'three model servers were announced');
  const deadline = Date.now() + 3000;
  while (simProcesses(ports).length > 0 && Date.now() < deadline) await sleep(50);
  assert.deepEqual(simProcesses(ports), [], 'model server processes left behind');
  for (const p of ports) {
    await assert.rejects(fetch(`http://127.0.0.1:${p}/health`), `port ${p} still answers`);
  }
}

describe('npm run demo', () => {
  it('--exit: starts the stack, prints the results table, and stops everything', async () => {
    const run = runDemo(['--requests', '12', '--exit']);
    const { code } = await run.exit;
    const out = run.output();
    assert.equal(code, 0, out);
    assert.match(out, /development gateway/);
    assert.match(out, /routing\s+requests\s+ok\s+cache-hit rate\s+TTFT p50\s+TTFT p90/);
    assert.match(out, /tokenroute EPP \(prefix-aware\)\s+12\s+12\s+\d+\.\d%\s+\d+ ms\s+\d+ ms/, 'the summary row: 12 requests, 12 ok');
    assert.match(out, /round-robin, no EPP \(baseline\)\s+12\s+12\s+\d+\.\d%\s+\d+ ms\s+\d+ ms/, 'the baseline row');
    assert.match(out, /endpoint\s+requests\s+share\s+cache-hit rate\s+TTFT p50/);
    const ports = simPorts(out);
    for (const p of ports) assert.match(out, new RegExp(`${SUBNET.replaceAll('.', '\\.')}\\.\\d+:${p}\\s+\\d+\\s+\\d+%`), `a row for the server on port ${p}`);
    assert.match(out, /requests done/, 'progress lines (not a TTY)');
    assert.doesNotMatch(out, /curl -sN/, '--exit does not offer the curl line');
    await assertNoneLeft(ports);
  });

  it('leaves the gateway listening with a working curl line; Ctrl-C stops everything', async () => {
    const run = runDemo(['--requests', '6', '--no-baseline']);
    try {
      const m = await waitForOutput(run, /curl -sN (http:\/\/[^ ]+)(\/v1\/chat\/completions) -H 'content-type: application\/json' -d '([^']+)'/, 90_000);
      await waitForOutput(run, /Ctrl-C stops everything/, 5000);
      const r = await call(m[1], m[2], m[3]);
      assert.equal(r.status, 200);
      assert.ok(r.done && r.text.length > 0, 'the curl line streams an answer');
      assert.ok(r.served, 'the answer names the model server');
      const ports = simPorts(run.output());
      const t0 = Date.now();
      run.child.kill('SIGINT');
      const { code } = await run.exit;
      assert.equal(code, 130);
      assert.ok(Date.now() - t0 < 10_000, 'stops promptly');
      await assertNoneLeft(ports);
      await assert.rejects(fetch(`${m[1]}/v1/models`), 'the gateway is closed');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  // Needs setpriv (util-linux) for PR_SET_PDEATHSIG; every machine of this project's kind has it.
  it.skipIf(dieWithParentPrefix().length === 0)('even when the demo is SIGKILLed, its model servers die with it', async () => {
    const run = runDemo(['--requests', '3', '--no-baseline']);
    try {
      await waitForOutput(run, /Ctrl-C stops everything/, 90_000);
      const ports = simPorts(run.output());
      assert.equal(simProcesses(ports).length, 3);
      run.child.kill('SIGKILL');
      await run.exit;
      await assertNoneLeft(ports);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
