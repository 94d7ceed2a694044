// The real edge filter's headers, read by the EPP: requests sharing a long system message follow
// it to one endpoint, whether the EPP decides at the headers or reads the body too (the filter's
// prefix digest matched against the approximate index's routing history).
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Decision, RequestInput } from '../../../epp/src/framework/request-controller.js';
import { chat, filterHost, HMAC_KEY } from '../../filter/filter/helpers.js';
import { requestPath } from './helpers.js';

const MODEL = 'Qwen/Qwen3-8B';

function config(atHeaders: boolean): string {
  const trust = `filterHeaders: {hmacKeys: ["${HMAC_KEY}"]}`;
  return `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
${atHeaders ? `- type: openai-parser\n  parameters: {${trust}}\n` : ''}- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, ${trust}}
- type: queue-scorer
${atHeaders ? 'parser: {pluginRef: openai-parser}\n' : ''}`;
}

const SYSTEM = Array.from({ length: 120 }, (_, i) => `Rule ${i}: answer in the register of a ship's log.`).join(' ');

describe('the filter keys drive prefix affinity', () => {
  for (const atHeaders of [true, false]) {
    it(atHeaders ? 'decided at the headers' : 'body read by the EPP', async () => {
      const host = await filterHost({ blockSize: 16 });
      const { director } = requestPath(config(atHeaders), 4);
      let first: string | undefined;
      for (let i = 0; i < 6; i++) {
        const id = `affinity-${atHeaders}-${i}`;
        const req = chat(MODEL, { messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: `Question ${i}?` }] });
        const out = await host.runRequest({ ...req, headers: { ...req.headers, 'x-request-id': id } });
        const headers = new Map<string, string>([[':method', 'POST'], [':path', '/v1/chat/completions'], ...out.headersAfter.map(([k, v]) => [k.toLowerCase(), v] as [string, string])]);
        const input: RequestInput = { headers, requestId: id, body: Buffer.from(out.body), filterMetadata: {}, attributes: new Map(), grpcMetadata: new Map() };
        const d: Decision = await (director.handleHeaders(input) ?? director.handleRequest(input));
        assert.equal(d.kind, 'route', JSON.stringify(d));
        const r = d as Extract<Decision, { kind: 'route' }>;
        first ??= r.endpoints[0];
        assert.equal(r.endpoints[0], first, `request ${i} left the prefix's endpoint`);
        r.handle.onEnd('complete');
      }
    });
  }
});
