// Bodies vLLM might refuse, and what the EPP decides for each (issue 12 defect 6), through the
// real request path (config loader → director → parser → scheduler): the EPP is a router, not a
// validator, and matches GIE's Go EPP where GIE is lenient — Go's encoding/json replaces invalid
// UTF-8 and lone surrogates with U+FFFD and routes the request; the model server then answers
// for itself. Where tokenroute is stricter it says so (docs/configuration.md, openai-parser).
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { CONFIG_HEADER, pipeline, type Pipeline } from '../prefix/keys/pipeline.js';
import type { Decision } from '../../../epp/src/framework/request-controller.js';

let p: Pipeline;
beforeAll(async () => {
  p = await pipeline(CONFIG_HEADER + 'plugins:\n- type: queue-scorer\ndataLayer: {sources: []}\n', [{ address: '127.0.0.1', port: 8000 }]);
});
afterAll(() => p?.close());

async function decide(body: Buffer | undefined): Promise<Decision> {
  const headers = new Map([[':method', 'POST'], [':path', '/v1/completions'], ['content-type', 'application/json']]);
  const input = { headers, requestId: 'r', body: body ?? Buffer.alloc(0), filterMetadata: {}, attributes: new Map(), grpcMetadata: new Map() };
  const d = body === undefined ? await p.director.handleBodiless(input) : await p.director.handleRequest(input);
  if (d.kind === 'route') d.handle.onEnd('complete');
  return d;
}
const completion = (prompt: Buffer | string) => Buffer.concat([Buffer.from('{"model":"m","prompt":"'), Buffer.from(prompt), Buffer.from('"}')]);
const nested = (depth: number) => Buffer.from(`{"model":"m","prompt":"x","extra":${'['.repeat(depth)}${']'.repeat(depth)}}`);

describe('lenient where GIE is lenient', () => {
  it('routes a body with invalid UTF-8 in a string (Go decodes it as U+FFFD)', async () => {
    assert.equal((await decide(completion(Buffer.from([0x61, 0xff, 0xfe, 0x62])))).kind, 'route');
  });

  it('routes a body with a lone surrogate escape (Go decodes it as U+FFFD)', async () => {
    assert.equal((await decide(completion('\\ud800 and \\udfff'))).kind, 'route');
  });

  it('routes nesting up to 256 levels, refuses deeper with 400 (tokenroute bound; Go allows 10,000)', async () => {
    assert.equal((await decide(nested(200))).kind, 'route');
    const deep = await decide(nested(300));
    assert.equal(deep.kind === 'reject' && deep.status, 400);
    assert.match(deep.kind === 'reject' ? deep.message : '', /nested deeper than 256 levels/);
  });

  it('routes a POST without a body at its headers (bodiless, as GIE), refuses an empty body message with 400', async () => {
    assert.equal((await decide(undefined)).kind, 'route');
    const empty = await decide(Buffer.alloc(0));
    assert.equal(empty.kind === 'reject' && empty.status, 400);
  });
});
