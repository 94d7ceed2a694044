// The development gateway's options: every value it cannot run with is refused before anything
// starts, with the catalogue code a user greps for (docs/errors.md), and the defaults apply.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { resolveOptions } from '../../gateway/options.js';
import { errorCode } from '../../epp/src/framework/error-catalogue.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return errorCode(err) ?? `uncoded: ${(err as Error).message}`;
  }
  return undefined;
}

describe('gateway options', () => {
  it('refuses each bad value with its code', () => {
    const epp = '127.0.0.1:9002';
    assert.equal(codeOf(() => resolveOptions({ epp, fallbackEndpoints: ['not-an-address'] })), 'TR_ERR_CLI_INVALID_ARGUMENT');
    assert.equal(codeOf(() => resolveOptions({ epp, failureMode: 'Sometimes' as never })), 'TR_ERR_CLI_INVALID_ARGUMENT');
    assert.equal(codeOf(() => resolveOptions({ epp, messageTimeoutMs: 0 })), 'TR_ERR_CLI_INVALID_ARGUMENT');
    assert.equal(codeOf(() => resolveOptions({ epp, bufferLimitBytes: Number.POSITIVE_INFINITY })), 'TR_ERR_CLI_INVALID_ARGUMENT');
    assert.equal(codeOf(() => resolveOptions({})), 'TR_ERR_STARTUP_GATEWAY_NO_ROUTE');
  });

  it('accepts an EPP alone, or fallback endpoints alone, with the defaults', () => {
    const a = resolveOptions({ epp: '127.0.0.1:9002' });
    assert.equal(a.failureMode, 'FailClose');
    assert.equal(a.bufferLimitBytes, 1 << 20);
    const b = resolveOptions({ fallbackEndpoints: ['127.0.0.1:8000', 'localhost:8001'] });
    assert.deepEqual(b.fallback.map((e) => e.key), ['127.0.0.1:8000', 'localhost:8001']);
  });
});
