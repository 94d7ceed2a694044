// Two plugin configurations sharing one VM: Envoy's cpp-host gives each its own root context id
// (proxy-wasm-cpp-host src/wasm.cc WasmBase::start keys root contexts by PluginBase::key()), and
// each must keep its own configuration — the failure mode of an SDK that keeps one global root
// context (docs/filter.md "Why not the proxy-wasm AssemblyScript SDK"). The Node host runs one
// plugin per VM, so this drives the real filter.wasm through a minimal stand-in host of its own.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { filterWasm } from '../host/support.js';

const QWEN = 'Qwen/Qwen3-8B';
const LLAMA = 'meta-llama/Llama-3.1-8B-Instruct';

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  proxy_on_memory_allocate(size: number): number;
  proxy_on_context_create(id: number, parent: number): void;
  proxy_on_vm_start(id: number, size: number): number;
  proxy_on_configure(id: number, size: number): number;
  proxy_on_request_headers(id: number, n: number, eos: number): number;
  proxy_on_request_body(id: number, size: number, eos: number): number;
  proxy_on_delete(id: number): void;
}

/** Just enough of proxy-wasm 0.2.1 for configure + one request per stream (no Envoy rules beyond that). */
class TinyHost {
  x!: Exports;
  config = new Uint8Array(0);
  body = new Uint8Array(0);
  headers: [string, string][] = [];
  added: [string, string][] = [];
  logs: string[] = [];

  static async create(): Promise<TinyHost> {
    const host = new TinyHost();
    const module = await WebAssembly.compile(filterWasm() as Uint8Array<ArrayBuffer>);
    const env: Record<string, (...a: never[]) => number> = {
      proxy_log: (_level: number, p: number, n: number) => (host.logs.push(host.text(p, n)), 0),
      proxy_get_current_time_nanoseconds: (p: number) => (host.view().setBigUint64(p, 1_700_000_000_000_000_000n, true), 0),
      proxy_get_buffer_bytes: (type: number, _start: number, _max: number, pp: number, sp: number) =>
        host.give(type === 7 ? host.config : type === 0 ? host.body : null, pp, sp),
      proxy_get_header_map_pairs: (_type: number, pp: number, sp: number) => host.give(host.pairs(), pp, sp),
      proxy_get_header_map_value: (_type: number, kp: number, kn: number, pp: number, sp: number) => {
        const hit = host.headers.find(([k]) => k === host.text(kp, kn));
        return host.give(hit ? Buffer.from(hit[1]) : null, pp, sp);
      },
      proxy_add_header_map_value: (_type: number, kp: number, kn: number, vp: number, vn: number) => (host.added.push([host.text(kp, kn), host.text(vp, vn)]), 0),
      proxy_remove_header_map_value: () => 0,
      proxy_get_property: () => 1, // NotFound
      proxy_define_metric: (_type: number, _p: number, _n: number, idp: number) => (host.view().setUint32(idp, 4, true), 0),
      proxy_increment_metric: () => 0,
      proxy_record_metric: () => 0,
      proxy_send_local_response: () => 0,
    };
    const wasi = { clock_time_get: (_id: number, _precision: bigint, p: number) => (host.view().setBigUint64(p, 1n, true), 0) };
    const instance = await WebAssembly.instantiate(module, { env, wasi_snapshot_preview1: wasi } as unknown as WebAssembly.Imports);
    host.x = instance.exports as unknown as Exports;
    host.x._initialize();
    return host;
  }

  view(): DataView {
    return new DataView(this.x.memory.buffer);
  }

  text(p: number, n: number): string {
    return Buffer.from(this.x.memory.buffer, p, n).toString('utf8');
  }

  /** Copies `data` into memory the module allocated and writes its pointer and size (0 = Ok, 1 = NotFound). */
  give(data: Uint8Array | null, pp: number, sp: number): number {
    if (data === null) return 1;
    const p = this.x.proxy_on_memory_allocate(Math.max(data.length, 1));
    new Uint8Array(this.x.memory.buffer, p, data.length).set(data);
    this.view().setUint32(pp, p, true);
    this.view().setUint32(sp, data.length, true);
    return 0;
  }

  /** The 0.2.1 header-pair serialization of the current request headers. */
  pairs(): Uint8Array {
    const parts = this.headers.map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
    const head = Buffer.alloc(4 + parts.length * 8);
    head.writeUInt32LE(parts.length, 0);
    parts.forEach(([k, v], i) => {
      head.writeUInt32LE(k.length, 4 + i * 8);
      head.writeUInt32LE(v.length, 8 + i * 8);
    });
    return Buffer.concat([head, ...parts.flatMap(([k, v]) => [k, Buffer.from([0]), v, Buffer.from([0])])]);
  }

  configure(rootId: number, config: object): boolean {
    this.config = Buffer.from(JSON.stringify(config));
    this.x.proxy_on_context_create(rootId, 0);
    assert.equal(this.x.proxy_on_vm_start(rootId, 0), 1);
    return this.x.proxy_on_configure(rootId, this.config.length) === 1;
  }

  /** One completions request on a new stream of `rootId`; the x-tokenroute-* headers it added. */
  request(streamId: number, rootId: number, model: string): Map<string, string> {
    this.headers = [[':method', 'POST'], [':path', '/v1/completions'], ['content-type', 'application/json']];
    this.body = Buffer.from(JSON.stringify({ model, prompt: 'The quick brown fox jumps over the lazy dog. '.repeat(4) }));
    this.added = [];
    this.x.proxy_on_context_create(streamId, rootId);
    assert.equal(this.x.proxy_on_request_headers(streamId, this.headers.length, 0), 1, 'StopIteration');
    assert.equal(this.x.proxy_on_request_body(streamId, this.body.length, 1), 0, 'Continue');
    this.x.proxy_on_delete(streamId);
    return new Map(this.added);
  }
}

describe('root contexts: one per plugin configuration', () => {
  it('two plugin configurations on one VM keep their own models and block sizes', async () => {
    const host = await TinyHost.create();
    assert.ok(host.configure(1, { models: { [QWEN]: { tokenizer: 'qwen3' } }, blockSize: 4 }));
    assert.ok(host.configure(2, { models: { [LLAMA]: { tokenizer: 'llama3_1' } }, blockSize: 8 }));

    const a = host.request(10, 1, QWEN);
    assert.equal(a.get('x-tokenroute-block-size'), '4');
    assert.equal(a.get('x-tokenroute-error'), undefined);
    const b = host.request(11, 2, LLAMA);
    assert.equal(b.get('x-tokenroute-block-size'), '8');
    assert.equal(b.get('x-tokenroute-error'), undefined);
    // Each root context only knows its own models.
    assert.equal(host.request(12, 2, QWEN).get('x-tokenroute-error'), 'unknown_model');
    assert.equal(host.request(13, 1, LLAMA).get('x-tokenroute-error'), 'unknown_model');
  });

  it('a refused reconfiguration keeps that root context\'s last valid configuration, and leaves the other alone', async () => {
    const host = await TinyHost.create();
    assert.ok(host.configure(1, { models: { [QWEN]: { tokenizer: 'qwen3' } }, blockSize: 4 }));
    assert.ok(host.configure(2, { models: { [QWEN]: { tokenizer: 'qwen3' } }, blockSize: 8 }));
    host.config = Buffer.from('{"models": {}}');
    assert.equal(host.x.proxy_on_configure(1, host.config.length), 0);
    assert.ok(host.logs.some((l) => l.startsWith('tokenroute: TR_ERR_FILTER_CONFIG invalid plugin configuration: models')), host.logs.join('\n'));
    assert.equal(host.request(10, 1, QWEN).get('x-tokenroute-block-size'), '4');
    assert.equal(host.request(11, 2, QWEN).get('x-tokenroute-block-size'), '8');
  });

  it('streams of an unconfigured or deleted root context pass untouched', async () => {
    const host = await TinyHost.create();
    host.x.proxy_on_context_create(1, 0);
    host.headers = [[':method', 'POST'], [':path', '/v1/completions']];
    host.x.proxy_on_context_create(10, 1);
    assert.equal(host.x.proxy_on_request_headers(10, 2, 0), 0);
    assert.ok(host.configure(2, { models: { [QWEN]: { tokenizer: 'qwen3' } } }));
    host.x.proxy_on_delete(2);
    host.x.proxy_on_context_create(11, 2);
    assert.equal(host.x.proxy_on_request_headers(11, 2, 0), 0);
    assert.equal(host.x.proxy_on_request_body(11, 10, 1), 0);
  });
});
