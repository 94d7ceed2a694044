// Response usage → GIE's token metrics: the usage reader (requestcontrol/usage.ts) on vLLM/OpenAI
// JSON bodies and SSE streams split anywhere, with a bounded tail; and through the real EPP
// (startEpp, a real gRPC client playing Envoy), a completed response's usage lands in
// inference_objective_input_tokens / _output_tokens / _prompt_cached_tokens /
// _normalized_time_per_output_token_seconds.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { parseUsage, UsageTail, USAGE_TAIL_BYTES } from '../../../epp/src/requestcontrol/usage.js';
import { embeddedEppOptions, startEpp, type RunningEpp } from '../../../epp/src/main.js';
import { EMPTY_METRICS } from '../../../epp/src/framework/endpoint.js';
import { newExtProcClient, type ExtProcClient } from '../extproc/harness.js';
import { decide } from '../../integration/k8s/epp.js';

const JSON_BODY = JSON.stringify({
  id: 'cmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'the "usage": {"prompt_tokens": 999} in content must not count' } }],
  usage: { prompt_tokens: 120, total_tokens: 150, completion_tokens: 30, prompt_tokens_details: { cached_tokens: 96 } },
});
const SSE = [
  'data: {"id":"c","choices":[{"delta":{"content":"Hel"}}],"usage":null}\n\n',
  'data: {"id":"c","choices":[{"delta":{"content":"lo"}}],"usage":null}\n\n',
  'data: {"id":"c","choices":[],"usage":{"prompt_tokens":7,"total_tokens":17,"completion_tokens":10,"prompt_token_details":{"cached_tokens":5}}}\n\n',
  'data: [DONE]\n\n',
].join('');

function tailOf(text: string, chunkSize: number): UsageTail {
  const t = new UsageTail();
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += chunkSize) t.push(buf.subarray(i, i + chunkSize));
  return t;
}

describe('usage reader', () => {
  it('reads a JSON body and a final SSE event, whatever the chunking', () => {
    for (const size of [1, 7, 64, 100_000]) {
      assert.deepEqual(tailOf(JSON_BODY, size).usage(), { promptTokens: 120, completionTokens: 30, cachedTokens: 96 }, `json, chunks of ${size}`);
      assert.deepEqual(tailOf(SSE, size).usage(), { promptTokens: 7, completionTokens: 10, cachedTokens: 5 }, `sse, chunks of ${size} (GIE's prompt_token_details)`);
    }
  });

  it('finds nothing where there is no usage, or only null usage', () => {
    assert.equal(parseUsage('{"choices":[]}'), undefined);
    assert.equal(parseUsage('data: {"usage":null}\n\ndata: [DONE]\n\n'), undefined);
    assert.equal(parseUsage('{"usage": {"prompt_tokens": "12", "completion_tokens": 3}}'), undefined, 'counts must be numbers');
    assert.equal(parseUsage('{"usage": {"prompt_tokens": 12, "completion_tokens": 3'), undefined, 'cut short');
  });

  it('keeps only a bounded tail of a huge response', () => {
    const t = new UsageTail();
    const filler = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 200; i++) t.push(filler); // 12.5 MiB
    t.push(Buffer.from(',"usage":{"prompt_tokens":5,"completion_tokens":6}}'));
    assert.deepEqual(t.usage(), { promptTokens: 5, completionTokens: 6, cachedTokens: undefined });
    assert.ok((t as unknown as { bytes: number }).bytes <= USAGE_TAIL_BYTES + 64 * 1024);
  });
});

describe('token metrics through the EPP', () => {
  let epp: RunningEpp;
  let client: ExtProcClient;
  beforeAll(async () => {
    epp = await startEpp(embeddedEppOptions({ configText: 'apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\ndataLayer: {sources: []}\n', staticEndpoints: [{ address: '127.0.15.1', port: 8000 }] }));
    for (const c of epp.datastore.candidates()) epp.datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, updatedAt: Date.now() });
    client = newExtProcClient(`127.0.0.1:${epp.grpcPort}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await epp?.close();
  });

  it('observes the usage of a completed response', async () => {
    const d = await decide(client, { model: 'qwen', respond: () => JSON_BODY });
    assert.ok(d.endpoint);
    const text = await epp.metrics.registry.metrics();
    const sum = (name: string) => Number(new RegExp(`^${name}_sum\\{model_name="qwen",target_model_name="qwen"\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1]);
    assert.equal(sum('inference_objective_input_tokens'), 120);
    assert.equal(sum('inference_objective_output_tokens'), 30);
    assert.equal(sum('inference_objective_prompt_cached_tokens'), 96);
    assert.ok(sum('inference_objective_normalized_time_per_output_token_seconds') >= 0);
  });
});
