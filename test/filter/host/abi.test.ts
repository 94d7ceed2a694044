// Host fidelity: the individual host functions as Envoy answers them — properties, buffers, logs
// (proxy_log and WASI fd_write), clocks, metrics, WASI. Runs the probe fixture in the Node host.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { ProxyWasmHost } from '../../../filter/host/index.js';
import { compileFixture, probeConfig, probeResult } from './support.js';

type Script = Parameters<typeof probeConfig>[0];
type Options = Partial<Parameters<typeof ProxyWasmHost.create>[0]>;

async function run(script: Script, req: Parameters<ProxyWasmHost['runRequest']>[0] = { body: 'x' }, opts: Options = {}) {
  const host = await ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig: probeConfig(script), ...opts });
  return { host, result: await host.runRequest(req) };
}

describe('properties (Envoy Context::getProperty: NUL-separated paths)', () => {
  it('answers xds.route_name, request.* and plugin attributes; NOT_FOUND for a route without a name', async () => {
    const actions = ['prop:xds/route_name', 'prop:request/path', 'prop:request/url_path', 'prop:request/method', 'prop:request/headers/x-a', 'prop:plugin_root_id', 'prop:plugin_vm_id'];
    const { result } = await run({ headers: { do: actions } }, { path: '/v1/chat/completions?x=1', headers: { 'x-a': 'b' }, routeName: 'llm-route', body: 'x' }, { rootId: 'tokenroute', vmId: 'vm-1' });
    assert.equal(probeResult(result.logs, 'prop:xds/route_name'), 'ok=llm-route');
    assert.equal(probeResult(result.logs, 'prop:request/path'), 'ok=/v1/chat/completions?x=1');
    assert.equal(probeResult(result.logs, 'prop:request/url_path'), 'ok=/v1/chat/completions');
    assert.equal(probeResult(result.logs, 'prop:request/method'), 'ok=POST');
    assert.equal(probeResult(result.logs, 'prop:request/headers/x-a'), 'ok=b');
    assert.equal(probeResult(result.logs, 'prop:plugin_root_id'), 'ok=tokenroute');
    assert.equal(probeResult(result.logs, 'prop:plugin_vm_id'), 'ok=vm-1');
    const unnamed = await run({ headers: { do: ['prop:xds/route_name'] } });
    assert.equal(probeResult(unnamed.result.logs, 'prop:xds/route_name'), 'status=1');
  });

  it('a dotted name is one segment: "request.path" is looked up as filter state and not found', async () => {
    const { result } = await run({ headers: { do: ['prop:request.path', 'prop:xds.route_name'] } }, { routeName: 'r', body: 'x' });
    assert.equal(probeResult(result.logs, 'prop:request.path'), 'status=1');
    assert.equal(probeResult(result.logs, 'prop:xds.route_name'), 'status=1');
  });

  it('set_property writes filter state wasm.<path> on the stream, readable back; NOT_FOUND without a stream', async () => {
    const { host, result } = await run({ configure: { do: ['setprop:k:root'] }, headers: { do: ['setprop:k:v', 'prop:k'] } });
    assert.equal(probeResult(result.logs, 'setprop:k:v'), 'status=0');
    assert.equal(probeResult(result.logs, 'prop:k'), 'ok=v');
    assert.equal(probeResult(host.logs, 'setprop:k:root'), 'status=1');
  });

  it('connection_id is a little-endian u64', async () => {
    const { result } = await run({ headers: { do: ['prop:connection_id:u64'] } });
    assert.match(probeResult(result.logs, 'prop:connection_id:u64') ?? '', /^ok=\d+$/);
  });
});

describe('buffers (cpp-host get_buffer_bytes / get_buffer_status)', () => {
  it('clamps the range; an empty range is OK with a null pointer; unknown types are BAD_ARGUMENT; absent buffers NOT_FOUND', async () => {
    const { result } = await run({ body: { do: ['body:2:100', 'body:50:10', 'status:0', 'buffer:9:10', 'buffer:4:10'] } }, { body: 'abcdef' });
    assert.equal(probeResult(result.logs, 'body:2:100'), 'ok=cdef');
    assert.equal(probeResult(result.logs, 'body:50:10'), 'ok=');
    assert.equal(probeResult(result.logs, 'status:0'), 'status=0 length=6');
    assert.equal(probeResult(result.logs, 'buffer:9:10'), 'status=2');
    assert.equal(probeResult(result.logs, 'buffer:4:10'), 'status=1');
  });
});

describe('logging (Context::log, WASI fd_write)', () => {
  it('proxy_log levels below Envoy\'s level are dropped; proxy_get_log_level reports it', async () => {
    const { result } = await run({ headers: { do: ['log:1:debug line', 'log:3:warn line', 'loglevel'] } });
    assert.ok(!result.logs.some((l) => l.message === 'debug line'));
    assert.ok(result.logs.some((l) => l.message === 'warn line' && l.level === 'warn' && l.source === 'proxy_log'));
    assert.equal(probeResult(result.logs, 'loglevel'), 'status=0 level=2');
    const dbg = await run({ headers: { do: ['log:1:debug line', 'loglevel'] } }, { body: 'x' }, { logLevel: 'debug' });
    assert.ok(dbg.result.logs.some((l) => l.message === 'debug line' && l.level === 'debug'));
    assert.equal(probeResult(dbg.result.logs, 'loglevel'), 'status=0 level=1');
  });

  it('fd_write: stdout → info, stderr → error, one trailing newline dropped; other fds are EBADF', async () => {
    const { result } = await run({ headers: { do: ['stdout:to stdout', 'stderr:to stderr', 'fd9'] } });
    assert.ok(result.logs.some((l) => l.message === 'to stdout' && l.level === 'info' && l.source === 'fd_write'));
    assert.ok(result.logs.some((l) => l.message === 'to stderr' && l.level === 'error' && l.source === 'fd_write'));
    assert.equal(probeResult(result.logs, 'stdout:to stdout'), 'errno=0 written=10');
    assert.equal(probeResult(result.logs, 'fd9'), 'errno=8');
  });
});

describe('clocks, WASI and metrics', () => {
  it('proxy_get_current_time_nanoseconds reads the host clock', async () => {
    const { result } = await run({ headers: { do: ['time'] } }, { body: 'x' }, { clock: { realtimeNs: () => 1_700_000_000_123_456_789n } });
    assert.equal(probeResult(result.logs, 'time'), 'status=0 ns=1700000000123456789');
  });

  it('environ_sizes_get reflects the VM environment; random_get refuses more than 64 KiB', async () => {
    const { result } = await run({ headers: { do: ['environ', 'random:100', 'random:70000'] } }, { body: 'x' }, { env: { A: '1' } });
    assert.equal(probeResult(result.logs, 'environ'), 'errno=0 count=1 size=4');
    assert.equal(probeResult(result.logs, 'random:100'), 'errno=0');
    assert.equal(probeResult(result.logs, 'random:70000'), 'errno=28');
  });

  it('metric ids, counter/gauge/histogram semantics, and one stat per name across workers', async () => {
    const host = await ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig: probeConfig({ headers: { do: ['metrics'] } }), workers: 2 });
    const a = await host.runRequest({ worker: 0, body: 'x' });
    await host.runRequest({ worker: 1, body: 'x' });
    assert.equal(
      probeResult(a.logs, 'metrics'),
      'ids=4,5,6 inc_counter=0 inc_counter_neg=2 inc_gauge=0 dec_gauge=0 inc_hist=2 record_hist=0 record_gauge=0 get_counter=0/5 get_hist=2 get_unknown=1 define_bad=2',
    );
    const m = host.metrics();
    assert.equal(m['wasmcustom.probe_counter'].value, 10, 'both workers add to the same counter');
    assert.equal(m['wasmcustom.probe_gauge'].value, 100);
    assert.deepEqual(m['wasmcustom.probe_histogram'].samples, [42, 42]);
  });
});
