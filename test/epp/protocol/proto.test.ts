// Proto loading: the package root is found by walking up to tokenroute's package.json, the
// override variable is honoured with a clear error, and the loaded service and enums are Envoy's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ENVOY_PROTO_DIR_ENV,
  envoyProtoDir,
  extProcServiceDefinition,
  findPackageRoot,
  httpStatusNumber,
  loadExtProcPackage,
} from '../../../epp/src/protocol/proto.js';

describe('Envoy proto loading', () => {
  it('finds the tokenroute package root from this file and the cached protos under it', () => {
    const root = findPackageRoot(import.meta.url);
    assert.ok(existsSync(join(root, 'package.json')));
    assert.equal(envoyProtoDir(), join(root, '.cache', 'envoy-api'));
  });

  it('fails clearly when no tokenroute package is above the start', () => {
    assert.throws(() => findPackageRoot(pathToFileURL('/tmp/x.js').href), /package root not found/);
  });

  it('honours TOKENROUTE_ENVOY_PROTO_DIR and names it in the error', () => {
    const saved = process.env[ENVOY_PROTO_DIR_ENV];
    process.env[ENVOY_PROTO_DIR_ENV] = '/nonexistent/envoy-api';
    try {
      assert.equal(envoyProtoDir(), '/nonexistent/envoy-api');
      assert.throws(() => loadExtProcPackage(), /TOKENROUTE_ENVOY_PROTO_DIR/);
    } finally {
      if (saved === undefined) delete process.env[ENVOY_PROTO_DIR_ENV];
      else process.env[ENVOY_PROTO_DIR_ENV] = saved;
    }
    assert.ok(loadExtProcPackage()['envoy.service.ext_proc.v3.ProcessingRequest']);
  });

  it('exposes Process as a bidirectional stream', () => {
    const p = extProcServiceDefinition().Process;
    assert.equal(p.path, '/envoy.service.ext_proc.v3.ExternalProcessor/Process');
    assert.equal(p.requestStream, true);
    assert.equal(p.responseStream, true);
  });

  it('maps Envoy StatusCode names to HTTP numbers', () => {
    assert.equal(httpStatusNumber('TooManyRequests'), 429);
    assert.equal(httpStatusNumber('ServiceUnavailable'), 503);
    assert.equal(httpStatusNumber('BadRequest'), 400);
    assert.equal(httpStatusNumber(418), 418);
    assert.throws(() => httpStatusNumber('NoSuchStatus'));
  });
});
