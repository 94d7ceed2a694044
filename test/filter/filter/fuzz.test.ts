// Property-based fuzzing (fast-check) of the filter's body reader through the Node host, with the
// real filter module: whatever the body, the VM must not trap (in Envoy a trap fails the worker VM
// and every later request on it) and every request must finish (no stall), either with block keys
// or with x-tokenroute-error.
import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { HostRequest, ProxyWasmHost } from '../../../filter/host/index.js';
import { filterHost, header } from './helpers.js';

const QWEN = 'Qwen/Qwen3-8B';
const PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/responses'];
let host: ProxyWasmHost;

beforeAll(async () => {
  host = await filterHost({ maxBodyBytes: 64 * 1024 });
});

function check(req: HostRequest): void {
  const r = host.runRequestSync(req);
  assert.equal(r.trap, undefined, `trap: ${r.trap}`);
  assert.equal(r.action, 'continue');
  const error = header(r, 'x-tokenroute-error');
  const blocks = header(r, 'x-tokenroute-blocks');
  assert.equal(error.length + blocks.length, 1, `exactly one outcome, got ${JSON.stringify(r.addedHeaders)}`);
}

/** A JSON-ish value with the shapes the reader looks at, including wrong types everywhere. */
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('role', 'content', 'type', 'text', 'model', 'prompt', 'messages', 'input', 'tools', 'x'), tie('value'), { maxKeys: 4 }),
  ),
}));

const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.string({ unit: 'binary', maxLength: 200 }) }),
  fc.record({ type: fc.constantFrom('image_url', 'input_text', 'refusal', 'text'), text: anyValue.value }),
  anyValue.value,
);
const message = fc.record(
  {
    role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer'), anyValue.value),
    content: fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.array(part, { maxLength: 3 }), anyValue.value),
    tool_calls: anyValue.value,
    reasoning_content: fc.oneof(fc.string(), anyValue.value),
  },
  { requiredKeys: ['role'] },
);
const chatBody = fc.record(
  {
    model: fc.oneof(fc.constant(QWEN), fc.constantFrom('meta-llama/Llama-3.1-8B-Instruct', 'deepseek-ai/DeepSeek-V3'), anyValue.value),
    messages: fc.oneof(fc.array(message, { maxLength: 5 }), anyValue.value),
    add_generation_prompt: fc.oneof(fc.boolean(), anyValue.value),
    continue_final_message: fc.oneof(fc.boolean(), anyValue.value),
    chat_template_kwargs: fc.oneof(fc.record({ enable_thinking: fc.oneof(fc.boolean(), anyValue.value) }), anyValue.value),
    tools: fc.oneof(fc.array(anyValue.value, { maxLength: 2 }), anyValue.value),
    cache_salt: fc.oneof(fc.string(), anyValue.value),
  },
  { requiredKeys: ['model'] },
);
const completionBody = fc.record(
  {
    model: fc.oneof(fc.constant(QWEN), anyValue.value),
    prompt: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 500 }),
      fc.array(fc.string({ maxLength: 50 }), { maxLength: 3 }),
      fc.array(fc.oneof(fc.nat(), fc.integer(), fc.double()), { maxLength: 40 }),
      fc.array(fc.array(fc.nat(200_000), { maxLength: 20 }), { maxLength: 3 }),
      anyValue.value,
    ),
    add_special_tokens: fc.oneof(fc.boolean(), anyValue.value),
  },
  { requiredKeys: ['model'] },
);
const responsesBody = fc.record(
  {
    model: fc.oneof(fc.constant(QWEN), anyValue.value),
    instructions: fc.oneof(fc.string(), anyValue.value),
    input: fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.oneof(message, anyValue.value), { maxLength: 3 }), anyValue.value),
  },
  { requiredKeys: ['model'] },
);

/** Splits bytes into 1-4 data frames at arbitrary points. */
const framed = (bytes: Uint8Array) =>
  fc.array(fc.nat(bytes.length), { maxLength: 3 }).map((cuts) => {
    const points = [...new Set([0, ...cuts.sort((a, b) => a - b), bytes.length])];
    const frames: Uint8Array[] = [];
    for (let i = 0; i + 1 < points.length; i++) frames.push(bytes.subarray(points[i], points[i + 1]));
    return frames.length ? frames : [bytes];
  });

describe('fuzz: the body reader never traps or stalls', { timeout: 600_000 }, () => {
  it('random bytes on every endpoint', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), fc.uint8Array({ maxLength: 2048 }), (path, body) => check({ path, body: [body] })),
      { numRuns: 2000 },
    );
  });

  it('structured chat, completion and responses bodies with wrong types anywhere', () => {
    fc.assert(fc.property(chatBody, (b) => check({ path: '/v1/chat/completions', body: JSON.stringify(b) })), { numRuns: 1500 });
    fc.assert(fc.property(completionBody, (b) => check({ path: '/v1/completions', body: JSON.stringify(b) })), { numRuns: 1500 });
    fc.assert(fc.property(responsesBody, (b) => check({ path: '/v1/responses', body: JSON.stringify(b) })), { numRuns: 1000 });
  });

  it('valid bodies with bytes flipped, inserted or cut, delivered in random frames', () => {
    const mutated = chatBody.chain((b) => {
      const text = Buffer.from(JSON.stringify(b), 'utf8');
      return fc
        .tuple(
          fc.array(fc.tuple(fc.nat(Math.max(0, text.length - 1)), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'cut')), { maxLength: 4 }),
        )
        .map(([edits]) => {
          let bytes = Buffer.from(text);
          for (const [at, byte, op] of edits) {
            const i = Math.min(at, bytes.length);
            if (op === 'flip' && i < bytes.length) bytes[i] = byte;
            else if (op === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
            else bytes = bytes.subarray(0, i);
          }
          return new Uint8Array(bytes);
        })
        .chain(framed);
    });
    fc.assert(fc.property(mutated, (frames) => check({ path: '/v1/chat/completions', body: frames })), { numRuns: 1500 });
  });

  it('deep and wide nesting, long strings and numbers', () => {
    const shapes = fc.oneof(
      fc.nat(5000).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat(5000).map((n) => `{"model":"${QWEN}","messages":${'['.repeat(n)}`),
      fc.nat(200).map((n) => `{"model":"${QWEN}","prompt":[${Array.from({ length: n * 50 }, (_, i) => i).join(',')}]}`),
      fc.nat(60_000).map((n) => `{"model":"${QWEN}","prompt":"${'\\u00e9'.repeat(n)}"}`),
      fc.nat(30).map((n) => `{"model":"${QWEN}","prompt":${'-'.repeat(n)}1${'0'.repeat(n * 10)}e99999}`),
      fc.string({ unit: 'binary', maxLength: 50 }).map((s) => `{"model":"${QWEN}","prompt":${JSON.stringify(s)}}`),
    );
    fc.assert(fc.property(fc.constantFrom(...PATHS), shapes, (path, body) => check({ path, body })), { numRuns: 400 });
    assert.equal(host.workers[0].failed, null);
  });
});
