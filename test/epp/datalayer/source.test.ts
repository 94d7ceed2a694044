// Unit tests of the metrics URL rule (scheme://address:port/path).
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { DEFAULT_SOURCE_CONFIG, metricsUrl } from '../../../epp/src/datalayer/source.js';

test('IPv4 endpoint on its own port with the default source', () => {
  assert.equal(metricsUrl({ address: '10.0.0.7', port: 8000 }, DEFAULT_SOURCE_CONFIG), 'http://10.0.0.7:8000/metrics');
});

test('IPv6 addresses are bracketed', () => {
  assert.equal(metricsUrl({ address: 'fd00::1', port: 8000 }, DEFAULT_SOURCE_CONFIG), 'http://[fd00::1]:8000/metrics');
});

test('port override, https and a custom path', () => {
  assert.equal(metricsUrl({ address: '10.0.0.7', port: 8000 }, { scheme: 'https', path: '/v2/metrics', port: 9090 }), 'https://10.0.0.7:9090/v2/metrics');
  assert.equal(metricsUrl({ address: '10.0.0.7', port: 8000 }, { scheme: 'http', path: 'metrics' }), 'http://10.0.0.7:8000/metrics');
});

test('GIE defaults: http, /metrics, insecureSkipVerify, 1 s timeout', () => {
  assert.equal(DEFAULT_SOURCE_CONFIG.scheme, 'http');
  assert.equal(DEFAULT_SOURCE_CONFIG.path, '/metrics');
  assert.equal(DEFAULT_SOURCE_CONFIG.insecureSkipVerify, true);
  assert.equal(DEFAULT_SOURCE_CONFIG.timeoutMs, 1000);
});
