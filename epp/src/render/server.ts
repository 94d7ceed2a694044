// A vLLM-compatible render / tokenize HTTP endpoint backed by the shared tokenroute core wasm,
// so components that need vLLM's tokenization without a GPU (llm-d-inference-sim's --render-url,
// llm-d's token-producer) tokenize exactly as tokenroute's edge filter and EPP do:
//   POST /v1/completions/render       {model, prompt, add_special_tokens?} → [{token_ids}] (one per prompt)
//   POST /v1/chat/completions/render  {model, messages, add_generation_prompt?, ...} → {token_ids}
//   POST /tokenize                    {model, prompt | messages} → {count, max_model_len, tokens, token_strs}
//   GET  /health                      → 200
// Response shapes are the ones vLLM's render server returns and the simulator parses. Work runs
// in the shared tokenizer worker pool (prefix/keys/tokenizer-pool.ts), never on the event loop.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BodyKind, ModelBinding } from '../prefix/keys/request-keys.js';
import { acquireTokenizerPool, releaseTokenizerPool, type TokenizerPool } from '../prefix/keys/tokenizer-pool.js';

export interface RenderServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Served model name → tokenizer binding (as the prefix plugins' `models`). */
  readonly models: ReadonlyMap<string, ModelBinding>;
  readonly workers?: number;
  /** Reported as max_model_len by /tokenize. */
  readonly maxModelLen?: number;
  readonly maxBodyBytes?: number;
  readonly timeoutMs?: number;
}

export interface RenderServer {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

export async function startRenderServer(opts: RenderServerOptions): Promise<RenderServer> {
  const pool: TokenizerPool = acquireTokenizerPool(opts.workers ?? 1);
  const limit = opts.maxBodyBytes ?? 16 << 20;
  const timeout = opts.timeoutMs ?? 10_000;

  const tokens = async (kind: BodyKind, json: Record<string, unknown>): Promise<Uint32Array> => {
    const model = typeof json.model === 'string' ? json.model : '';
    const binding = opts.models.get(model);
    if (!binding) throw new HttpError(404, `The model \`${model}\` does not exist.`);
    const r = await pool.run({ kind, json, model, binding, blockSize: 16, maxBlocks: 0, wantIds: true }, timeout);
    if (!r.ok) throw new HttpError(400, r.reason);
    return r.ids ?? new Uint32Array(0);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && (path === '/health' || path === '/health/ready')) {
      res.writeHead(200).end();
      return;
    }
    if (req.method !== 'POST') throw new HttpError(404, 'not found');
    let json: Record<string, unknown>;
    try {
      const v = JSON.parse((await readBody(req, limit)).toString('utf8')) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      json = v as Record<string, unknown>;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'body is not a JSON object');
    }
    if (path === '/v1/completions/render') {
      const prompt = json.prompt;
      // One render per prompt of a batch, as vLLM returns one entry per prompt.
      const prompts: unknown[] =
        Array.isArray(prompt) && prompt.length > 0 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0])) ? prompt : [prompt];
      const out = [];
      for (const p of prompts) out.push({ token_ids: Array.from(await tokens('completions', { ...json, prompt: p })) });
      send(res, 200, out);
    } else if (path === '/v1/chat/completions/render') {
      send(res, 200, { token_ids: Array.from(await tokens('chat-completions', json)) });
    } else if (path === '/tokenize') {
      const kind: BodyKind = json.messages !== undefined ? 'chat-completions' : 'completions';
      const ids = Array.from(await tokens(kind, json));
      send(res, 200, { count: ids.length, max_model_len: opts.maxModelLen ?? 0, tokens: ids, token_strs: null });
    } else {
      throw new HttpError(404, 'not found');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) send(res, status, { error: { message, type: status === 404 ? 'NotFoundError' : 'BadRequestError', code: status } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await releaseTokenizerPool(pool);
    },
  };
}
