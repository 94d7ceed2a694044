// e2e (issue 14): flow control through the whole local stack — development gateway with the edge
// filter, tokenroute's EPP (in this process) with the flowControl gate, one llm-d-inference-sim
// model server whose --max-num-seqs 2 makes saturation real, and the concurrency detector counting
// the same two slots. Requests that cannot run wait in the EPP; the tests read the order in which
// the EPP dispatched them from the gateway's records (arrival + EPP decision time): dispatches are
// separated by request completions (tens of ms), so orderings hold on a loaded machine.
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { RequestRecord } from '../../gateway/index.js';
import { slotsEppConfig, startStack, type EppConfigParams, type Stack } from '../../e2e/lib/stack.js';
import { call, chatBody, type CallResult } from '../../e2e/lib/workload.js';
import { waitFor } from '../../e2e/lib/sims.js';
import type { Endpoint } from '../../epp/src/framework/endpoint.js';

const SLOTS = 2;
const ITL_MS = 10;

function config(p: EppConfigParams): string {
  return slotsEppConfig(p, {
    slots: SLOTS,
    plugins: ['{name: vtc, type: token-fairness-policy}', '{name: rr, type: round-robin-fairness-policy}'],
    flowControl: `  defaultRequestTTL: 6s
  noEndpointRequestTTL: 30s
  enableEviction: true
  priorityBands:
  - {priority: 0, fairnessPolicyRef: vtc}
  - {priority: 5, fairnessPolicyRef: rr}
`,
  });
}

let stack: Stack;
const records = new Map<string, RequestRecord>();
const sentAt = new Map<string, number>();
let seq = 0;

beforeAll(async () => {
  stack = await startStack({
    sims: 1,
    subnet: '127.0.14',
    tokenizer: 'dummy',
    eppConfig: config,
    onRequest: (r) => records.set(r.id, r),
    sim: { mode: 'random', interTokenLatency: `${ITL_MS}ms`, prefillTimePerToken: '10us', maxNumSeqs: SLOTS },
  });
  stack.epp.inProcess!.datastore.objectives.replace([
    { name: 'batch', priority: -1 },
    { name: 'critical', priority: 10 },
    { name: 'turns', priority: 5 },
  ]);
});

afterAll(async () => {
  await stack?.close();
});

interface Sent {
  readonly id: string;
  readonly done: Promise<CallResult>;
}

function send(o: { tenant: string; objective?: string; promptChars?: number; maxTokens: number; signal?: AbortSignal; stream?: boolean }): Sent {
  const id = `fc-${++seq}-${o.tenant}`;
  const headers: Record<string, string> = { 'x-request-id': id, 'x-gateway-inference-fairness-id': o.tenant };
  if (o.objective) headers['x-gateway-inference-objective'] = o.objective;
  const question = 'word '.repeat(Math.max(1, Math.round((o.promptChars ?? 40) / 5)));
  sentAt.set(id, performance.now());
  const body = chatBody('You answer.', question, { max_tokens: o.maxTokens, ignore_eos: true, ...(o.stream ? { stream: true } : {}) });
  const done = o.signal
    ? fetch(`${stack.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: o.signal })
        .then(async (r) => ({ status: r.status, text: await r.text() }) as unknown as CallResult)
        .catch((err: Error) => ({ status: 0, text: err.message }) as unknown as CallResult)
    : call(stack.gateway.url, '/v1/chat/completions', body, headers, 60_000);
  return { id, done };
}

/** When the EPP answered the request's routing question (its dispatch), in this process's clock. */
function decidedAt(id: string): number {
  const r = records.get(id);
  assert.ok(r?.eppDecisionMs !== undefined, `no EPP decision recorded for ${id}`);
  return (sentAt.get(id) as number) + r.eppDecisionMs;
}

/** The sum of a metric's series, those whose labels contain `labels` when given. */
async function metric(name: string, labels = ''): Promise<number> {
  const text = await stack.epp.inProcess!.metrics.registry.metrics();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) if ((m[1] ?? '').includes(labels)) sum += Number(m[2]);
  return sum;
}

const waiting = () => metric('inference_extension_flow_control_queue_size');
const inFlight = () => stack.epp.inProcess!.datastore.candidates().reduce((n, c) => n + c.inflight.requests, 0);

/** Fills both slots with requests of `maxTokens` and waits until they run. */
async function fillPool(maxTokens: number, signal?: AbortSignal): Promise<Sent[]> {
  const fills = [send({ tenant: 'fill', maxTokens, signal }), send({ tenant: 'fill', maxTokens, signal })];
  await waitFor(() => inFlight() === SLOTS, 15_000, 'both slots taken');
  return fills;
}

describe('flow control through gateway → filter → EPP → llm-d-inference-sim', () => {
  it('strict priority: critical requests overtake sheddable ones that were queued first', async () => {
    const fills = await fillPool(100); // ~1 s: the others queue behind them meanwhile
    const batch = [0, 1, 2].map(() => send({ tenant: 'nightly', objective: 'batch', maxTokens: 4 }));
    await waitFor(async () => (await waiting()) === 3, 15_000, 'the batch requests wait');
    const critical = [0, 1].map(() => send({ tenant: 'web', objective: 'critical', maxTokens: 4 }));
    await waitFor(async () => (await waiting()) === 5, 15_000, 'the critical requests wait');
    const all = await Promise.all([...fills, ...batch, ...critical].map((s) => s.done));
    for (const r of all) assert.equal(r.status, 200, r.text);
    const lastCritical = Math.max(...critical.map((s) => decidedAt(s.id)));
    const firstBatch = Math.min(...batch.map((s) => decidedAt(s.id)));
    assert.ok(lastCritical < firstBatch, `critical dispatched by ${lastCritical.toFixed(0)} ms, first batch at ${firstBatch.toFixed(0)} ms`);
  });

  /** Queues 10 long-prompt and 10 short-prompt requests of two tenants; returns the dispatch order by tenant. */
  async function dispatchOrder(objective: string | undefined): Promise<string[]> {
    const fills = await fillPool(200); // ~2 s: all 20 queue behind them meanwhile
    const queued: Sent[] = [];
    for (let i = 0; i < 10; i++) queued.push(send({ tenant: 'long', objective, promptChars: 8000, maxTokens: 2 }));
    for (let i = 0; i < 10; i++) queued.push(send({ tenant: 'short', objective, promptChars: 800, maxTokens: 2 }));
    await waitFor(async () => (await waiting()) === 20, 15_000, '20 requests wait');
    const results = await Promise.all([...fills, ...queued].map((s) => s.done));
    for (const r of results) assert.equal(r.status, 200, r.text);
    return queued.sort((a, b) => decidedAt(a.id) - decidedAt(b.id)).map((s) => (s.id.endsWith('-long') ? 'long' : 'short'));
  }

  it('token fairness: a tenant with 10x shorter prompts gets about 10x the requests while both wait', async () => {
    const order = await dispatchOrder(undefined); // priority 0: token-fairness-policy
    const shortInFirst11 = order.slice(0, 11).filter((t) => t === 'short').length;
    // Equal token service: one 8,000-character prompt buys about ten 800-character ones.
    assert.ok(shortInFirst11 >= 8, `dispatch order ${order.join(' ')}`);
  });

  it('round-robin fairness: the same two tenants take turns, request for request', async () => {
    const order = await dispatchOrder('turns'); // priority 5: round-robin-fairness-policy
    const longInFirst10 = order.slice(0, 10).filter((t) => t === 'long').length;
    assert.ok(longInFirst10 >= 4 && longInFirst10 <= 6, `dispatch order ${order.join(' ')}`);
  });

  it('a request that waits past defaultRequestTTL gets 429 with x-llm-d-request-dropped-reason: rejected-ttl-expired', async () => {
    const fills = await fillPool(Math.ceil(7500 / ITL_MS)); // ~7.5 s each, longer than the 6 s budget
    const late = await send({ tenant: 'late', maxTokens: 2 }).done;
    assert.equal(late.status, 429, late.text);
    assert.equal(late.headers.get('x-llm-d-request-dropped-reason'), 'rejected-ttl-expired');
    assert.equal(late.headers.get('x-tokenroute-error-code'), 'TR_ERR_FLOW_TTL_EXPIRED');
    for (const f of await Promise.all(fills.map((s) => s.done))) assert.equal(f.status, 200);
  });

  it('scale from zero: requests wait while the pool is empty and are served when an endpoint appears', async () => {
    const ds = stack.epp.inProcess!.datastore;
    const endpoints: Endpoint[] = ds.candidates().map((c) => c.endpoint);
    ds.setEndpoints([]);
    const cold = [send({ tenant: 'cold', maxTokens: 2 }), send({ tenant: 'cold', maxTokens: 2 })];
    await waitFor(async () => (await waiting()) === 2, 15_000, 'two requests wait for an endpoint');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await waiting(), 2, 'still waiting while the pool is empty');
    ds.setEndpoints(endpoints);
    for (const r of await Promise.all(cold.map((s) => s.done))) assert.equal(r.status, 200, r.text);
  });

  it('enableEviction: a critical request on a pool full of running sheddable streams ends them and is dispatched at once', async () => {
    const batch = [0, 1].map(() => send({ tenant: 'nightly', objective: 'batch', maxTokens: Math.ceil(12_000 / ITL_MS), stream: true }));
    await waitFor(() => inFlight() === SLOTS, 15_000, 'both slots taken by sheddable requests');
    const critical = send({ tenant: 'web', objective: 'critical', maxTokens: 2 });
    const cut = (await Promise.all(batch.map((b) => b.done))).filter((r) => r.status !== 200 || !r.done || r.error);
    assert.equal(cut.length, 2, 'both sheddable streams were cut short at the client');
    // The EPP dispatched the critical request as soon as the evictions freed its slots — far inside
    // the 12 s the sheddable streams would have run. (llm-d-inference-sim keeps generating a stream
    // whose connection was closed, so the request then waits at the simulator; a vLLM server aborts
    // it. What the router controls is the dispatch.)
    const r = await critical.done;
    // The critical request is answered in full. Its status may read 500 nonetheless: when the
    // gateway cuts an evicted stream, llm-d-inference-sim v0.10.2's stream goroutine fails its next
    // write and calls sendError on the fasthttp RequestCtx (pkg/communication/http.go sendStream →
    // sendOrFail → chunkSendFailed), after the handler returned and fasthttp may have handed that
    // ctx to the next request — the critical one. Seen as "500 with a complete completion body" in
    // 2 of ~6 full runs; the router never sets a response status. Anything else fails.
    const completion = JSON.parse(r.text) as { object?: string; choices?: { finish_reason?: string }[] };
    assert.equal(completion.object, 'chat.completion', r.text);
    assert.ok(completion.choices?.[0]?.finish_reason, `a complete completion: ${r.text}`);
    assert.ok(r.status === 200 || r.status === 500, `status ${r.status}: ${r.text}`);
    const decided = records.get(critical.id)?.eppDecisionMs;
    assert.ok(decided !== undefined && decided < 5000, `dispatched after ${decided} ms`);
    assert.ok((await metric('tokenroute_flow_control_evictions_total', 'priority="-1"')) >= 2);
  }, 60_000);

  // 400 through the whole stack (the controller's own test runs 10,000): every abandoned request is
  // a fresh client connection; a run with 1,000 once coincided with another e2e file's simulator
  // never answering its health check (ephemeral-port churn is the suspect, not proven).
  it('clients that give up while queued free their place at once: 400 cancels leave nothing behind', async () => {
    const holding = new AbortController();
    const fills = await fillPool(Math.ceil(60_000 / ITL_MS), holding.signal);
    for (let round = 0; round < 2; round++) {
      const abort = new AbortController();
      const quitters = Array.from({ length: 200 }, () => send({ tenant: `t${round}`, maxTokens: 2, signal: abort.signal }));
      await waitFor(async () => (await waiting()) === 200, 30_000, `round ${round}: 200 requests wait`);
      abort.abort();
      await Promise.all(quitters.map((q) => q.done));
      await waitFor(async () => (await waiting()) === 0, 15_000, `round ${round}: the queue empties`);
    }
    const cancelled = await metric('inference_extension_flow_control_requests_total', 'outcome="EvictedContextCancelled"');
    assert.ok(cancelled >= 400, `${cancelled} cancels counted`);
    assert.ok((await metric('inference_extension_flow_control_queue_bytes')) === 0, 'no bytes left queued');
    // The slots come back to the EPP when the long requests' clients give up too: the next request
    // is dispatched at once. (llm-d-inference-sim keeps generating a non-streaming response whose
    // client left, so the request is not sent on to wait behind that; its dispatch is the check.)
    holding.abort();
    await Promise.all(fills.map((f) => f.done));
    await waitFor(() => inFlight() === 0, 15_000, 'the slots are free');
    const probe = new AbortController();
    const next = send({ tenant: 'after', maxTokens: 2, signal: probe.signal });
    await waitFor(() => records.get(next.id)?.eppDecisionMs !== undefined || inFlight() === 1, 15_000, 'the next request is dispatched');
    assert.equal(await waiting(), 0);
    probe.abort();
    await next.done;
  }, 120_000);
});
