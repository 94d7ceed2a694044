// Unit tests of the response-path model-name restore (no external components).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ModelNameRestorer } from '../../../epp/src/requestcontrol/model-restore.js';

function runChunks(r: ModelNameRestorer, chunks: string[]): string {
  return chunks.map((c, i) => r.push(Buffer.from(c), i === chunks.length - 1).toString()).join('');
}

test('rewrites compact and spaced model fields in one chunk', () => {
  const r = new ModelNameRestorer('llama-8b-v2', 'llama');
  const out = r.push(Buffer.from('{"id":"x","model":"llama-8b-v2","y":{"model": "llama-8b-v2"}}'), true).toString();
  assert.equal(out, '{"id":"x","model":"llama","y":{"model": "llama"}}');
});

test('leaves other models and look-alike text alone', () => {
  const r = new ModelNameRestorer('a', 'b');
  const body = '{"model":"ab","note":"\\"model\\":\\"a\\"","models":"a"}';
  assert.equal(r.push(Buffer.from(body), true).toString(), body);
});

test('a match split across every possible chunk boundary is still rewritten', () => {
  const body = 'data: {"model":"target-model","choices":[]}\n\ndata: {"model":"target-model"}\n\n';
  const want = body.replaceAll('"model":"target-model"', '"model":"client"');
  for (let cut = 1; cut < body.length; cut++) {
    const r = new ModelNameRestorer('target-model', 'client');
    assert.equal(runChunks(r, [body.slice(0, cut), body.slice(cut)]), want, `cut at ${cut}`);
  }
});

test('nothing is held back when a chunk does not end inside a possible match', () => {
  const r = new ModelNameRestorer('m1', 'm0');
  const out = r.push(Buffer.from('data: {"model":"m1"}\n\n'), false).toString();
  assert.equal(out, 'data: {"model":"m0"}\n\n');
});

test('unchanged chunks are returned without copying', () => {
  const r = new ModelNameRestorer('m1', 'm0');
  const chunk = Buffer.from('data: {"x":1}\n\n');
  assert.equal(r.push(chunk, false), chunk);
});
