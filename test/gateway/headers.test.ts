// Unit: the gateway's header handling — hop-by-hop removal, byte-string round trips and Envoy's
// ext_proc header mutation rules (gateway/headers.ts). No components started.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { applyHeaderMutation, bytesToUtf8, fromRawHeaders, toHeaderMap, toNodeHeaders, utf8ToBytes, type HeaderPair } from '../../gateway/headers.js';

describe('gateway headers', () => {
  it('drops hop-by-hop headers and those the Connection header names, lower-casing names', () => {
    const pairs = fromRawHeaders(['Host', 'a', 'Connection', 'keep-alive, X-Drop', 'X-Drop', '1', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'X-Keep', '2']);
    assert.deepEqual(pairs, [['host', 'a'], ['x-keep', '2']]);
  });

  it('round-trips UTF-8 through byte strings and sends raw_value bytes', () => {
    const bytes = utf8ToBytes('café');
    assert.equal(bytes.length, 5);
    assert.equal(bytesToUtf8(bytes), 'café');
    const map = toHeaderMap([['x-v', bytes]]);
    assert.equal(Buffer.from(map.headers![0].raw_value!).toString('utf8'), 'café');
  });

  it('applies removals first, then sets (overwrite unless append; ADD_IF_ABSENT / OVERWRITE_IF_EXISTS honoured)', () => {
    const start: HeaderPair[] = [[':path', '/'], ['a', '1'], ['b', '2'], ['c', '3']];
    const r = applyHeaderMutation(start, {
      remove_headers: ['b', ':path', 'host'],
      set_headers: [
        { header: { key: 'a', raw_value: Buffer.from('9') } },
        { header: { key: 'c', raw_value: Buffer.from('4') }, append: { value: true } } as never,
        { header: { key: 'd', raw_value: Buffer.from('5') }, append_action: 'OVERWRITE_IF_EXISTS' },
        { header: { key: 'a', raw_value: Buffer.from('x') }, append_action: 'ADD_IF_ABSENT' },
        { header: { key: ':path', value: '/v1' } },
      ],
    });
    assert.deepEqual(r.pairs, [[':path', '/v1'], ['c', '3'], ['a', '9'], ['c', '4']]);
    assert.deepEqual([...r.removed], ['b']);
    assert.deepEqual([...r.set].sort(), [':path', 'a', 'c']);
    assert.equal(r.ignored.length, 2, 'removing a pseudo-header and host is ignored');
  });

  it('an empty value removes the header unless keep_empty_value; invalid names and values are ignored', () => {
    const r = applyHeaderMutation([['a', '1'], ['b', '2']], {
      set_headers: [
        { header: { key: 'a', raw_value: Buffer.alloc(0) } },
        { header: { key: 'b', raw_value: Buffer.alloc(0) }, keep_empty_value: true },
        { header: { key: 'bad name', raw_value: Buffer.from('v') } },
        { header: { key: 'e', raw_value: Buffer.from('v\r\nx: y') } },
      ],
    });
    assert.deepEqual(r.pairs, [['b', '']]);
    assert.equal(r.ignored.length, 2);
  });

  it('builds Node headers: repeated names as arrays, pseudo-headers dropped', () => {
    assert.deepEqual(toNodeHeaders([[':status', '200'], ['set-cookie', 'a'], ['set-cookie', 'b'], ['x', '1']]), { 'set-cookie': ['a', 'b'], x: '1' });
  });
});
