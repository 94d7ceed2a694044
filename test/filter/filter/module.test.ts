// The built filter module (filter/build/filter.wasm) as Envoy sees it before running it: ABI
// marker, allocator and start exports, and only host functions Envoy registers, with Envoy's
// signatures (filter/host/envoy-abi.ts, from proxy-wasm-cpp-host exports.h).
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { checkModule, envoyHostFunction, parseWasmModule } from '../../../filter/host/index.js';
import { filterWasm } from '../host/support.js';

describe('filter/build/filter.wasm', () => {
  const info = parseWasmModule(filterWasm());

  it('passes Envoy\'s load checks (ABI 0.2.1, allocator, callback signatures, imports)', () => {
    const check = checkModule(info);
    assert.deepEqual(check.errors, []);
    assert.equal(check.abiVersion, '0.2.1');
    assert.equal(check.allocator, 'proxy_on_memory_allocate');
    assert.equal(check.start, '_initialize');
    assert.equal(info.hasStartSection, false, 'start-up code runs from _initialize, under Envoy\'s restrictions');
  });

  it('imports only functions Envoy provides: no env.abort / env.trace / env.seed, no FastEdge-only calls', () => {
    for (const imp of info.imports) {
      assert.equal(imp.kind, 'function');
      assert.ok(envoyHostFunction(imp.module, imp.name), `${imp.module}.${imp.name}`);
    }
    const names = info.imports.map((i) => `${i.module}.${i.name}`);
    for (const forbidden of ['env.abort', 'env.trace', 'env.seed', 'env.proxy_clear_route_cache', 'env.proxy_dictionary_get']) {
      assert.ok(!names.includes(forbidden), forbidden);
    }
  });

  it('exports the HTTP callbacks it needs and nothing Envoy would call on the response path', () => {
    const exported = new Set(info.exports.map((e) => e.name));
    for (const name of ['proxy_on_context_create', 'proxy_on_vm_start', 'proxy_on_configure', 'proxy_on_request_headers', 'proxy_on_request_body', 'proxy_on_request_trailers', 'proxy_on_done', 'proxy_on_delete', 'memory']) {
      assert.ok(exported.has(name), name);
    }
    assert.ok(!exported.has('proxy_on_response_headers'));
    assert.ok(!exported.has('proxy_on_response_body'));
  });
});
