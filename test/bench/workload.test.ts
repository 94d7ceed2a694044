// The routing benchmark's workloads (e2e/bench/workload.ts) and its ladder runner
// (e2e/bench/ladder.ts): what each generator promises — growing conversations, a hot family's
// share, seeded reproducibility — and that the runner keeps a conversation's turns in order, one
// at a time, sends bypass turns past the router and cuts conversations when the ladder ends.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { generateHotSpot, generateMultiTurn, generateSharedPrefix, type MultiTurnParams, type Prompt } from '../../e2e/bench/workload.js';
import { conversationSchedule, conversationsNeeded, openLoopSchedule, runLadder, type Schedule } from '../../e2e/bench/ladder.js';
import type { GatewayClient, Outcome } from '../../e2e/bench/client.js';

const SMALL: MultiTurnParams = { conversations: 30, turns: 4, systemPromptLen: 40, sharedSystemPrompts: 3, userLen: 10, replyLen: 10, outputLen: 4, thinkTimeS: 2, bypassShare: 0.3, seed: 5 };

describe('multi-turn conversations', () => {
  const convs = generateMultiTurn(SMALL);

  it('grows each turn by extending the previous turn and its reply', () => {
    for (const c of convs) {
      assert.equal(c.turns.length, 4);
      for (let k = 1; k < c.turns.length; k++) {
        assert.ok(c.turns[k].text.startsWith(c.turns[k - 1].text), `conversation ${c.id} turn ${k} does not extend turn ${k - 1}`);
        assert.ok(c.turns[k].tokens > c.turns[k - 1].tokens + 10, 'a turn adds a reply and a user message');
      }
    }
  });

  it('draws system prompts from the shared set and think times around the mean', () => {
    const systems = new Set(convs.map((c) => c.turns[0].text.split('\nUser:')[0]));
    assert.ok(systems.size >= 2 && systems.size <= 3, `${systems.size} system prompts`);
    const thinks = convs.flatMap((c) => c.thinkMs.slice(1));
    assert.ok(convs.every((c) => c.thinkMs[0] === 0));
    const mean = thinks.reduce((a, b) => a + b, 0) / thinks.length;
    assert.ok(mean > 1000 && mean < 3000, `mean think ${mean} ms for 2 s`);
    const share = convs.flatMap((c) => c.bypass).filter(Boolean).length / (convs.length * 4);
    assert.ok(share > 0.15 && share < 0.45, `bypass share ${share} for 0.3`);
  });

  it('is reproducible from its seed and changes with it', () => {
    const again = generateMultiTurn(SMALL);
    assert.deepEqual(again.map((c) => c.turns.map((t) => t.text)), convs.map((c) => c.turns.map((t) => t.text)));
    assert.deepEqual(again.map((c) => c.bypass), convs.map((c) => c.bypass));
    const other = generateMultiTurn({ ...SMALL, seed: 6 });
    assert.notEqual(other[0].turns[0].text, convs[0].turns[0].text);
  });

  it('without bypass sends every turn through the router', () => {
    assert.ok(generateMultiTurn({ ...SMALL, conversations: 5, bypassShare: 0 }).every((c) => c.bypass.every((b) => !b)));
  });
});

describe('hot spot and shared prefix', () => {
  it('gives the hot family its share and spreads the rest', () => {
    const order = generateHotSpot({ numGroups: 5, promptsPerGroup: 4, systemPromptLen: 20, questionLen: 5, outputLen: 4, seed: 3, hotShare: 0.5, length: 2000 });
    assert.equal(order.length, 2000);
    const counts = new Map<number, number>();
    for (const p of order) counts.set(p.group, (counts.get(p.group) ?? 0) + 1);
    assert.ok(counts.get(0)! > 850 && counts.get(0)! < 1150, `hot family ${counts.get(0)} of 2000`);
    for (let g = 1; g < 5; g++) assert.ok(counts.get(g)! > 150 && counts.get(g)! < 350, `family ${g}: ${counts.get(g)}`);
    assert.throws(() => generateHotSpot({ numGroups: 1, promptsPerGroup: 1, systemPromptLen: 5, questionLen: 5, outputLen: 1, seed: 1, hotShare: 0.5, length: 1 }));
  });

  it('keeps the shared-prefix order the published runs used (seeded, every prompt once per cycle)', () => {
    const a = generateSharedPrefix({ numGroups: 3, promptsPerGroup: 2, systemPromptLen: 20, questionLen: 5, outputLen: 4, seed: 42 });
    const b = generateSharedPrefix({ numGroups: 3, promptsPerGroup: 2, systemPromptLen: 20, questionLen: 5, outputLen: 4, seed: 42 });
    assert.deepEqual(a.map((p) => p.text), b.map((p) => p.text));
    assert.equal(new Set(a.map((p) => `${p.group}/${p.index}`)).size, 6);
  });
});

describe('schedules', () => {
  it('starts conversations at QPS ÷ turns, each conversation once', () => {
    const stages = [{ qps: 4, seconds: 50 }, { qps: 8, seconds: 50 }];
    const convs = generateMultiTurn({ ...SMALL, conversations: conversationsNeeded(stages, 4) });
    const s = conversationSchedule(stages, convs, 9);
    assert.ok(s[0].length > 30 && s[0].length < 70, `${s[0].length} starts for 50 expected`);
    assert.ok(s[1].length > s[0].length);
    const used = s.flat().map((x) => x.session);
    assert.equal(new Set(used).size, used.length);
    assert.throws(() => conversationSchedule(stages, convs.slice(0, 10), 9), /too few/);
  });

  it('cycles prompts across stages in an open loop', () => {
    const prompts = [0, 1, 2].map((i): Prompt => ({ group: i, index: 0, text: `p${i}`, tokens: 1, systemTokens: 0 }));
    const s = openLoopSchedule([{ qps: 20, seconds: 1 }, { qps: 20, seconds: 1 }], prompts, 1);
    const texts = s.flat().map((x) => x.session.turns[0].text);
    assert.deepEqual(texts.slice(0, 4), ['p0', 'p1', 'p2', 'p0']);
  });
});

describe('the ladder runner', () => {
  /** A fake server: answers after `ms`, remembering what it was sent and when. */
  function fakeClient(log: { who: string; prompt: string; at: number; end?: number }[], who: string, ms: number): GatewayClient {
    return {
      async send(_path: string, body: string): Promise<Outcome> {
        const entry: { who: string; prompt: string; at: number; end?: number } = { who, prompt: JSON.parse(body).prompt, at: performance.now() };
        log.push(entry);
        await new Promise((r) => setTimeout(r, ms));
        entry.end = performance.now();
        return { ok: true, endpoint: who, ttftMs: ms, e2eMs: ms, decisionMs: NaN, promptTokens: 10, cachedTokens: 5, outputTokens: 2 };
      },
    } as unknown as GatewayClient;
  }

  it('sends a conversation turn by turn, each after the last reply, bypass turns to a server, and cuts it at the end', async () => {
    const turns = [0, 1, 2, 3].map((k): Prompt => ({ group: 2, index: k, text: `turn ${k}`, tokens: 10, systemTokens: 0 }));
    const long = { turns, thinkMs: [0, 30, 30, 5_000], bypass: [false, true, false, false] };
    const schedule: Schedule = [[{ at: 0, session: long }], []];
    const log: { who: string; prompt: string; at: number; end?: number }[] = [];
    const stages = [{ qps: 1, seconds: 0.3 }, { qps: 1, seconds: 0.3 }];
    const res = await runLadder(
      { frontDoor: fakeClient(log, 'router', 40), direct: [{ key: 's0', client: fakeClient(log, 's0', 40) }, { key: 's1', client: fakeClient(log, 's1', 40) }], eppPid: undefined, idPrefix: 't', fromGateway: () => ({ decisionMs: 1, filterCpuMs: NaN }) },
      { stages, schedule, model: 'm', outputLen: 2, drainS: 2 },
    );
    // The fourth turn's think time runs past the ladder: the conversation ends after three turns.
    assert.deepEqual(log.map((e) => e.prompt), ['turn 0', 'turn 1', 'turn 2']);
    assert.equal(log[0].who, 'router');
    assert.match(log[1].who, /^s[01]$/);
    assert.equal(log[2].who, 'router');
    for (let k = 1; k < log.length; k++) assert.ok(log[k].at >= log[k - 1].end! + 25, `turn ${k} was sent before turn ${k - 1}'s reply and think time`);
    const routed = res.reduce((a, s) => a + s.sent, 0);
    const bypassed = res.reduce((a, s) => a + (s.bypass?.sent ?? 0), 0);
    assert.equal(routed, 2);
    assert.equal(bypassed, 1);
    assert.equal(res[0].ok + res[1].ok, 2);
    assert.equal(res.find((s) => s.sent > 0)!.cacheHitRate, 0.5);
  });
});
