// The routing benchmark's load: a QPS ladder of sessions, run against one front door, and the
// per-stage figures. Every workload is a list of sessions: the open-loop ones (shared prefix, hot
// spot) are one-turn sessions at Poisson arrivals; multi-turn chat starts conversations at Poisson
// arrivals (rate = QPS ÷ turns) and each sends turn k+1 a think time after turn k's reply ended
// (closed loop per user, as a chat user waits for the answer), so the offered request rate is
// about the stage's QPS and a slow router gets somewhat fewer requests — achieved QPS says how
// many. The schedule (which prompt at which start time) is built before the run from the seed, so
// every policy sees the same sessions in the same order. A turn marked `bypass` goes straight to a
// model server (a second gateway or a batch client the EPP never hears of); its figures are kept
// apart from the routed requests'.
import { readFileSync } from 'node:fs';
import { poissonArrivals, type Conversation, type Prompt, type Stage } from './workload.js';
import type { GatewayClient, Outcome } from './client.js';

export interface Session {
  readonly turns: readonly Prompt[];
  readonly thinkMs: readonly number[];
  readonly bypass: readonly boolean[];
}

/** Session starts per stage, ms from the stage's start. */
export type Schedule = { at: number; session: Session }[][];

/** Open loop: one request per Poisson arrival, cycling through `prompts` across the ladder. */
export function openLoopSchedule(stages: readonly Stage[], prompts: readonly Prompt[], seed: number): Schedule {
  let cursor = 0;
  return stages.map((st, si) =>
    poissonArrivals(st, seed + si).map((at) => ({ at, session: { turns: [prompts[cursor++ % prompts.length]], thinkMs: [0], bypass: [false] } })),
  );
}

/** Multi-turn: conversations start at Poisson arrivals at QPS ÷ turns; each is used once. */
export function conversationSchedule(stages: readonly Stage[], conversations: readonly Conversation[], seed: number): Schedule {
  let cursor = 0;
  const turns = conversations[0]?.turns.length ?? 1;
  return stages.map((st, si) =>
    poissonArrivals({ qps: st.qps / turns, seconds: st.seconds }, seed + si).map((at) => {
      if (cursor >= conversations.length) throw new Error(`multi-turn: ${conversations.length} conversations are too few for this ladder`);
      return { at, session: conversations[cursor++] };
    }),
  );
}

/** Conversations the ladder can start (a bound: Poisson arrivals vary; generate with margin). */
export function conversationsNeeded(stages: readonly Stage[], turns: number): number {
  return Math.ceil(stages.reduce((a, s) => a + (s.qps * s.seconds) / turns, 0) * 1.3) + 10;
}

export interface Rec extends Outcome {
  stage: number;
  bypass: boolean;
  /** The edge filter's CPU time in the gateway (NaN without a filter). */
  filterCpuMs: number;
  sched: number; // scheduled send time (performance.now ms)
  lagMs: number; // actual dispatch − scheduled
  done: boolean;
}

export interface StageResult {
  qps: number;
  seconds: number;
  sent: number;
  achievedQps: number;
  meanDispatchLagMs: number;
  ok: number;
  errors: number;
  unfinished: number;
  ttftP50S: number | null;
  ttftP90S: number | null;
  ttftMeanS: number | null;
  e2eP50S: number | null;
  decisionP50Ms: number | null;
  decisionP99Ms: number | null;
  /** EPP process CPU over the stage (every thread, idle scraping included) ÷ requests sent. */
  eppCpuMsPerRequest: number | null;
  /** The edge filter's mean CPU per request in the gateway (null without a filter). */
  filterCpuMsPerRequest: number | null;
  outputTokensPerS: number | null;
  cacheHitRate: number | null;
  meanPromptTokens: number | null;
  endpointShare: Record<string, number>;
  /** Requests sent straight to a model server (workload b), not part of the figures above. */
  bypass?: { sent: number; ok: number; ttftP90S: number | null; cacheHitRate: number | null };
  loadgenCpuPct: number;
  eppCpuPct: number;
  sampleErrors: string[];
}

export function pct(v: readonly number[], q: number): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

export function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime+stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

export interface LadderTarget {
  /** The router's front door. */
  frontDoor: GatewayClient;
  /** Model servers for bypass turns, by index. */
  direct: readonly { key: string; client: GatewayClient }[];
  eppPid: number | undefined;
  idPrefix: string;
  /** What the gateway recorded of a request: decision latency and the filter's CPU. */
  fromGateway(id: string): { decisionMs: number; filterCpuMs: number };
}

export interface LadderOptions {
  stages: readonly Stage[];
  schedule: Schedule;
  model: string;
  outputLen: number;
  drainS: number;
  log?(line: string): void;
  /** Every request of the run at its end, with the x-request-id it was sent with (for trace analysis). */
  onRecords?(recs: readonly (Rec & { id: string })[]): void;
}

/** Runs the whole ladder against one router and returns per-stage figures. */
export async function runLadder(t: LadderTarget, o: LadderOptions): Promise<StageResult[]> {
  const recs: Rec[] = [];
  const pending: Promise<void>[] = [];
  const ladderStart = performance.now();
  const starts: number[] = [];
  let acc = ladderStart;
  for (const st of o.stages) {
    starts.push(acc);
    acc += st.seconds * 1000;
  }
  const ladderEnd = acc;
  const stageAt = (time: number) => {
    let i = 0;
    while (i + 1 < starts.length && time >= starts[i + 1]) i++;
    return i;
  };
  const sleepUntil = async (time: number) => {
    const wait = time - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  };
  const send = async (prompt: Prompt, bypass: boolean, sched: number): Promise<void> => {
    const body = JSON.stringify({ model: o.model, prompt: prompt.text, max_tokens: o.outputLen, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
    const rec: Rec = { filterCpuMs: NaN, stage: stageAt(sched), bypass, sched, lagMs: performance.now() - sched, done: false, ok: false, endpoint: '', ttftMs: NaN, e2eMs: NaN, decisionMs: NaN, promptTokens: 0, cachedTokens: 0, outputTokens: 0 };
    recs.push(rec);
    const id = `bench-${t.idPrefix}-${recs.length}`;
    if (bypass) {
      // The second client's own choice, fixed by the turn (not by timing): the same for every policy.
      const server = t.direct[(prompt.group * 7 + prompt.index * 3) % t.direct.length];
      Object.assign(rec, await server.client.send('/v1/completions', body, id, sched), { endpoint: server.key });
    } else {
      Object.assign(rec, await t.frontDoor.send('/v1/completions', body, id, sched), t.fromGateway(id));
    }
    rec.done = true;
  };
  const runSession = async (s: Session, start: number): Promise<void> => {
    let due = start;
    for (let k = 0; k < s.turns.length; k++) {
      if (k > 0) {
        due = performance.now() + s.thinkMs[k];
        if (due >= ladderEnd) return; // the ladder is over: the conversation is cut here
        await sleepUntil(due);
      }
      await send(s.turns[k], s.bypass[k], due);
    }
  };
  const windows: { cpu0: NodeJS.CpuUsage; cpu1?: NodeJS.CpuUsage; epp0: number; epp1?: number }[] = [];
  for (let si = 0; si < o.stages.length; si++) {
    const win: (typeof windows)[number] = { cpu0: process.cpuUsage(), epp0: procCpuMs(t.eppPid) };
    windows.push(win);
    for (const { at, session } of o.schedule[si]) {
      const sched = starts[si] + at;
      await sleepUntil(sched);
      pending.push(runSession(session, sched));
    }
    await sleepUntil(starts[si] + o.stages[si].seconds * 1000);
    win.cpu1 = process.cpuUsage(win.cpu0);
    win.epp1 = procCpuMs(t.eppPid);
    const inStage = recs.filter((r) => r.stage === si);
    o.log?.(`  stage ${si} qps ${o.stages[si].qps}: sent ${inStage.length}, done so far ${inStage.filter((r) => r.done).length}`);
  }
  const drainEnd = performance.now() + o.drainS * 1000;
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, Math.max(0, drainEnd - performance.now())))]);
  const cutoff = performance.now();
  // The gateway reports a request when it is over, which can be just after the client saw the end.
  await new Promise((r) => setTimeout(r, 50));
  for (const [i, r] of recs.entries()) if (r.done && !r.bypass && Number.isNaN(r.decisionMs)) Object.assign(r, t.fromGateway(`bench-${t.idPrefix}-${i + 1}`));
  o.onRecords?.(recs.map((r, i) => ({ ...r, id: `bench-${t.idPrefix}-${i + 1}` })));
  return o.stages.map((st, si) => stageResult(st, recs.filter((r) => r.stage === si), starts[si], windows[si], cutoff));
}

function stageResult(st: Stage, all: readonly Rec[], start: number, win: { cpu0: NodeJS.CpuUsage; cpu1?: NodeJS.CpuUsage; epp0: number; epp1?: number }, cutoff: number): StageResult {
  const rs = all.filter((r) => !r.bypass);
  const ok = rs.filter((r) => r.done && r.ok);
  const unfinished = rs.filter((r) => !r.done);
  // Requests still waiting at the end count with TTFT censored at the cutoff (a lower bound).
  const censored = (r: Rec) => (Number.isNaN(r.ttftMs) ? cutoff - r.sched : r.ttftMs);
  const ttfts = [...ok.map((r) => r.ttftMs), ...unfinished.map(censored)].map((x) => x / 1000);
  const lastEnd = Math.max(...ok.map((r) => r.sched + r.e2eMs));
  const outTok = ok.reduce((a, r) => a + r.outputTokens, 0);
  const hit = (xs: readonly Rec[]) => {
    const prompt = xs.reduce((a, r) => a + r.promptTokens, 0);
    return prompt ? r3(xs.reduce((a, r) => a + r.cachedTokens, 0) / prompt) : null;
  };
  const prompt = ok.reduce((a, r) => a + r.promptTokens, 0);
  const filterCpu = ok.map((r) => r.filterCpuMs).filter((x) => Number.isFinite(x));
  const share: Record<string, number> = {};
  for (const r of ok) share[r.endpoint] = (share[r.endpoint] ?? 0) + 1;
  const wallMs = st.seconds * 1000;
  const by = all.filter((r) => r.bypass);
  const byOk = by.filter((r) => r.done && r.ok);
  return {
    qps: st.qps, seconds: st.seconds, sent: rs.length, achievedQps: r3(all.length / st.seconds)!,
    meanDispatchLagMs: r3(all.reduce((a, r) => a + r.lagMs, 0) / Math.max(1, all.length))!,
    ok: ok.length, errors: rs.filter((r) => r.done && !r.ok).length, unfinished: unfinished.length,
    ttftP50S: r3(pct(ttfts, 0.5)), ttftP90S: r3(pct(ttfts, 0.9)), ttftMeanS: r3(ttfts.reduce((a, b) => a + b, 0) / Math.max(1, ttfts.length)),
    e2eP50S: r3(pct(ok.map((r) => r.e2eMs / 1000), 0.5)), decisionP50Ms: r3(pct(ok.map((r) => r.decisionMs), 0.5)), decisionP99Ms: r3(pct(ok.map((r) => r.decisionMs), 0.99)),
    eppCpuMsPerRequest: rs.length ? r3((win.epp1! - win.epp0) / rs.length) : null,
    filterCpuMsPerRequest: filterCpu.length ? r3(filterCpu.reduce((a, b) => a + b, 0) / filterCpu.length) : null,
    outputTokensPerS: ok.length ? r3(outTok / ((lastEnd - start) / 1000)) : null,
    cacheHitRate: hit(ok), meanPromptTokens: ok.length ? r3(prompt / ok.length) : null,
    endpointShare: share,
    ...(by.length ? { bypass: { sent: by.length, ok: byOk.length, ttftP90S: r3(pct([...byOk.map((r) => r.ttftMs), ...by.filter((r) => !r.done).map(censored)].map((x) => x / 1000), 0.9)), cacheHitRate: hit(byOk) } } : {}),
    loadgenCpuPct: r3(((win.cpu1!.user + win.cpu1!.system) / 1000 / wallMs) * 100)!,
    eppCpuPct: r3(((win.epp1! - win.epp0) / wallMs) * 100)!,
    sampleErrors: [...new Set(rs.filter((r) => r.done && !r.ok).map((r) => r.error ?? 'no tokens'))].slice(0, 3),
  };
}
