// Host fidelity: loading, VM start, configuration and failure, as Envoy + proxy-wasm-cpp-host do
// them. Runs small AssemblyScript fixture modules (test/filter/host/fixtures) in the Node host.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { HostLoadError, ProxyWasmHost } from '../../../filter/host/index.js';
import { compileFixture, probeConfig, probeLines, probeResult } from './support.js';

async function loadError(p: Promise<unknown>): Promise<HostLoadError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HostLoadError, `expected HostLoadError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the host to refuse the module');
}

describe('module checks (BytecodeUtil::getAbiVersion, V8::link, WasmBase::getFunctions)', () => {
  it('refuses an import Envoy does not provide', async () => {
    const err = await loadError(ProxyWasmHost.create({ wasm: await compileFixture('bad-import') }));
    assert.ok(err.reasons.some((r) => r === 'Failed to load Wasm module due to a missing import: env.proxy_dictionary_get'), err.message);
  });

  it('refuses an import with the wrong signature and a callback with the wrong arity', async () => {
    const err = await loadError(ProxyWasmHost.create({ wasm: await compileFixture('bad-signature') }));
    assert.ok(err.reasons.some((r) => r.startsWith('Failed to load Wasm module due to an import type mismatch: env.proxy_increment_metric')), err.message);
    assert.ok(err.reasons.some((r) => r.startsWith('Bad function signature for: proxy_on_request_headers')), err.message);
  });

  it('refuses a module without a proxy_abi_version export', async () => {
    const err = await loadError(ProxyWasmHost.create({ wasm: await compileFixture('no-abi') }));
    assert.deepEqual(err.reasons, ['Missing or unknown Proxy-Wasm ABI version']);
  });
});

describe('VM start (WasmBase::startVm restricted callbacks)', () => {
  it('lets start-up code log, once per VM: base, canary and each worker', async () => {
    const logs: number[] = [];
    await ProxyWasmHost.create({
      wasm: await compileFixture('start-logs'),
      workers: 3,
      onLog: (e) => e.message === 'start-logs: initialized' && logs.push(e.worker),
    });
    assert.deepEqual(logs.sort((x, y) => x - y), [-2, -1, 0, 1, 2]);
  });

  it('traps start-up code that defines a metric ("restricted_callback") and refuses the module', async () => {
    const err = await loadError(ProxyWasmHost.create({ wasm: await compileFixture('start-restricted') }));
    assert.match(err.message, /Failed to initialize Wasm code: Function: _initialize failed: restricted_callback/);
  });
});

describe('plugin start and configure (WasmHandleBase::canary, getOrCreateThreadLocalPlugin)', () => {
  it('creates the root context (id 1, parent 0), runs vm_start and configure in the canary and every worker', async () => {
    const vmConfig = 'vm-config-bytes';
    const pluginConfig = probeConfig({ configure: { do: ['buffer:7:1000', 'buffer:6:1000'] } });
    const host = await ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig, vmConfig, workers: 2 });
    const byWorker = (w: number) => probeLines(host.logs.filter((l) => l.worker === w));
    for (const w of [-2, 0, 1]) {
      const lines = byWorker(w);
      assert.deepEqual(lines.slice(0, 3), ['context_create 1 0', `vm_start 1 ${vmConfig.length}`, `configure 1 ${pluginConfig.length} status=0`]);
      assert.ok(lines.includes(`buffer:7:1000 -> ok=${pluginConfig}`));
      assert.ok(lines.includes(`buffer:6:1000 -> ok=${vmConfig}`));
    }
    assert.deepEqual(byWorker(-1), [], 'the base VM is instantiated but never started');
  });

  it('gives streams ids after the root context, per worker, each worker with its own memory', async () => {
    const host = await ProxyWasmHost.create({
      wasm: await compileFixture('probe'),
      pluginConfig: probeConfig({ headers: { do: ['count'] } }),
      workers: 2,
    });
    const a = await host.runRequest({ worker: 0, body: 'x' });
    const b = await host.runRequest({ worker: 0, body: 'x' });
    const c = await host.runRequest({ worker: 1, body: 'x' });
    assert.deepEqual([a.contextId, b.contextId, c.contextId], [2, 3, 2]);
    assert.equal(probeResult(a.logs, 'count'), 'seen=1');
    assert.equal(probeResult(b.logs, 'count'), 'seen=2');
    assert.equal(probeResult(c.logs, 'count'), 'seen=1', 'worker 1 has its own linear memory');
    assert.deepEqual(probeLines(a.logs)[0], 'context_create 2 1');
  });

  it('reads PLUGIN_CONFIGURATION only while configuring (NOT_FOUND later); VM_CONFIGURATION always', async () => {
    const host = await ProxyWasmHost.create({
      wasm: await compileFixture('probe'),
      pluginConfig: probeConfig({ headers: { do: ['buffer:7:100', 'buffer:6:100'] } }),
      vmConfig: 'vm',
    });
    const r = await host.runRequest({ body: 'x' });
    assert.equal(probeResult(r.logs, 'buffer:7:100'), 'status=1');
    assert.equal(probeResult(r.logs, 'buffer:6:100'), 'ok=vm');
  });

  it('rejects the plugin when proxy_on_configure returns false; workers are never created', async () => {
    const seen = new Set<number>();
    const err = await loadError(
      ProxyWasmHost.create({
        wasm: await compileFixture('probe'),
        pluginConfig: probeConfig({ configure: { return: 0 } }),
        workers: 2,
        onLog: (e) => seen.add(e.worker),
      }),
    );
    assert.match(err.message, /Failed to configure base Wasm plugin/);
    assert.ok(!seen.has(0) && !seen.has(1));
  });
});

describe('VM failure (trap) and failure policy (CHECK_FAIL_HTTP, Context::failStream)', () => {
  const trapping = probeConfig({ headers: { do: ['trap'] } });

  it('fail-closed: 503 wasm_fail_stream, and every later request on that worker too; other workers unaffected', async () => {
    const host = await ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig: trapping, workers: 2 });
    const first = await host.runRequest({ worker: 0, body: 'x' });
    assert.equal(first.action, 'localReply');
    assert.deepEqual(first.localReply, { status: 503, body: '', headers: [], details: 'wasm_fail_stream', grpcStatus: 14 });
    assert.match(first.trap ?? '', /^Function: proxy_on_request_headers failed: /);
    assert.ok(host.workers[0].failed);
    assert.equal(host.workers[1].failed, null);
    const later = await host.runRequest({ worker: 0, body: 'x' });
    assert.equal(later.localReply?.status, 503);
    assert.equal(later.callbacks.length, 0, 'a failed VM is not called again');
  });

  it('fail-open: the failing stream and later ones continue without the filter', async () => {
    const host = await ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig: trapping, failOpen: true });
    const first = await host.runRequest({ body: 'abc' });
    assert.equal(first.action, 'continue');
    assert.equal(Buffer.from(first.body).toString(), 'abc');
    const later = await host.runRequest({ body: 'abc' });
    assert.equal(later.action, 'continue');
    assert.equal(later.filterSkipped, true);
  });

  it('an AssemblyScript abort is a trap too, logged at critical through proxy_log', async () => {
    const host = await ProxyWasmHost.create({ wasm: await compileFixture('probe'), pluginConfig: probeConfig({ body: { do: ['abort'] } }) });
    const r = await host.runRequest({ body: 'x' });
    assert.equal(r.localReply?.status, 503);
    assert.ok(r.logs.some((l) => l.level === 'critical' && l.message.startsWith('tokenroute: abort: probe abort')));
  });

  it('FAIL_RELOAD: the next request gets a fresh VM', async () => {
    const host = await ProxyWasmHost.create({
      wasm: await compileFixture('probe'),
      pluginConfig: probeConfig({ headers: { do: ['count'] }, body: { do: ['trap'] } }),
      failurePolicy: 'FAIL_RELOAD',
    });
    assert.equal((await host.runRequest({ body: 'x' })).localReply?.status, 503);
    const next = await host.runRequest({ body: 'x' });
    assert.equal(probeResult(next.logs, 'count'), 'seen=1', 'state starts over in the reloaded VM');
  });

  it('growing linear memory past the VM limit fails the VM', async () => {
    const host = await ProxyWasmHost.create({
      wasm: await compileFixture('probe'),
      pluginConfig: probeConfig({ headers: { do: ['grow:32'] } }),
      maxMemoryBytes: 16 << 20,
    });
    const r = await host.runRequest({ body: 'x' });
    assert.equal(r.localReply?.status, 503);
    assert.match(r.trap ?? '', /exceeds the 16777216-byte VM limit/);
  });
});
