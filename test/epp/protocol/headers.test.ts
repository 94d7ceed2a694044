// Header map decoding and header-mutation building, checked through Envoy's real HeaderValue
// encoding: raw_value vs value, never both, the overwrite action, byte-exact round trips.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { extProcServiceDefinition } from '../../../epp/src/protocol/proto.js';
import { buildHeaderMutation, decodeHeaderMap, findHeader, headerOption } from '../../../epp/src/protocol/headers.js';
import type { HeaderMutation, ProcessingRequest, ProcessingResponse } from '../../../epp/src/protocol/types.js';

const process = extProcServiceDefinition().Process;

function mutationOnWire(m: HeaderMutation): HeaderMutation {
  const bytes = process.responseSerialize({ request_headers: { response: { header_mutation: m } } } satisfies ProcessingResponse);
  return (process.responseDeserialize(bytes) as ProcessingResponse).request_headers!.response!.header_mutation!;
}

describe('decodeHeaderMap', () => {
  it('reads raw_value (newer Envoy) and value (older Envoy), lower-casing names', () => {
    const d = decodeHeaderMap({
      headers: [
        { key: ':path', raw_value: Buffer.from('/v1/chat/completions') },
        { key: 'X-Request-Id', value: 'abc' },
        { key: 'empty', raw_value: Buffer.alloc(0) },
      ],
    });
    assert.equal(d.headers.get(':path'), '/v1/chat/completions');
    assert.equal(d.headers.get('x-request-id'), 'abc');
    assert.equal(d.headers.get('empty'), '');
    assert.equal(d.field, 'raw_value');
    assert.equal(decodeHeaderMap({ headers: [{ key: 'a', value: 'b' }] }).field, 'value');
    assert.equal(decodeHeaderMap(undefined).headers.size, 0);
  });

  it('joins repeated headers with commas', () => {
    const d = decodeHeaderMap({ headers: [{ key: 'accept', value: 'a' }, { key: 'accept', value: 'b' }] });
    assert.equal(d.headers.get('accept'), 'a,b');
  });

  it('decodes a header map that went through the protobuf encoding', () => {
    const bytes = process.requestSerialize({
      request_headers: { headers: { headers: [{ key: 'x-gateway-destination-endpoint-subset', raw_value: Buffer.from('[fd00::1]:8000') }] } },
    } satisfies ProcessingRequest);
    const msg = process.requestDeserialize(bytes) as ProcessingRequest;
    assert.equal(findHeader(msg.request_headers?.headers, 'x-gateway-destination-endpoint-subset'), '[fd00::1]:8000');
    assert.equal(findHeader(msg.request_headers?.headers, 'missing'), undefined);
  });
});

describe('header mutations', () => {
  it('sets raw_value only, with OVERWRITE_IF_EXISTS_OR_ADD, by default', () => {
    const m = mutationOnWire(buildHeaderMutation([['x-gateway-destination-endpoint', '[fd00:10::7]:8000,10.1.2.3:8000']], ['x-drop']));
    const opt = m.set_headers![0];
    assert.equal(opt.append_action, 'OVERWRITE_IF_EXISTS_OR_ADD');
    assert.equal(Buffer.from(opt.header.raw_value!).toString(), '[fd00:10::7]:8000,10.1.2.3:8000', 'IPv6 brackets and colons intact');
    assert.equal(opt.header.value ?? '', '', 'Envoy rejects a HeaderValue with both fields set');
    assert.deepEqual(m.remove_headers, ['x-drop']);
  });

  it('sets value only when asked for the value field', () => {
    const opt = headerOption('k', 'v', 'value');
    assert.deepEqual(opt.header, { key: 'k', value: 'v' });
  });

  it('round-trips arbitrary header bytes exactly and sends non-latin1 text as UTF-8', () => {
    const bytes = Buffer.from([0x61, 0x80, 0xff, 0x20, 0x7e]);
    const decoded = decodeHeaderMap({ headers: [{ key: 'x-bin', raw_value: bytes }] }).headers.get('x-bin')!;
    const again = headerOption('x-bin', decoded).header.raw_value!;
    assert.ok(Buffer.from(again).equals(bytes));
    assert.equal(Buffer.from(headerOption('x-u', 'caf→').header.raw_value!).toString('utf8'), 'caf→');
  });

  it('omits remove_headers when there is nothing to remove', () => {
    assert.equal(buildHeaderMutation([['a', 'b']]).remove_headers, undefined);
  });
});
