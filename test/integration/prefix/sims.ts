// Integration helper: real llm-d-inference-sim processes that tokenize through tokenroute's
// render endpoint, each on its own 127.0.x.y address with its own POD_IP.
//
// How the simulator is made to use --render-url offline: v0.10.2 only uses --render-url when
// `GET https://huggingface.co/api/models/<model>` answers 200 at startup (pkg/tokenizer/
// tokenizer.go modelExists); otherwise it falls back to its FNV word "tokenizer". There is no
// internet here, so each simulator runs in a private mount namespace (`unshare --mount`, root)
// whose /etc/hosts maps huggingface.co to a loopback address where this helper serves that one
// HTTPS check (a self-signed certificate trusted through SSL_CERT_FILE, which Go honours). The
// simulator then tokenizes every prompt by POSTing to tokenroute's /v1/completions/render and
// /v1/chat/completions/render — the stub answers nothing but "the model exists".
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';

export const SIM_MODEL = 'Qwen/Qwen3-0.6B';

export function simBinary(): string {
  const p = process.env.LLM_D_INFERENCE_SIM ?? resolve('.cache/bin/llm-d-inference-sim');
  if (!existsSync(p)) throw new Error(`llm-d-inference-sim not found at ${p}: run bash scripts/deps/inference-sim.sh`);
  return p;
}

/** A free TCP port on 127.0.0.1 (closed again before use). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
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
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=huggingface.co', '-addext', 'subjectAltName=DNS:huggingface.co'], { stdio: 'ignore' });
  const hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 localhost\n${ip} huggingface.co\n`);
  const server: HttpsServer = createHttps({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const ok = req.method === 'GET' && (req.url ?? '').startsWith('/api/models/');
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(ok ? '{"id":"stub"}' : '{}');
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(443, ip, () => res());
  });
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
  readonly zmqEndpoint: string;
  readonly renderUrl: string;
  readonly hub: HubStub;
  readonly kvCacheSize?: number;
  readonly extraArgs?: readonly string[];
}

export interface Sim {
  readonly ip: string;
  readonly port: number;
  readonly key: string;
  readonly url: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

export async function startSim(o: SimOptions): Promise<Sim> {
  const args = [
    '--model', SIM_MODEL, '--port', String(o.port), '--mode', 'echo',
    '--enable-kvcache', '--kv-cache-size', String(o.kvCacheSize ?? 256), '--block-size', '16',
    '--zmq-endpoint', o.zmqEndpoint, '--event-batch-size', '1',
    '--render-url', o.renderUrl, '--max-model-len', '8192', '--max-num-seqs', '8',
    '--enable-sleep-mode',
    ...(o.extraArgs ?? []),
  ];
  const script = `mount --bind "$1" /etc/hosts && shift && exec "$@"`;
  const child: ChildProcess = spawn('unshare', ['--mount', 'sh', '-c', script, 'sh', o.hub.hostsFile, simBinary(), ...args], {
    env: { ...process.env, POD_IP: o.ip, POD_NAME: `sim-${o.ip}`, POD_NAMESPACE: 'default', SSL_CERT_FILE: o.hub.certFile, VLLM_SERVER_DEV_MODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-20000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-20000)));
  const url = `http://${o.ip}:${o.port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`simulator exited: ${out.slice(-2000)}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`simulator did not become healthy: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!/HF tokenizer created|Render client created/.test(out) && /using simulated tokenizer/.test(out)) {
    child.kill('SIGKILL');
    throw new Error('simulator fell back to its dummy tokenizer (the hub stub was not reached)');
  }
  return {
    ip: o.ip,
    port: o.port,
    key: `${o.ip}:${o.port}`,
    url,
    log: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
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
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
