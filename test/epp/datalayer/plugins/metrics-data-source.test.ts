// Unit tests of the metrics-data-source plugin type: GIE defaults, tokenroute extras, strictness.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isMetricsDataSource, metricsDataSource } from '../../../../epp/src/datalayer/plugins/metrics-data-source.js';
import { Datastore } from '../../../../epp/src/datastore/datastore.js';
import { silentLogger } from '../../../../epp/src/observability/logger.js';

const ctx = { datastore: new Datastore(), logger: silentLogger(), random: Math.random, now: Date.now };
const create = (params: unknown) => {
  const p = metricsDataSource.parameters.parse(params ?? {});
  return metricsDataSource.create('src', p, ctx);
};

test('defaults are GIE\'s: http, /metrics, insecureSkipVerify true; timeout 1 s', () => {
  const plugin = create(undefined);
  assert.ok(isMetricsDataSource(plugin));
  assert.equal(plugin.type, 'metrics-data-source');
  assert.equal(plugin.name, 'src');
  assert.deepEqual(plugin.config, { scheme: 'http', path: '/metrics', insecureSkipVerify: true, timeoutMs: 1000, maxResponseBytes: 16 * 1024 * 1024 });
});

test('all parameters are honoured; timeout takes Go durations or ms', () => {
  const plugin = create({ scheme: 'https', path: '/v2/metrics', insecureSkipVerify: false, port: 9400, timeout: '250ms', maxResponseBytes: 1024 });
  assert.ok(isMetricsDataSource(plugin));
  assert.deepEqual(plugin.config, { scheme: 'https', path: '/v2/metrics', insecureSkipVerify: false, port: 9400, timeoutMs: 250, maxResponseBytes: 1024 });
  const ms = create({ timeout: 1500 });
  assert.ok(isMetricsDataSource(ms));
  assert.equal(ms.config.timeoutMs, 1500);
});

test('invalid parameters are rejected with the field path', () => {
  const cases: [unknown, string][] = [
    [{ scheme: 'ftp' }, 'scheme'],
    [{ path: 'metrics' }, 'path'],
    [{ port: 70000 }, 'port'],
    [{ timeout: 'soon' }, 'timeout'],
    [{ timeout: '0s' }, 'timeout'],
    [{ insecureSkipVerify: 'yes' }, 'insecureSkipVerify'],
  ];
  for (const [params, field] of cases) {
    const r = metricsDataSource.parameters.safeParse(params);
    assert.ok(!r.success, JSON.stringify(params));
    assert.ok(r.error.issues.some((i) => i.path.join('.') === field), `${JSON.stringify(params)} → ${JSON.stringify(r.error.issues)}`);
  }
});

test('unknown keys are errors (strict)', () => {
  const r = metricsDataSource.parameters.safeParse({ schema: 'http' });
  assert.ok(!r.success);
  assert.equal(r.error.issues[0]?.code, 'unrecognized_keys');
});
