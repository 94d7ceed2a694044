// Unit tests of exposition parsing: the series filter, the parse-prometheus-text-format quirks we
// work around (labelled histograms, missing final newline, raw value text) and validation.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ExpositionError, parseExposition, parsePromFloat, SeriesFilter } from '../../../epp/src/datalayer/exposition.js';
import { vllmMetricsPage } from '../../fixtures/sample-exposition.js';

const values = (m: ReturnType<typeof parseExposition>, name: string) => (m.get(name) ?? []).map((s) => s.value);

test('a realistic vLLM page yields only the wanted series, with labels', () => {
  const page = vllmMetricsPage({ waiting: 7, running: 12, kvUsage: 0.375 });
  const m = parseExposition(page, ['vllm:num_requests_waiting', 'vllm:num_requests_running', 'vllm:kv_cache_usage_perc', 'vllm:cache_config_info']);
  assert.deepEqual([...m.keys()].sort(), ['vllm:cache_config_info', 'vllm:kv_cache_usage_perc', 'vllm:num_requests_running', 'vllm:num_requests_waiting']);
  assert.deepEqual(values(m, 'vllm:num_requests_waiting'), [7]);
  assert.deepEqual(values(m, 'vllm:num_requests_running'), [12]);
  assert.deepEqual(values(m, 'vllm:kv_cache_usage_perc'), [0.375]);
  assert.deepEqual(m.get('vllm:num_requests_waiting')?.[0]?.labels, { engine: '0', model_name: 'meta-llama/Llama-3.1-8B-Instruct' });
  const info = m.get('vllm:cache_config_info')?.[0];
  assert.equal(info?.labels.block_size, '16');
  assert.equal(info?.labels.num_gpu_blocks, '27404');
  assert.equal(info?.labels.num_cpu_blocks, 'None');
});

test('labelled histogram parts stay separate series with their labels (the library would merge them)', () => {
  const page = [
    '# HELP lat Latency.',
    '# TYPE lat histogram',
    'lat_bucket{model_name="a",le="0.1"} 1.0',
    'lat_bucket{model_name="a",le="+Inf"} 2.0',
    'lat_count{model_name="a"} 2.0',
    'lat_sum{model_name="a"} 0.3',
    'lat_bucket{model_name="b",le="0.1"} 5.0',
    'lat_bucket{model_name="b",le="+Inf"} 6.0',
    'lat_count{model_name="b"} 6.0',
    'lat_sum{model_name="b"} 1.5',
  ].join('\n');
  const m = parseExposition(page, ['lat_count', 'lat_bucket']);
  assert.deepEqual(
    m.get('lat_count')?.map((s) => [s.labels.model_name, s.value]),
    [
      ['a', 2],
      ['b', 6],
    ],
  );
  assert.deepEqual(
    m.get('lat_bucket')?.map((s) => [s.labels.model_name, s.labels.le, s.value]),
    [
      ['a', '0.1', 1],
      ['a', '+Inf', 2],
      ['b', '0.1', 5],
      ['b', '+Inf', 6],
    ],
  );
});

test('the last line counts even without a final newline; CRLF and leading blanks are tolerated', () => {
  assert.deepEqual(values(parseExposition('x 1\ny 2', ['y']), 'y'), [2]);
  assert.deepEqual(values(parseExposition('x 1\r\ny{a="b"} 2\r\n', ['y']), 'y'), [2]);
  assert.deepEqual(values(parseExposition('  y 3\n', ['y']), 'y'), [3]);
});

test('special values, escapes, untyped series and timestamps', () => {
  const page = [
    '# HELP g A gauge with an "odd" help \\n text',
    'g{v="inf"} +Inf',
    'g{v="ninf"} -Inf',
    'g{v="nan"} NaN',
    'g{v="exp"} 1.5e+09',
    'g{path="C:\\\\dir",msg="say \\"hi\\"\\nbye"} 4',
    'untyped_no_help 9 1700000000123',
  ].join('\n');
  const m = parseExposition(page, ['g', 'untyped_no_help']);
  const g = m.get('g') ?? [];
  assert.equal(g[0]?.value, Infinity);
  assert.equal(g[1]?.value, -Infinity);
  assert.ok(Number.isNaN(g[2]?.value));
  assert.equal(g[3]?.value, 1.5e9);
  assert.deepEqual(g[4]?.labels, { path: 'C:\\dir', msg: 'say "hi"\nbye' });
  assert.deepEqual(m.get('untyped_no_help'), [{ labels: {}, value: 9, timestampMs: 1700000000123 }]);
});

test('names in comments, label values and longer names are not selected', () => {
  const page = [
    '# HELP q q 5',
    '# q 99',
    '#q 98',
    'other{note="q 97"} 1',
    'q_total 96',
    'q{a="b"} 5',
  ].join('\n');
  assert.deepEqual(values(parseExposition(page, ['q']), 'q'), [5]);
});

test('a series may appear in several runs; all its samples are kept in order', () => {
  const m = parseExposition('a{i="1"} 1\nb 0\na{i="2"} 2\n', ['a']);
  assert.deepEqual(
    m.get('a')?.map((s) => s.labels.i),
    ['1', '2'],
  );
});

test('malformed wanted lines throw ExpositionError', () => {
  assert.throws(() => parseExposition('w{a="b" 3\n', ['w']), ExpositionError);
  assert.throws(() => parseExposition('w abc\n', ['w']), /invalid sample value "abc"/);
  assert.throws(() => parseExposition('w \n', ['w']), /invalid sample value ""/);
  assert.throws(() => parseExposition('w 1 12.5\n', ['w']), /invalid timestamp/);
});

test('lines of series nobody asked for are not validated (they are never parsed)', () => {
  const m = parseExposition('junk{{{ nonsense\nw 4\n', ['w']);
  assert.deepEqual(values(m, 'w'), [4]);
});

test('HTML or empty pages simply have no wanted series', () => {
  assert.equal(parseExposition('<html><body>w 1</body></html>', ['w']).size, 0);
  assert.equal(parseExposition('', ['w']).size, 0);
  assert.equal(new SeriesFilter([]).select('w 1\n').length, 0);
});

test('parsePromFloat accepts what Go ParseFloat does for the text format', () => {
  assert.equal(parsePromFloat('3.0'), 3);
  assert.equal(parsePromFloat('-0.5'), -0.5);
  assert.equal(parsePromFloat('.5'), 0.5);
  assert.equal(parsePromFloat('1e3'), 1000);
  assert.equal(parsePromFloat('1.7500113324823618e+09'), 1750011332.4823618);
  assert.equal(parsePromFloat('+Inf'), Infinity);
  assert.equal(parsePromFloat('inf'), Infinity);
  assert.equal(parsePromFloat('-Inf'), -Infinity);
  assert.ok(Number.isNaN(parsePromFloat('NaN') as number));
  for (const bad of ['', ' ', '0x10', '1,5', 'abc', '1e', 'Infinityx']) assert.equal(parsePromFloat(bad), undefined, bad);
});
