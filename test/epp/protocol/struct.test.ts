// Struct ⇄ JSON codec tests, including a trip through the real protobuf encoding of Envoy's
// ProcessingResponse (proto-loader + protobufjs), which is where a camelCase/snake_case mistake
// would silently drop values.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { extProcServiceDefinition } from '../../../epp/src/protocol/proto.js';
import { jsonToStruct, jsonToValue, structToJson, valueToJson } from '../../../epp/src/protocol/struct.js';
import type { ProcessingRequest, ProcessingResponse, ProtoStruct } from '../../../epp/src/protocol/types.js';

const process = extProcServiceDefinition().Process;

function wireRoundTrip(struct: ProtoStruct): ProtoStruct {
  const bytes = process.responseSerialize({ request_headers: {}, dynamic_metadata: struct } satisfies ProcessingResponse);
  return (process.responseDeserialize(bytes) as ProcessingResponse).dynamic_metadata ?? {};
}

describe('Struct codec', () => {
  const sample = {
    'envoy.lb': { 'x-gateway-destination-endpoint': '[fd00::1]:8000,10.0.0.2:8000' },
    nested: { list: ['a', 1, true, null, { deep: [1.5, -2] }], empty: {}, emptyList: [] },
    n: 0,
    f: false,
    s: '',
    z: null,
  };

  it('round-trips JSON through the protobuf wire format unchanged', () => {
    assert.deepEqual(structToJson(wireRoundTrip(jsonToStruct(sample))), sample);
  });

  it('encodes with the camelCase field names protobufjs expects', () => {
    assert.deepEqual(jsonToValue('x'), { stringValue: 'x' });
    assert.deepEqual(jsonToValue(null), { nullValue: 'NULL_VALUE' });
    assert.deepEqual(jsonToValue([1]), { listValue: { values: [{ numberValue: 1 }] } });
  });

  it('decodes snake_case Values too (messages not built by proto-loader)', () => {
    assert.deepEqual(
      structToJson({ fields: { a: { string_value: 'x' }, b: { list_value: { values: [{ number_value: 2 }] } }, c: { bool_value: true } } } as unknown as ProtoStruct),
      { a: 'x', b: [2], c: true },
    );
  });

  it('decodes the filter metadata of a real ProcessingRequest', () => {
    const bytes = process.requestSerialize({
      request_headers: {},
      metadata_context: { filter_metadata: { 'envoy.lb.subset_hint': jsonToStruct({ 'x-gateway-destination-endpoint-subset': ['10.0.0.1:8000'] }) } },
    } satisfies ProcessingRequest);
    const back = process.requestDeserialize(bytes) as ProcessingRequest;
    assert.deepEqual(structToJson(back.metadata_context?.filter_metadata?.['envoy.lb.subset_hint']), {
      'x-gateway-destination-endpoint-subset': ['10.0.0.1:8000'],
    });
  });

  it('skips undefined members, maps undefined list items to null, and accepts Maps', () => {
    assert.deepEqual(structToJson(jsonToStruct({ a: undefined, b: [undefined], c: new Map([['k', 'v']]) })), { b: [null], c: { k: 'v' } });
  });

  it('refuses values the proxy cannot represent', () => {
    assert.throws(() => jsonToValue(Number.NaN), TypeError);
    assert.throws(() => jsonToValue(Infinity), TypeError);
    assert.throws(() => jsonToValue(() => 1), TypeError);
    assert.throws(() => jsonToValue(10n), TypeError);
  });

  it('rejects cyclic or absurdly deep input instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => jsonToStruct(cyclic), RangeError);
  });

  it('treats empty input as empty', () => {
    assert.deepEqual(structToJson(undefined), {});
    assert.equal(valueToJson(undefined), null);
    assert.equal(valueToJson({}), null);
  });
});
