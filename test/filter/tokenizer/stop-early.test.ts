// Tokenizing that stops after the blocks it is needed for (the EPP's fallback tokenizer: its index
// uses the first maxBlocks blocks of a prompt). The ids out are exactly the first ids of the whole
// prompt's, for every embedded model and every text class of the parity corpus; the keys are the
// first keys of the whole prompt's; the count of the rest is estimated, and said to be.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, loadCore, MODELS } from './support.js';

const NAMES: Record<string, string> = { qwen3: 'Qwen/Qwen3-8B', qwen2_5: 'Qwen/Qwen2.5-7B-Instruct', llama3_1: 'meta-llama/Llama-3.1-8B-Instruct', deepseek_v3: 'deepseek-ai/DeepSeek-V3' };
const corpus = readdirSync(corpusDir).filter((f) => f.endsWith('.txt')).sort().map((f) => readFileSync(join(corpusDir, f), 'utf8')).join('\n');

describe('tokenizing stops after the blocks it is needed for', () => {
  for (const tokenizer of MODELS) {
    it(`ids are the whole prompt's first ids; the count is estimated: ${tokenizer}`, () => {
      const core = loadCore();
      const model = NAMES[tokenizer];
      assert.ok(model, `a served name for ${tokenizer}`);
      const config = JSON.stringify({ models: { [model]: { tokenizer } }, maxBodyBytes: 16 << 20 });
      // A chat of several messages (added tokens between gaps) and a plain completion.
      const bodies = [
        { path: '/v1/chat/completions', body: JSON.stringify({ model, messages: [{ role: 'system', content: corpus }, { role: 'user', content: corpus.slice(0, 3000) }, { role: 'assistant', content: 'Noted.' }, { role: 'user', content: corpus.slice(5000) }] }) },
        { path: '/v1/completions', body: JSON.stringify({ model, prompt: corpus + corpus }) },
      ];
      for (const { path, body } of bodies) {
        const whole = core.requestKeys(path, body, config, { blockSize: 16, maxBlocks: 100_000, wantIds: true });
        assert.ok(whole.ok && !whole.tokensEstimated);
        for (const limit of [1, 16, 500, 4096, Math.floor(whole.ids!.length / 2)]) {
          const cut = core.requestKeys(path, body, config, { blockSize: 16, maxBlocks: Math.ceil(limit / 16), wantIds: true, stopAfterTokens: limit });
          assert.ok(cut.ok, `limit ${limit}`);
          assert.ok(cut.tokensEstimated, `limit ${limit}: said to be estimated`);
          const ids = cut.ids!;
          assert.ok(ids.length >= limit && ids.length < whole.ids!.length, `limit ${limit}: ${ids.length} ids of ${whole.ids!.length}`);
          assert.deepEqual(ids, whole.ids!.subarray(0, ids.length), `limit ${limit}: ids are the whole prompt's first`);
          assert.deepEqual(cut.keys, whole.keys.subarray(0, cut.keys.length), `limit ${limit}: keys are the whole prompt's first`);
          assert.equal(cut.keys.length, Math.min(Math.ceil(limit / 16), Math.floor(ids.length / 16)));
          // The estimate of the rest extrapolates ids per byte; on this mixed corpus within a third.
          if (limit >= 500) assert.ok(Math.abs(cut.tokens - whole.tokens) < whole.tokens / 3, `limit ${limit}: estimated ${cut.tokens}, really ${whole.tokens}`);
        }
        const roomy = core.requestKeys(path, body, config, { blockSize: 16, maxBlocks: 8, stopAfterTokens: whole.tokens + 10 });
        assert.ok(roomy.ok && !roomy.tokensEstimated && roomy.tokens === whole.tokens, 'a limit past the end changes nothing');
      }
    });
  }
});
