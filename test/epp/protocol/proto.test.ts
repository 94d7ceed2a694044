// Proto loading: the package root is found by walking up to tokenroute's package.json, the
// override variable is honoured with a clear error, and the loaded service and enums are Envoy's.
import { describe, it } from 'vitest';
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

  // The fields GIE's full-duplex protocol depends on; older envoy-api trees (e.g. the one inside
  // @grpc/grpc-js-xds 1.14) lack them. Numbers are Envoy's upstream ones.
  it('has the FULL_DUPLEX_STREAMED body mode and the streamed body response, with upstream numbers', () => {
    type Field = { name: string; number: number; typeName?: string };
    type Enum = { name: string; value: { name: string; number: number }[] };
    type Msg = { type: { field: Field[]; enumType?: Enum[] } };
    const pkg = loadExtProcPackage() as unknown as Record<string, Msg>;
    const modes = pkg['envoy.extensions.filters.http.ext_proc.v3.ProcessingMode'].type.enumType!.find((e) => e.name === 'BodySendMode')!;
    assert.deepEqual(
      Object.fromEntries(modes.value.map((v) => [v.name, v.number])),
      { NONE: 0, STREAMED: 1, BUFFERED: 2, BUFFERED_PARTIAL: 3, FULL_DUPLEX_STREAMED: 4 },
    );
    const field = (msg: string, name: string) => pkg[msg].type.field.find((f) => f.name === name);
    assert.equal(field('envoy.service.ext_proc.v3.BodyMutation', 'streamed_response')?.number, 3);
    assert.equal(field('envoy.service.ext_proc.v3.StreamedBodyResponse', 'body')?.number, 1);
    assert.equal(field('envoy.service.ext_proc.v3.StreamedBodyResponse', 'end_of_stream')?.number, 2);
    assert.equal(field('envoy.service.ext_proc.v3.ProcessingRequest', 'protocol_config')?.number, 11);
    assert.equal(field('envoy.service.ext_proc.v3.ProcessingRequest', 'attributes')?.number, 9);
  });
});
