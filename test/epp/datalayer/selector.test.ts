// Unit tests of the PromQL instant-selector parser and matcher used for metric specs.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { matchesLabels, parseSelector, SelectorError } from '../../../epp/src/datalayer/selector.js';

test('a bare metric name has no matchers', () => {
  const s = parseSelector('vllm:num_requests_waiting');
  assert.equal(s.metric, 'vllm:num_requests_waiting');
  assert.deepEqual(s.matchers, []);
  assert.equal(s.text, 'vllm:num_requests_waiting');
});

test('all four matcher operators parse, with whitespace and a trailing comma', () => {
  const s = parseSelector(' m{ a = "1", b!="2" ,c=~"x|y", d !~ "z.*", } ');
  assert.equal(s.metric, 'm');
  assert.deepEqual(
    s.matchers.map((m) => [m.name, m.op, m.value]),
    [
      ['a', '=', '1'],
      ['b', '!=', '2'],
      ['c', '=~', 'x|y'],
      ['d', '!~', 'z.*'],
    ],
  );
});

test('quoted values unescape; single quotes and raw backtick strings work', () => {
  assert.equal(parseSelector('m{a="q\\"uo\\\\te\\n"}').matchers[0]?.value, 'q"uo\\te\n');
  assert.equal(parseSelector("m{a='it\\'s'}").matchers[0]?.value, "it's");
  assert.equal(parseSelector('m{a=`raw\\d+`}').matchers[0]?.value, 'raw\\d+');
  assert.equal(parseSelector('m{a="x,}y"}').matchers[0]?.value, 'x,}y');
});

test('unquoted values are accepted, as GIE accepts them ({request_type=waiting})', () => {
  const s = parseSelector('nv_trt_llm_request_metrics{request_type=waiting, model=ensemble}');
  assert.deepEqual(
    s.matchers.map((m) => [m.name, m.value]),
    [
      ['request_type', 'waiting'],
      ['model', 'ensemble'],
    ],
  );
});

test('the name may be given as a __name__ equality matcher', () => {
  const s = parseSelector('{__name__="vllm:kv_cache_usage_perc", engine="0"}');
  assert.equal(s.metric, 'vllm:kv_cache_usage_perc');
  assert.deepEqual(
    s.matchers.map((m) => m.name),
    ['engine'],
  );
});

test('malformed selectors throw SelectorError with the offset', () => {
  const bad: [string, RegExp][] = [
    ['', /metric name is required/],
    ['{a="b"}', /metric name is required/],
    ['1abc', /metric name is required/],
    ['m{a="b"', /missing "}"/],
    ['m{a="b}', /unterminated string/],
    ['m{a}', /expected one of/],
    ['m{="b"}', /expected a label name/],
    ['m{a="b" c="d"}', /expected "," or "}"/],
    ['m{a=~"("}', /bad regular expression/],
    ['m{a="\\q"}', /unknown escape/],
    ['m extra', /unexpected/],
    ['m{__name__=~"x.*"}', /fixed name/],
    ['m{__name__="n"}', /given once/],
    ['m[5m]', /unexpected/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(
      () => parseSelector(spec),
      (e: unknown) => e instanceof SelectorError && re.test(e.message) && e.spec === spec,
      `spec ${JSON.stringify(spec)}`,
    );
  }
  try {
    parseSelector('m{a="b" c="d"}');
  } catch (e) {
    assert.equal((e as SelectorError).position, 8);
  }
});

test('matching follows PromQL: absent label = "", regexes are anchored', () => {
  const s = (t: string) => parseSelector(t);
  assert.ok(matchesLabels(s('m'), undefined));
  assert.ok(matchesLabels(s('m{a="1"}'), { a: '1', b: '2' }));
  assert.ok(!matchesLabels(s('m{a="1"}'), { a: '10' }));
  assert.ok(!matchesLabels(s('m{a="1"}'), {}));
  assert.ok(matchesLabels(s('m{a=""}'), {}));
  assert.ok(matchesLabels(s('m{a!="1"}'), {}));
  assert.ok(!matchesLabels(s('m{a!="1"}'), { a: '1' }));
  assert.ok(matchesLabels(s('m{a=~"fo+"}'), { a: 'fooo' }));
  assert.ok(!matchesLabels(s('m{a=~"fo+"}'), { a: 'xfoo' }), 'anchored at start');
  assert.ok(!matchesLabels(s('m{a=~"fo+"}'), { a: 'foox' }), 'anchored at end');
  assert.ok(matchesLabels(s('m{a=~"x|y"}'), { a: 'y' }), 'alternation anchored as a whole');
  assert.ok(!matchesLabels(s('m{a=~"x|y"}'), { a: 'xy' }));
  assert.ok(matchesLabels(s('m{a!~"tmp-.*"}'), { a: 'prod' }));
  assert.ok(!matchesLabels(s('m{a!~"tmp-.*"}'), { a: 'tmp-1' }));
  assert.ok(matchesLabels(s('m{a!~".+"}'), {}), '!~ ".+" selects series without the label');
  assert.ok(matchesLabels(s('m{a="1",b=~"2|3"}'), { a: '1', b: '3' }));
  assert.ok(!matchesLabels(s('m{a="1",b=~"2|3"}'), { a: '1', b: '4' }));
});
