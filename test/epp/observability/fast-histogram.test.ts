// FastHistogram must expose exactly what prom-client's Histogram exposes for the same
// observations, so dashboards cannot tell them apart. No external components.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../../epp/src/observability/fast-histogram.js';

const BUCKETS = [0.0001, 0.001, 0.01, 0.1];
const VALUES = [0, 0.00005, 0.0001, 0.0005, 0.002, 0.05, 0.1, 0.5, 3];

test('labelled series: same text exposition as prom-client Histogram', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new FastHistogram('h_seconds', 'help text', ['point', 'plugin'], BUCKETS, ours);
  const ref = new Histogram({ name: 'h_seconds', help: 'help text', labelNames: ['point', 'plugin'], buckets: BUCKETS, registers: [theirs] });
  const a = fast.labels('Scorer', 'queue');
  const b = fast.labels('Picker', 'max');
  for (const v of VALUES) {
    a.observe(v);
    ref.observe({ point: 'Scorer', plugin: 'queue' }, v);
  }
  b.observe(0.003);
  ref.observe({ point: 'Picker', plugin: 'max' }, 0.003);
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('unlabelled histogram: same exposition; labels() on it is rejected', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new FastHistogram('e2e_seconds', 'e2e', [], BUCKETS, ours);
  const ref = new Histogram({ name: 'e2e_seconds', help: 'e2e', buckets: BUCKETS, registers: [theirs] });
  for (const v of VALUES) {
    fast.observe(v);
    ref.observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.throws(() => fast.labels('x'));
});

test('a child bound twice to the same labels shares one series', async () => {
  const reg = new Registry();
  const fast = new FastHistogram('x_seconds', 'x', ['a'], BUCKETS, reg);
  fast.labels('1').observe(0.5);
  fast.labels('1').observe(0.5);
  assert.match(await reg.metrics(), /x_seconds_count\{a="1"\} 2/);
});
