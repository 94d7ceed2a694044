// Real llm-d-inference-sim model servers for the local stack (demo, e2e tests) and the prefix
// integration tests, each on its own 127.0.x.y address with its own POD_IP (the simulator binds
// 0.0.0.0:PORT — it has no bind flag — so ports must differ; the address is what POD_IP, the KV
// events' topic and the EPP's endpoint key name).
//
// Two ways to tokenize:
//   render  the simulator tokenizes every prompt by POSTing to tokenroute's render endpoint
//           (epp/src/render), so its token ids — and the block hashes in its KV events — are
//           exactly the ones the edge filter and the EPP compute. v0.10.2 only uses --render-url
//           when `GET https://huggingface.co/api/models/<model>` answers 200 at startup (pkg/
//           tokenizer/tokenizer.go modelExists); otherwise it falls back to its FNV word
//           "tokenizer". There is no internet here, so each simulator runs in a private mount
//           namespace (`unshare --mount`, needs root) whose /etc/hosts maps huggingface.co to a
//           loopback address where startHubStub serves that one HTTPS check (a self-signed
//           certificate trusted through SSL_CERT_FILE, which Go honours).
//   dummy   --force-dummy-tokenizer: words/punctuation hashed with FNV-32a. Deterministic and
//           offline, works without root, but the ids are not the model's: the precise prefix
//           scorer cannot match its KV events; the approximate scorer (routing history) works.
//
// Every simulator is started with PR_SET_PDEATHSIG=SIGKILL (setpriv, when present), so it dies
// with the process that started it even when that process is SIGKILLed.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';

export const SIM_MODEL = 'Qwen/Qwen3-0.6B';

export function simBinary(): string {
  const p = process.env.LLM_D_INFERENCE_SIM ?? join(findPackageRoot(), '.cache', 'bin', 'llm-d-inference-sim');
  if (!existsSync(p)) throw new Error(`llm-d-inference-sim not found at ${p}: run bash scripts/deps/inference-sim.sh`);
  return p;
}

/**
 * A free TCP port (closed again before use). By default free on every interface: llm-d's EPP and
 * others bind `:port`, and a port free only on 127.0.0.1 may be in use on 127.0.n.x by a run beside
 * this one (bench:routing BENCH_NET) — llm-d's EPP then fails with "bind: address already in use".
 */
export async function freePort(host = '0.0.0.0'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why render-mode tokenization cannot work on this machine (undefined when it can). */
export function renderModeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux mount namespaces';
  if (process.getuid?.() !== 0) return 'needs root (unshare --mount and a listener on port 443)';
  for (const c of ['unshare', 'openssl', 'mount']) if (!onPath(c)) return `needs ${c} on the PATH`;
  return undefined;
}

export interface HubStub {
  readonly dir: string;
  readonly hostsFile: string;
  readonly certFile: string;
  close(): Promise<void>;
}

/** The "model exists" HTTPS check on `ip`:443 and a hosts file pointing huggingface.co at it. */
export async function startHubStub(ip: string): Promise<HubStub> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenroute-hub-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=huggingface.co', '-addext', 'subjectAltName=DNS:huggingface.co'], { stdio: 'ignore' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 localhost\n${ip} huggingface.co\n`);
  const server: HttpsServer = createHttps({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const ok = req.method === 'GET' && (req.url ?? '').startsWith('/api/models/');
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(ok ? '{"id":"stub"}' : '{}');
  });
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(443, ip, () => res());
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    hostsFile,
    certFile: cert,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SimOptions {
  readonly ip: string;
  readonly port: number;
  /** Where the simulator dials its KV-event PUB socket (the EPP's precise scorer binds it). */
  readonly zmqEndpoint: string;
  /** Render mode: tokenroute's render endpoint and the hub stub. Both absent → --force-dummy-tokenizer. */
  readonly renderUrl?: string;
  readonly hub?: HubStub;
  readonly kvCacheSize?: number;
  /** `echo` (default) or `random` (canned sentences, honours max_tokens). */
  readonly mode?: 'echo' | 'random';
  readonly maxNumSeqs?: number;
  /** Simulated prefill time per uncached prompt token (e.g. `1ms`): prefix-cache hits shorten TTFT. */
  readonly prefillTimePerToken?: string;
  readonly interTokenLatency?: string;
  readonly podName?: string;
  readonly extraArgs?: readonly string[];
  /** Own process group (not reached by a terminal's Ctrl-C; the starter stops it). Default false. */
  readonly detached?: boolean;
}

export interface Sim {
  readonly ip: string;
  readonly port: number;
  /** `ip:port`, the EPP's endpoint key. */
  readonly key: string;
  readonly url: string;
  readonly pid: number;
  readonly log: () => string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** Sends a signal (SIGKILL for a crash). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after 3 s; resolves when gone. */
  stop(): Promise<void>;
}

let setprivAvailable: boolean | undefined;

/** `setpriv --pdeathsig KILL --` when available: a command prefixed with it dies with this process. */
export function dieWithParentPrefix(): string[] {
  setprivAvailable ??= process.platform === 'linux' && onPath('setpriv');
  return setprivAvailable ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
}

export async function startSim(o: SimOptions): Promise<Sim> {
  const render = o.renderUrl !== undefined && o.hub !== undefined;
  const args = [
    '--model', SIM_MODEL, '--port', String(o.port), '--mode', o.mode ?? 'echo',
    '--enable-kvcache', '--kv-cache-size', String(o.kvCacheSize ?? 256), '--block-size', '16',
    '--zmq-endpoint', o.zmqEndpoint, '--event-batch-size', '1',
    ...(render ? ['--render-url', o.renderUrl!] : ['--force-dummy-tokenizer']),
    '--max-model-len', '8192', '--max-num-seqs', String(o.maxNumSeqs ?? 8),
    '--enable-sleep-mode',
    ...(o.prefillTimePerToken ? ['--prefill-time-per-token', o.prefillTimePerToken] : []),
    ...(o.interTokenLatency ? ['--inter-token-latency', o.interTokenLatency] : []),
    ...(o.extraArgs ?? []),
  ];
  // setpriv → unshare → sh → simulator: each execs the next, so the pid stays the simulator's.
  const prefix = dieWithParentPrefix();
  const script = `mount --bind "$1" /etc/hosts && shift && exec "$@"`;
  const command = render ? [...prefix, 'unshare', '--mount', 'sh', '-c', script, 'sh', o.hub!.hostsFile, simBinary(), ...args] : [...prefix, simBinary(), ...args];
  const child: ChildProcess = spawn(command[0], command.slice(1), {
    env: {
      ...process.env,
      POD_IP: o.ip,
      POD_NAME: o.podName ?? `sim-${o.ip}`,
      POD_NAMESPACE: 'default',
      ...(render ? { SSL_CERT_FILE: o.hub!.certFile } : {}),
      VLLM_SERVER_DEV_MODE: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.detached ?? false,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  const url = `http://${o.ip}:${o.port}`;
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  });
  child.once('error', (err) => (out += `\nspawn failed: ${err.message}`));
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  // Generous: on a loaded 2-core machine (the whole suite running) a simulator has taken over 20 s to start.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`simulator on ${o.ip}:${o.port} exited: ${out.slice(-2000)}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      kill('SIGKILL');
      throw new Error(`simulator on ${o.ip}:${o.port} did not become healthy: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (render && !/HF tokenizer created|Render client created/.test(out) && /using simulated tokenizer/.test(out)) {
    kill('SIGKILL');
    throw new Error('simulator fell back to its dummy tokenizer (the hub stub was not reached)');
  }
  return {
    ip: o.ip,
    port: o.port,
    key: `${o.ip}:${o.port}`,
    url,
    pid: child.pid!,
    log: () => out,
    exited,
    kill,
    async stop() {
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** POSTs an OpenAI request straight to a simulator (as if the gateway had routed it there). */
export async function complete(sim: Sim, path: string, body: Record<string, unknown>): Promise<{ cachedTokens: number; promptTokens: number }> {
  const r = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ max_tokens: 1, ...body }) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${sim.key} ${path}: ${r.status} ${text}`);
  const j = JSON.parse(text) as { usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } };
  return { promptTokens: j.usage.prompt_tokens, cachedTokens: j.usage.prompt_tokens_details?.cached_tokens ?? 0 };
}

/** Polls `cond` every 20 ms until it is true (or throws after `ms`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
