// Integration: the `tokenroute` command's user-visible start-up errors, run as processes. Every
// one exits 2 with its catalogue code (docs/errors.md) on stderr: a bad flag value, a missing
// endpoint source, an unreadable file, a filter Envoy would reject, a port already taken.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tokenrouteCli } from '../../e2e/lib/stack.js';

function run(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [tokenrouteCli(), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

function assertCoded(args: string[], code: string, detail?: RegExp): void {
  const r = run(args);
  assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, new RegExp(`${code}\\b`), r.stderr);
  if (detail) assert.match(r.stderr, detail);
}

const FILTER_CONFIG = JSON.stringify({ models: { m: { tokenizer: 'qwen3' } } });

describe('tokenroute start-up errors carry their TR_ERR_* code', () => {
  it('epp: a malformed --static-endpoints entry', () => {
    assertCoded(['epp', '--static-endpoints', '127.0.0.1:8000,nonsense'], 'TR_ERR_CLI_INVALID_ARGUMENT', /"nonsense" is not host:port/);
  });

  it('gateway: neither --epp nor --fallback-endpoints', () => {
    assertCoded(['gateway'], 'TR_ERR_STARTUP_GATEWAY_NO_ROUTE');
  });

  it('gateway: a flag value commander refuses', () => {
    assertCoded(['gateway', '--epp', '127.0.0.1:9002', '--buffer-limit', 'lots'], 'TR_ERR_CLI_INVALID_ARGUMENT', /positive integer/);
  });

  it('gateway: a filter module that does not exist', () => {
    assertCoded(['gateway', '--epp', '127.0.0.1:9002', '--filter-wasm', '/nonexistent/filter.wasm', '--filter-config', FILTER_CONFIG], 'TR_ERR_STARTUP_FILTER_LOAD', /nonexistent\/filter\.wasm/);
  });

  it('gateway: a filter configuration the filter rejects names the field', () => {
    assertCoded(['gateway', '--epp', '127.0.0.1:9002', '--filter-config', JSON.stringify({ models: {} })], 'TR_ERR_STARTUP_FILTER_LOAD', /models: expected a non-empty object/);
  });

  it('gateway: a port already taken', async () => {
    const busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    try {
      assertCoded(['gateway', '--epp', '127.0.0.1:9002', '--listen', `127.0.0.1:${port}`], 'TR_ERR_STARTUP_LISTEN', /EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('filter run: a --config file that does not exist', () => {
    assertCoded(['filter', 'run', '--config', '/nonexistent/filter.json'], 'TR_ERR_CLI_INVALID_ARGUMENT', /ENOENT/);
  });
});
