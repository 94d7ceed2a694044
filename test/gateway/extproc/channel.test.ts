// The gateway's EPP channel follows a DNS-named EPP to a new address (as an Envoy STRICT_DNS
// cluster re-resolves), keeps its channel while the address set is unchanged or the name does
// not resolve, and never re-resolves an IP literal.
import { afterEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { EppChannel } from '../../../gateway/extproc/channel.js';

const open: EppChannel[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function until(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('EppChannel', () => {
  it('opens a new channel when the name resolves to other addresses, not before', async () => {
    let answer: { address: string }[] | Error = [{ address: '10.89.0.2' }];
    let lookups = 0;
    const ch = new EppChannel('epp.example:9002', false, 20, async () => {
      lookups++;
      if (answer instanceof Error) throw answer;
      return answer;
    });
    open.push(ch);
    const first = ch.current();
    await until(() => lookups >= 3);
    assert.equal(ch.current(), first, 'same addresses: same channel');
    answer = new Error('ENOTFOUND');
    const seen = lookups;
    await until(() => lookups >= seen + 2);
    assert.equal(ch.current(), first, 'a failed lookup keeps the channel');
    answer = [{ address: '10.89.0.7' }];
    await until(() => ch.current() !== first);
    const second = ch.current();
    answer = [{ address: '10.89.0.7' }];
    const again = lookups;
    await until(() => lookups >= again + 2);
    assert.equal(ch.current(), second);
  });

  it('does not re-resolve an IP literal', async () => {
    let lookups = 0;
    const ch = new EppChannel('127.0.0.1:9002', false, 10, async () => {
      lookups++;
      return [];
    });
    open.push(ch);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(lookups, 0);
  });
});
