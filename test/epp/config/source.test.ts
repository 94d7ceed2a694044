// --config-file / --config-text resolution.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readConfigSource } from '../../../epp/src/config/index.js';

describe('readConfigSource', () => {
  it('returns the text, the file contents, or undefined for the default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenroute-config-'));
    const file = join(dir, 'epp.yaml');
    writeFileSync(file, 'kind: EndpointPickerConfig\n');
    assert.equal(readConfigSource({ configText: 'a: 1' }), 'a: 1');
    assert.equal(readConfigSource({ configFile: file }), 'kind: EndpointPickerConfig\n');
    assert.equal(readConfigSource({}), undefined);
  });

  it('rejects both flags and an unreadable file', () => {
    assert.throws(() => readConfigSource({ configFile: 'x', configText: 'y' }), (e: unknown) => e instanceof ConfigError && /mutually exclusive/.test(e.errors[0]));
    assert.throws(
      () => readConfigSource({ configFile: '/nonexistent/epp.yaml' }),
      (e: unknown) => e instanceof ConfigError && e.errors[0] === '--config-file /nonexistent/epp.yaml: cannot read (ENOENT)',
    );
  });
});
