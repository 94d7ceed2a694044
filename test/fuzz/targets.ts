// Fuzz targets (fast-check): the edge filter's body reader in the proxy-wasm host, the EPP's request
// path (parser → scheduler), the off-thread parser against the event-loop one, and the ext_proc
// stream state machine. Each target checks invariants
// that must hold for ANY input, and is used by `npm run fuzz` (test/fuzz/run.ts, long runs) and
// test/fuzz/fuzz.test.ts (a short budget in CI). A failing input is written to
// .cache/fuzz/failures and belongs in test/fuzz/corpus/<target>/ once fixed, where every run
// replays it first.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { silentLogger } from '../../epp/src/observability/logger.js';
import { EppMetrics } from '../../epp/src/observability/metrics.js';
import { ExtProcStream, resolveExtProcOptions, type ExtProcSink } from '../../epp/src/extproc/stream.js';
import type { ProcessingRequest, ProcessingResponse } from '../../epp/src/protocol/types.js';
import type { ProxyWasmHost } from '../../filter/host/index.js';
import { TestController } from '../epp/extproc/harness.js';
import { bodyMsg, headersMsg, respBodyMsg, respHeadersMsg } from '../gateway/extproc/driver.js';
import { CONFIG_HEADER, pipeline, type Pipeline } from '../epp/prefix/keys/pipeline.js';
import { filterHost, header } from '../filter/filter/helpers.js';
import { parseRequestBody, type ParseResult } from '../../epp/src/requestcontrol/parser.js';
import { createOpenAIParser, DEFAULT_OFF_THREAD } from '../../epp/src/requestcontrol/parsing/openai-parser.js';

export interface FuzzTarget<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Throws when an invariant does not hold. */
  check(input: T): Promise<void> | void;
  /** Corpus files (JSON) are turned back into inputs with this. */
  fromJson(json: unknown): T;
  toJson(input: T): unknown;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

const PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/responses', '/v1/embeddings', '/v1/models', '/'];

/** Bodies: raw bytes, JSON-ish text with the shapes the readers look at, and mutated valid bodies. */
const jsonish = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary', maxLength: 64 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('model', 'prompt', 'messages', 'role', 'content', 'type', 'text', 'input', 'stream', 'cache_salt', 'tools', 'x'), tie('v'), { maxKeys: 5 }),
  ),
}));
const VALID = [
  '{"model":"Qwen/Qwen3-8B","messages":[{"role":"user","content":"hello there"}]}',
  '{"model":"Qwen/Qwen3-8B","prompt":"hello there","stream":true}',
  '{"model":"Qwen/Qwen3-8B","input":[{"role":"user","content":"hi"}]}',
];
const mutated = fc.tuple(fc.constantFrom(...VALID), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'cut')), { maxLength: 8 })).map(([text, edits]) => {
  let b = Buffer.from(text);
  for (const [at, byte, op] of edits) {
    const i = b.length === 0 ? 0 : at % b.length;
    if (op === 'flip') b[i] = byte;
    else if (op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
    else b = b.subarray(0, i);
  }
  return b;
});
const body: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  jsonish.v.map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  mutated,
  fc.integer({ min: 1, max: 400 }).map((d) => Buffer.from(`{"model":"m","prompt":"x","n":${'['.repeat(d)}${']'.repeat(d)}}`)),
);

interface BodyCase {
  readonly path: string;
  readonly body: Buffer;
}
const bodyCase = fc.record({ path: fc.constantFrom(...PATHS), body });
const bodyJson = { toJson: (c: BodyCase) => ({ path: c.path, body: c.body.toString('base64') }), fromJson: (j: unknown) => ({ path: (j as { path: string }).path, body: Buffer.from((j as { body: string }).body, 'base64') }) };

/** The filter never traps and every request ends with keys or an error kind. */
export function filterBodyTarget(): FuzzTarget<BodyCase> {
  let host: ProxyWasmHost;
  return {
    name: 'filter-body',
    arbitrary: bodyCase,
    ...bodyJson,
    async setup() {
      host = await filterHost({ maxBodyBytes: 64 * 1024 });
    },
    async teardown() {},
    check(c) {
      const r = host.runRequestSync({ path: c.path, body: c.body });
      assert.equal(r.trap, undefined, `trap: ${r.trap}`);
      assert.notEqual(r.action, 'stalled', 'the request stalled');
      if (['/v1/chat/completions', '/v1/completions', '/v1/responses'].includes(c.path) && r.action === 'continue') {
        assert.equal(header(r, 'x-tokenroute-error').length + header(r, 'x-tokenroute-blocks').length, 1, 'exactly one outcome');
      }
    },
  };
}

/** The EPP's request path answers every body with a route or a 4xx, never throws, never hangs. */
export function eppRequestTarget(): FuzzTarget<BodyCase> {
  let p: Pipeline;
  return {
    name: 'epp-request',
    arbitrary: bodyCase,
    ...bodyJson,
    async setup() {
      p = await pipeline(CONFIG_HEADER + 'plugins:\n- type: queue-scorer\n- type: prefix-cache-scorer\n  parameters: {blockSizeTokens: 16, autoTune: false}\ndataLayer: {sources: []}\n', [{ address: '127.0.0.1', port: 8000 }, { address: '127.0.0.2', port: 8000 }]);
    },
    async teardown() {
      await p?.close();
    },
    async check(c) {
      const headers = new Map([[':method', 'POST'], [':path', c.path], ['content-type', 'application/json']]);
      const input = { headers, requestId: 'fuzz', body: c.body, filterMetadata: {}, attributes: new Map(), grpcMetadata: new Map() };
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error('no decision within 5 s')), 5000)));
      const d = await Promise.race([p.director.handleRequest(input), hang]).finally(() => clearTimeout(timer));
      if (d.kind === 'route') {
        assert.ok(d.endpoints.length > 0);
        d.handle.onEnd('complete');
      } else {
        assert.equal(d.kind, 'reject');
        assert.ok(d.status >= 400 && d.status < 500, `a bad body is the client's error, got ${d.status}: ${d.message}`);
      }
    },
  };
}

/**
 * A body parsed in the worker (openai-parser's off-thread path) gives the answer the event-loop
 * parser gives — same fields, same 400s — and a model rewrite spliced into its bytes is the body
 * with only `model` replaced.
 */
export function offThreadParseTarget(): FuzzTarget<BodyCase> {
  const parser = createOpenAIParser('fuzz-off-thread', {}, { ...DEFAULT_OFF_THREAD, bodyBytes: 1 });
  const view = (r: ParseResult) => {
    if (!r.ok) return r;
    const b = r.body;
    return { kind: b.kind, model: b.model, stream: b.stream, cacheSalt: b.cacheSalt, prefixText: b.prefixText, prefixLength: b.prefixLength, content: b.content };
  };
  return {
    name: 'off-thread-parse',
    arbitrary: bodyCase,
    ...bodyJson,
    async setup() {},
    async teardown() {
      await parser.close();
    },
    async check(c) {
      const headers = new Map([[':path', c.path]]);
      const inline = parseRequestBody(c.body, c.path);
      const off = await parser.parse(c.body, headers);
      assert.deepEqual(view(off), view(inline));
      if (off.ok && inline.ok) {
        const rewritten = JSON.parse(off.body.withModel('rewritten/model').toString('utf8')) as Record<string, unknown>;
        assert.deepEqual(rewritten, { ...inline.body.json, model: 'rewritten/model' });
      }
    },
  };
}

type Step =
  | { k: 'headers'; eos: boolean; mode: number }
  | { k: 'body'; bytes: number; eos: boolean }
  | { k: 'trailers' }
  | { k: 'resp-headers'; eos: boolean }
  | { k: 'resp-body'; bytes: number; eos: boolean }
  | { k: 'resp-trailers' }
  | { k: 'empty' }
  | { k: 'end' }
  | { k: 'cancel' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant('headers' as const), eos: fc.boolean(), mode: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ k: fc.constant('body' as const), bytes: fc.integer({ min: 0, max: 3000 }), eos: fc.boolean() }),
  fc.record({ k: fc.constant('trailers' as const) }),
  fc.record({ k: fc.constant('resp-headers' as const), eos: fc.boolean() }),
  fc.record({ k: fc.constant('resp-body' as const), bytes: fc.integer({ min: 0, max: 3000 }), eos: fc.boolean() }),
  fc.record({ k: fc.constant('resp-trailers' as const) }),
  fc.record({ k: fc.constant('empty' as const) }),
  fc.record({ k: fc.constant('end' as const) }),
  fc.record({ k: fc.constant('cancel' as const) }),
);

const MODES = ['NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'FULL_DUPLEX_STREAMED', undefined] as const;

function message(s: Step, bodyText: string): ProcessingRequest | undefined {
  switch (s.k) {
    case 'headers': {
      const m = headersMsg({ ':method': 'POST', ':path': '/v1/completions' }, s.eos);
      const mode = MODES[s.mode];
      return mode ? { ...m, protocol_config: { request_body_mode: mode, response_body_mode: mode } } : m;
    }
    case 'body':
      return bodyMsg(bodyText.slice(0, s.bytes), s.eos);
    case 'trailers':
      return { request_trailers: { trailers: { headers: [] } } } as ProcessingRequest;
    case 'resp-headers':
      return respHeadersMsg({ ':status': '200' }, s.eos);
    case 'resp-body':
      return respBodyMsg('x'.repeat(s.bytes), s.eos);
    case 'resp-trailers':
      return { response_trailers: { trailers: { headers: [] } } } as ProcessingRequest;
    case 'empty':
      return {} as ProcessingRequest;
    default:
      return undefined;
  }
}

class FuzzSink implements ExtProcSink {
  readonly sent: ProcessingResponse[] = [];
  closes = 0;
  afterClose = 0;
  send(r: ProcessingResponse): void {
    if (this.closes > 0) this.afterClose++;
    this.sent.push(r);
  }
  end(): void {
    this.closes++;
  }
  fail(): void {
    this.closes++;
  }
}

/**
 * Any sequence of ext_proc messages, half-closes and cancels: the stream never throws, writes
 * nothing after it closed, closes its sink at most once, and ends every routed request exactly
 * once when the stream is over.
 */
export function extprocStreamTarget(): FuzzTarget<Step[]> {
  const BODY = JSON.stringify({ model: 'm', prompt: 'fuzz '.repeat(800) });
  return {
    name: 'extproc-stream',
    arbitrary: fc.array(step, { minLength: 1, maxLength: 12 }),
    toJson: (s) => s,
    fromJson: (j) => j as Step[],
    async setup() {},
    async teardown() {},
    async check(steps) {
      const c = new TestController();
      // Half the inputs (a function of the input, so a saved one replays the same) meet a
      // controller that decides at the headers, as with the edge filter in front.
      if (JSON.stringify(steps).length % 2 === 0) (c as { handleHeaders?: unknown }).handleHeaders = (input: Parameters<typeof c.handleRequest>[0]) => c.route(input, ['10.0.0.9:8000']);
      const sink = new FuzzSink();
      const stream = new ExtProcStream(resolveExtProcOptions({ controller: c, logger: silentLogger(), metrics: new EppMetrics(), yieldBeforeBodyBytes: 2000 }), sink);
      let over = false;
      for (const s of steps) {
        if (s.k === 'end') {
          stream.onClientEnd();
          over = true;
          break;
        }
        if (s.k === 'cancel') {
          stream.onCancel();
          over = true;
          break;
        }
        stream.onMessage(message(s, BODY)!);
        await new Promise((r) => setImmediate(r));
      }
      if (!over) stream.onCancel();
      await new Promise((r) => setImmediate(r));
      assert.ok(sink.closes <= 1, `sink closed ${sink.closes} times`);
      assert.equal(sink.afterClose, 0, 'wrote after closing');
      for (const h of c.handles) assert.equal(h.ends.length, 1, `request ended ${h.ends.length} times: ${h.ends.join(',')}`);
    },
  };
}

export function allTargets(): FuzzTarget<any>[] {
  return [filterBodyTarget(), eppRequestTarget(), offThreadParseTarget(), extprocStreamTarget()];
}
