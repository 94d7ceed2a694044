// Metadata helpers: the envoy.lb destination struct (identical to the header, decision metadata
// merged), the served-endpoint read on response messages, attribute flattening.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { decodeFilterMetadata, destinationMetadata, flattenAttributes, servedEndpoint } from '../../../epp/src/protocol/metadata.js';
import { jsonToStruct, structToJson } from '../../../epp/src/protocol/struct.js';

describe('protocol metadata', () => {
  it('puts the destination under envoy.lb and merges the decision namespaces', () => {
    const s = destinationMetadata('10.0.0.1:8000,10.0.0.2:8000', new Map([
      ['envoy.lb', new Map([['x-gateway-destination-endpoint', 'must-not-win'], ['other', 'kept']])],
      ['tokenroute', new Map([['profile', 'decode']])],
    ]));
    assert.deepEqual(structToJson(s), {
      'envoy.lb': { 'x-gateway-destination-endpoint': '10.0.0.1:8000,10.0.0.2:8000', other: 'kept' },
      tokenroute: { profile: 'decode' },
    });
  });

  it('reads the served endpoint, tolerating a one-element list, ignoring absence', () => {
    const md = (v: unknown) => ({ filter_metadata: { 'envoy.lb': jsonToStruct({ 'x-gateway-destination-endpoint-served': v }) } });
    assert.equal(servedEndpoint(md('[fd00::2]:8000')), '[fd00::2]:8000');
    assert.equal(servedEndpoint(md(['10.0.0.3:8000'])), '10.0.0.3:8000');
    assert.equal(servedEndpoint(md('')), undefined);
    assert.equal(servedEndpoint({ filter_metadata: {} }), undefined);
    assert.equal(servedEndpoint(undefined), undefined);
  });

  it('flattens attributes across filter namespaces and decodes filter metadata', () => {
    const attrs = flattenAttributes({
      'envoy.filters.http.ext_proc': jsonToStruct({ 'xds.route_name': 'r1', 'request.headers': { a: 'b' } }),
      other: jsonToStruct({ 'source.address': '10.1.1.1' }),
    });
    assert.equal(attrs.get('xds.route_name'), 'r1');
    assert.deepEqual(attrs.get('request.headers'), { a: 'b' });
    assert.equal(attrs.get('source.address'), '10.1.1.1');
    assert.deepEqual(decodeFilterMetadata({ filter_metadata: { ns: jsonToStruct({ k: 1 }) } }), { ns: { k: 1 } });
  });
});
