// Decisions at the request's headers (issue 13): with openai-parser's filterHeaders, a request
// whose edge-filter headers verify is read from them — no body — and scheduled with the filter's
// prefix digest; a request that needs its body (a model rewrite, an unknown API, headers that do
// not verify) is not decided there. The stream then sends each body chunk straight back.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Decision, RequestInput } from '../../../epp/src/framework/request-controller.js';
import { encodeTokenrouteHeaders } from '../../../epp/src/protocol/tokenroute-headers.js';
import { digestPositions } from '../../../epp/src/protocol/digest.js';
import { parseHmacKey } from '../../../epp/src/protocol/tokenroute-headers.js';
import { requestPath } from './helpers.js';

const KEY = randomBytes(32).toString('base64');

function setup() {
  return requestPath(`apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: openai-parser
  parameters: {filterHeaders: {hmacKeys: ["${KEY}"]}}
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, maxPrefixBlocksToMatch: 8192, filterHeaders: {hmacKeys: ["${KEY}"]}}
- type: queue-scorer
parser: {pluginRef: openai-parser}
`);
}

let nextId = 0;
/** The headers the filter adds for a 100K-token prompt whose blocks are keyed from `family`. */
function filterHeaders(family: number, path = '/v1/chat/completions', model = 'm'): Map<string, string> {
  const requestId = `req-${++nextId}`;
  const blocks = 6250;
  const keys = BigUint64Array.from(digestPositions(256, blocks), (p) => BigInt(family) * 1_000_003n + BigInt(p));
  const pairs = encodeTokenrouteHeaders({ timeSeconds: Math.floor(Date.now() / 1000), requestId, model, profile: '', tokens: 100_000, blockSize: 16, exact: true, blockKeys: keys, digest: { dense: 256, blocks } }, parseHmacKey(KEY));
  return new Map([[':method', 'POST'], [':path', path], ['content-length', '400000'], ['x-request-id', requestId], ...pairs]);
}

function input(headers: Map<string, string>): RequestInput {
  return { headers, requestId: headers.get('x-request-id') ?? 'r', body: Buffer.alloc(0), filterMetadata: {}, attributes: new Map(), grpcMetadata: new Map() };
}

async function routed(d: Decision | Promise<Decision> | undefined): Promise<Extract<Decision, { kind: 'route' }>> {
  assert.ok(d !== undefined, 'decided at the headers');
  const r = await d;
  assert.equal(r.kind, 'route');
  return r as Extract<Decision, { kind: 'route' }>;
}

describe('decisions at the headers', () => {
  it('route from the filter headers alone, with prefix affinity from the digest', async () => {
    const { director, metrics } = setup();
    const first = await routed(director.handleHeaders(input(filterHeaders(7))));
    assert.equal(first.body, undefined, 'nothing to rewrite: the body streams through');
    first.handle.onEnd('complete');
    for (let i = 0; i < 3; i++) {
      const again = await routed(director.handleHeaders(input(filterHeaders(7))));
      assert.equal(again.endpoints[0], first.endpoints[0], 'the same 100K-token prefix goes where it is');
      again.handle.onEnd('complete');
    }
    assert.equal((await metrics.registry.getSingleMetricAsString('tokenroute_request_header_decisions_total')).match(/ (\d+)$/m)?.[1], '4');
  });

  it('wait for the body when the headers do not verify, name no known API, or a rewrite needs the body', () => {
    const { director } = setup();
    const forged = filterHeaders(1);
    forged.set('x-tokenroute-sig', 'AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(director.handleHeaders(input(forged)), undefined, 'a forged signature');
    const unsigned = filterHeaders(1);
    unsigned.delete('x-tokenroute-sig');
    assert.equal(director.handleHeaders(input(unsigned)), undefined, 'unsigned');
    const replayed = filterHeaders(2);
    assert.ok(director.handleHeaders(input(replayed)));
    assert.equal(director.handleHeaders(input(new Map(replayed))), undefined, 'the same signed set on another request');
    assert.equal(director.handleHeaders(input(filterHeaders(3, '/v1/unknown'))), undefined, 'no known API in the path');
    const rewrite = filterHeaders(4);
    rewrite.set('x-gateway-model-name-rewrite', 'm-v2');
    assert.equal(director.handleHeaders(input(rewrite)), undefined, 'a model rewrite changes the body');
    assert.equal(director.handleHeaders(input(new Map([[':path', '/v1/chat/completions']]))), undefined, 'no filter headers');
  });

  it('without filterHeaders on the parser, nothing is decided at the headers', () => {
    const { director } = requestPath('apiVersion: inference.networking.x-k8s.io/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\n', 1);
    assert.equal(director.handleHeaders(input(filterHeaders(5))), undefined);
  });
});
