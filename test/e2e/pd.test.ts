// e2e: prefill/decode disaggregation with llm-d's own routing sidecar. Real components
// (e2e/lib/pd-stack.ts): two prefill llm-d-inference-sim servers, two decode servers each behind
// llm-d's `pd-sidecar` v0.7.1, tokenroute's EPP reading the roles from --endpoints-file, and the
// development gateway with the edge filter (exact prompt tokens in signed headers). Assertions
// come from the servers' own metrics (vllm:request_success_total) and the EPP's decision trace:
// the prefill ran on the prefill server the EPP chose and the decode on the decode server behind
// the sidecar it chose; short and cached prompts are not disaggregated (prefix-based-pd-decider
// on the filter's exact token count); a killed prefill server is not chosen again after one
// staleness interval, and the sidecar's behaviour meanwhile is recorded.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../epp/src/observability/logger.js';
import { SIM_MODEL, startPdStack, type PdStack } from '../../e2e/lib/pd-stack.js';
import type { Sim } from '../../e2e/lib/sims.js';

const STALENESS_MS = 1000;
const traces: { disagg?: string; prefill?: string; decode?: string; promptTokens?: number; exact?: boolean }[] = [];
let stack: PdStack;

function config(hmacKey: string): string {
  return `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: token-producer
  parameters:
    models: {"${SIM_MODEL}": qwen3}
    filterHeaders: {hmacKeys: ["${hmacKey}"]}
- type: prefix-cache-scorer
  parameters: {blockSizeTokens: 16, autoTune: false}
- type: queue-scorer
- type: utilization-detector
  parameters: {queueDepthThreshold: 64, kvCacheUtilThreshold: 1.0, metricsStalenessThreshold: "${STALENESS_MS}ms"}
- type: prefill-filter
- type: decode-filter
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 256}
- type: disagg-profile-handler
  parameters:
    deciders: {prefill: prefix-based-pd-decider}
- type: metrics-data-source
- type: core-metrics-extractor
schedulingProfiles:
- name: prefill
  plugins:
  - {pluginRef: prefill-filter}
  - {pluginRef: utilization-detector}
  - {pluginRef: max-score-picker}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: queue-scorer, weight: 1}
- name: decode
  plugins:
  - {pluginRef: decode-filter}
  - {pluginRef: utilization-detector}
  - {pluginRef: max-score-picker}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: queue-scorer, weight: 1}
dataLayer:
  sources:
  - pluginRef: metrics-data-source
    extractors:
    - pluginRef: core-metrics-extractor
`;
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _e, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line.includes('"decision"')) continue;
        const d = JSON.parse(line).decision;
        const target = (p: string) => d.profiles?.find((x: { profile: string }) => x.profile === p)?.targets?.[0];
        traces.push({ disagg: d.notes?.disagg, prefill: target('prefill'), decode: target('decode'), promptTokens: d.notes?.disaggPromptTokens, exact: d.notes?.disaggTokensExact });
      }
      done();
    },
  });
  stack = await startPdStack({ eppConfig: config, logger: createLogger('debug', sink) });
});

afterAll(async () => {
  await stack?.close();
});

/** Requests a server finished, from its own /metrics. */
async function served(sim: Sim): Promise<number> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^vllm:request_success_total\{[^}]*\} ([0-9.e+]+)$/gm)) n += Number(m[1]);
  return n;
}
async function counts(): Promise<{ prefill: number[]; decode: number[] }> {
  return { prefill: await Promise.all(stack.prefill.map(served)), decode: await Promise.all(stack.decode.map((d) => served(d.decode))) };
}
const diff = (a: number[], b: number[]) => a.map((x, i) => x - b[i]);

async function chat(system: string, question: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: SIM_MODEL, max_tokens: 8, messages: [{ role: 'system', content: system }, { role: 'user', content: question }] }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: r.status, text: await r.text() };
}

const LONG = 'You are the support assistant of a company that builds routers for inference. '.repeat(40);

describe('P/D through gateway → tokenroute EPP → llm-d pd-sidecar → prefill sim → decode sim', () => {
  it('disaggregates a long uncached prompt: prefill on the chosen prefill server, decode behind the chosen sidecar', async () => {
    const before = await counts();
    const r = await chat(LONG, 'How do I configure a route?');
    assert.equal(r.status, 200, r.text);
    assert.ok(JSON.parse(r.text).choices[0].message.content.length > 0);
    const after = await counts();
    const t = traces.at(-1)!;
    assert.equal(t.disagg, 'prefill-decode');
    assert.equal(t.exact, true, 'the decider counted the prompt with the edge filter\'s tokens');
    assert.ok(t.promptTokens! > 256, `prompt tokens ${t.promptTokens}`);
    const p = stack.prefill.findIndex((s) => s.key === t.prefill);
    const d = stack.decode.findIndex((s) => s.key === t.decode);
    assert.ok(p >= 0 && d >= 0, `chosen ${t.prefill} / ${t.decode}`);
    assert.deepEqual(diff(after.prefill, before.prefill), stack.prefill.map((_, i) => (i === p ? 1 : 0)), 'the prefill ran on the chosen prefill server only');
    assert.deepEqual(diff(after.decode, before.decode), stack.decode.map((_, i) => (i === d ? 1 : 0)), 'the decode ran on the chosen decode server only');
  });

  it('streams a disaggregated response back (SSE through sidecar and gateway)', async () => {
    const r = await fetch(`${stack.gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: SIM_MODEL, max_tokens: 6, stream: true, prompt: `Streaming variant. ${LONG}` }),
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = (await r.text()).split('\n\n').filter((e) => e.startsWith('data: '));
    assert.ok(events.length >= 3, `${events.length} SSE events`);
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.equal(traces.at(-1)!.disagg, 'prefill-decode');
  });

  it('keeps a short prompt and a cached one on the decode server (no prefill server involved)', async () => {
    const before = await counts();
    assert.equal((await chat('Be brief.', 'Hi!')).status, 200);
    assert.equal(traces.at(-1)!.disagg, 'decode-only');
    assert.equal((await chat(LONG, 'How do I configure a route?')).status, 200, 'the same long prompt again');
    assert.equal(traces.at(-1)!.disagg, 'decode-only', 'its prefix is cached on the decode server it went to');
    const after = await counts();
    assert.deepEqual(diff(after.prefill, before.prefill), [0, 0]);
    assert.equal(diff(after.decode, before.decode).reduce((a, b) => a + b, 0), 2);
  });

  it('stops choosing a killed prefill server within one staleness interval', async () => {
    const victim = stack.prefill[0];
    victim.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // Meanwhile the EPP may still name it; record what the sidecar does with a dead prefiller.
    const during = await chat(`Variant A. ${LONG}`, 'first after the kill');
    const duringPrefill = traces.at(-1)!.prefill;
    await new Promise((r) => setTimeout(r, STALENESS_MS * 2.5));
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      // A new prefix each time (uncached everywhere), so each request is disaggregated again.
      const r = await chat(`Variant ${i + 2}. ${LONG}`, 'after the staleness interval');
      statuses.push(r.status);
      const t = traces.at(-1)!;
      assert.equal(t.disagg, 'prefill-decode');
      assert.equal(t.prefill, stack.prefill[1].key, `request ${i} chose ${t.prefill} ${Date.now() - killedAt} ms after the kill`);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    // Documented, not asserted: llm-d's sidecar answers a dead prefiller with an error.
    console.log(`pd e2e: request right after the prefill server was killed → HTTP ${during.status}, prefill chosen: ${duringPrefill === victim.key ? 'the dead one' : duringPrefill}`);
  });
});
