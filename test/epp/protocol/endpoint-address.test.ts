// Endpoint address format (GIE's `x-gateway-destination-endpoint` value and configured pools):
// parse, format, lists; every host rule.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { formatEndpointAddress, parseEndpointAddress, parseEndpointAddressList } from '../../../epp/src/protocol/endpoint-address.js';

describe('endpoint addresses', () => {
  it('formats IPv4 as ip:port and brackets IPv6 (Go net.JoinHostPort)', () => {
    assert.equal(formatEndpointAddress('10.0.0.1', 8000), '10.0.0.1:8000');
    assert.equal(formatEndpointAddress('::1', 80), '[::1]:80');
    assert.equal(formatEndpointAddress('fe80::1%eth0', 80), '[fe80::1%eth0]:80');
  });

  it('parses ip:port and [v6]:port, trimming blanks, into address, port and canonical key', () => {
    assert.deepEqual(parseEndpointAddress(' 10.0.0.1:8000 '), { address: '10.0.0.1', port: 8000, key: '10.0.0.1:8000' });
    assert.deepEqual(parseEndpointAddress('[::1]:9002'), { address: '::1', port: 9002, key: '[::1]:9002' });
    assert.deepEqual(parseEndpointAddress('[2001:db8::5]:65535'), { address: '2001:db8::5', port: 65535, key: '[2001:db8::5]:65535' });
  });

  it('rejects malformed addresses and ports out of range', () => {
    for (const bad of ['', '10.0.0.1', '10.0.0.1:', ':80', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:123456', '10.0.0.1:8o', '10.0.0.1:-1', '::1:80', '[::1]', '[::1]80', '[::1:80', '[]:80', '10.0.0.1:80:90']) {
      assert.equal(parseEndpointAddress(bad, 'any'), undefined, `${JSON.stringify(bad)} must not parse`);
    }
  });

  it("'ip' (the default) takes IP literals only; brackets hold IPv6 only", () => {
    assert.equal(parseEndpointAddress('model-0:8000'), undefined);
    assert.equal(parseEndpointAddress('localhost:8000', 'ip'), undefined);
    assert.equal(parseEndpointAddress('[10.0.0.1]:80'), undefined);
    assert.equal(parseEndpointAddress('300.0.0.1:80'), undefined);
    assert.ok(parseEndpointAddress('127.0.0.1:80'));
  });

  it("'ip-or-name' also takes DNS-style names, still IPv6 only in brackets", () => {
    assert.deepEqual(parseEndpointAddress('model-0.pool.svc:8000', 'ip-or-name'), { address: 'model-0.pool.svc', port: 8000, key: 'model-0.pool.svc:8000' });
    assert.deepEqual(parseEndpointAddress('[::1]:80', 'ip-or-name')?.key, '[::1]:80');
    assert.equal(parseEndpointAddress('model_0:8000', 'ip-or-name'), undefined);
    assert.equal(parseEndpointAddress('[model-0]:8000', 'ip-or-name'), undefined);
    assert.equal(parseEndpointAddress('[10.0.0.1]:80', 'ip-or-name'), undefined);
  });

  it("'any' checks the syntax only", () => {
    assert.deepEqual(parseEndpointAddress('model_0:8000', 'any'), { address: 'model_0', port: 8000, key: 'model_0:8000' });
    assert.deepEqual(parseEndpointAddress('[not-v6]:80', 'any'), { address: 'not-v6', port: 80, key: 'not-v6:80' });
  });

  it('parses a comma-separated list: order kept, duplicates dropped, invalid entries reported', () => {
    const l = parseEndpointAddressList('10.0.0.1:80, bogus ,[::1]:80,,10.0.0.1:80, 10.0.0.2:81');
    assert.deepEqual(l.addresses.map((a) => a.key), ['10.0.0.1:80', '[::1]:80', '10.0.0.2:81']);
    assert.deepEqual(l.invalid, ['bogus']);
    assert.deepEqual(parseEndpointAddressList(''), { addresses: [], invalid: [] });
    assert.deepEqual(parseEndpointAddressList('a:1,b:2', 'ip-or-name').addresses.map((a) => a.key), ['a:1', 'b:2']);
  });
});
