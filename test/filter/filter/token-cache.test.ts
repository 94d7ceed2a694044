// The filter tokenizes a shared context once per VM (tokenizer/segment_cache.ts): requests that
// share a long system message count cache hits, and their headers — token count, exact flag,
// digest keys — are exactly those of a filter with the cache off.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { chat, decoded, filterHost } from './helpers.js';

const MODEL = 'Qwen/Qwen3-8B';
const CONTEXT = Array.from({ length: 1500 }, (_, i) => `Clause ${i}: the tenant shall keep the premises in good repair.`).join('\n');

describe('the token cache', () => {
  it('remembers a shared system message and changes no header value', async () => {
    const on = await filterHost({ blockSize: 16 });
    const off = await filterHost({ blockSize: 16, tokenCacheBytes: 0 });
    const hits = () => on.metrics()['wasmcustom.tokenroute_token_cache_hits']?.value ?? 0;
    const before = hits();
    for (const question of ['What is clause 7 about?', 'Summarise clause 1,200.', 'What is clause 7 about?']) {
      const body = { messages: [{ role: 'system', content: CONTEXT }, { role: 'user', content: question }] };
      const a = decoded(await on.runRequest(chat(MODEL, body)));
      const b = decoded(await off.runRequest(chat(MODEL, body)));
      assert.equal(a.tokens, b.tokens);
      assert.equal(a.exact, b.exact);
      assert.deepEqual(a.digest, b.digest);
      assert.deepEqual(Array.from(a.blockKeys), Array.from(b.blockKeys));
    }
    assert.equal(hits() - before, 2, 'the second and third requests found the context remembered');
    assert.equal(off.metrics()['wasmcustom.tokenroute_token_cache_hits']?.value ?? 0, 0, 'cache off: no hits');
  });
});
