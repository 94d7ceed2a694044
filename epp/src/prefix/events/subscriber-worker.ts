// The KV-event subscriber worker thread: ZeroMQ receive, msgpack decode, sequence checks and key
// recomputation happen here, off the EPP's event loop; the loop only applies ready-made op batches
// (prefix/events/subscriber.ts). Two ways to connect (llm-d-kv-cache `pkg/kvcache/kvevents`; docs/configuration.md):
//  - bind: one SUB socket bound to `zmqEndpoint`; model servers dial it (vLLM with a non-wildcard
//    endpoint, llm-d-inference-sim always). Events are attributed by the topic's pod id.
//  - dial: one SUB socket per ready endpoint, connected to its publisher (`kv@<ip>:<port>@<model>`,
//    vLLM binding tcp://*:5557); events are attributed to the dialled endpoint. Every EPP replica
//    can dial every pod, so replicas can run active-active.
// Bad input (wrong frame count, bad seq, undecodable payload, unknown tags, bad hashes) is counted
// and logged at most once per interval per kind. Memory is bounded: socket high-water mark and
// maximum message size, a cap on op words awaiting the event loop (beyond it messages are dropped
// and their pods marked uncertain), and a bounded engine-key map.
import { parentPort, workerData } from 'node:worker_threads';
import { Dealer, Subscriber } from 'zeromq';
import { Ingestor, OpWriter, SeqTracker, OP_CLEAR, OP_UNCERTAIN, type OpBatch } from './ingest.js';
import { parseTopic, readSeq } from './events.js';
import { WasmHasher } from '../keys/wasm-hash.js';
import { RateLimitedLog } from '../../observability/logger.js';

export interface SubscriberWorkerConfig {
  /** Bind a SUB socket here (e.g. tcp://0.0.0.0:5557) for publishers that dial; undefined = no. */
  readonly bindEndpoint?: string;
  /** Dial each endpoint the event loop lists (its publisher port). */
  readonly dial: boolean;
  readonly topicFilter: string;
  readonly blockSize: number;
  readonly engineBlockSize: number;
  readonly engineMapCapacity: number;
  /** topic model → seed model. */
  readonly seedModels: Record<string, string>;
  /** Publisher's replay (ROUTER) port on each pod; 0 = no replay. */
  readonly replayPort: number;
  readonly replayTimeoutMs: number;
  readonly receiveHighWaterMark: number;
  readonly maxMessageBytes: number;
  /** Op words that may wait for the event loop before messages are dropped. */
  readonly maxPendingOpWords: number;
  readonly logIntervalMs: number;
  readonly statsIntervalMs: number;
  /** A source silent for longer counts as stalled in stats. */
  readonly stallMs: number;
  readonly wasmPath?: string;
}

export type WorkerToMain =
  | { type: 'ready'; endpoint?: string }
  | { type: 'ops'; batch: OpBatch; decodeMs: number }
  | { type: 'stats'; counters: Record<string, number>; engineMapSize: number; engineMapBytes: number; sources: number; stalled: number; pendingOpWords: number }
  | { type: 'log'; level: 'warn' | 'info'; msg: string; detail: Record<string, unknown> }
  | { type: 'error'; message: string };

export type MainToWorker =
  | { type: 'dial'; endpoints: { key: string; address: string; port: number }[] }
  | { type: 'ack' }
  | { type: 'close' };

interface Source {
  readonly id: string;
  lastAt: number;
  /** While a replay fills a gap, live messages wait here (bounded). */
  pending: { seq: bigint; model: string; payload: Uint8Array }[] | undefined;
}

class SubscriberWorker {
  private readonly cfg: SubscriberWorkerConfig;
  private readonly ingestor: Ingestor;
  private readonly seqs = new SeqTracker();
  private readonly writer = new OpWriter();
  private readonly sources = new Map<string, Source>();
  private readonly dialed = new Map<string, Subscriber>();
  private readonly log: RateLimitedLog;
  private readonly counters = new Map<string, number>();
  private readonly dropMarked = new Set<string>();
  private bound: Subscriber | undefined;
  private unacked = 0;
  private pendingWords = 0;
  private flushScheduled = false;
  private decodeMs = 0;
  private closed = false;
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(cfg: SubscriberWorkerConfig) {
    this.cfg = cfg;
    this.log = new RateLimitedLog(cfg.logIntervalMs);
    const hasher = WasmHasher.load(cfg.wasmPath);
    this.ingestor = new Ingestor({
      blockSize: cfg.blockSize,
      engineBlockSize: cfg.engineBlockSize,
      engineMapCapacity: cfg.engineMapCapacity,
      seedModelFor: (m) => cfg.seedModels[m] ?? m,
      hasher,
    });
  }

  private post(m: WorkerToMain, transfer?: ArrayBuffer[]): void {
    parentPort!.postMessage(m, transfer);
  }

  private count(key: string, n = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  private warn(kind: string, msg: string, detail: Record<string, unknown> = {}): void {
    const suppressed = this.log.admit(kind);
    if (suppressed < 0) return;
    this.post({ type: 'log', level: 'warn', msg, detail: { ...detail, kind, suppressedSinceLast: suppressed } });
  }

  async start(): Promise<void> {
    parentPort!.on('message', (m: MainToWorker) => this.onMain(m));
    this.statsTimer = setInterval(() => this.postStats(), this.cfg.statsIntervalMs);
    if (this.cfg.bindEndpoint) {
      const sub = this.newSocket();
      await sub.bind(this.cfg.bindEndpoint);
      this.bound = sub;
      void this.receive(sub, undefined);
      this.post({ type: 'ready', endpoint: sub.lastEndpoint ?? this.cfg.bindEndpoint });
    } else {
      this.post({ type: 'ready' });
    }
  }

  private newSocket(): Subscriber {
    const sub = new Subscriber({ receiveHighWaterMark: this.cfg.receiveHighWaterMark, maxMessageSize: this.cfg.maxMessageBytes, linger: 0 });
    sub.subscribe(this.cfg.topicFilter);
    return sub;
  }

  private onMain(m: MainToWorker): void {
    if (m.type === 'ack') {
      this.unacked = Math.max(0, this.unacked - 1);
      if (this.unacked === 0) this.flush();
    } else if (m.type === 'dial') {
      this.setDialed(m.endpoints);
    } else if (m.type === 'close') {
      void this.close();
    }
  }

  private setDialed(endpoints: { key: string; address: string; port: number }[]): void {
    const want = new Map(endpoints.map((e) => [e.key, e]));
    for (const [key, sub] of this.dialed) {
      if (want.has(key)) continue;
      sub.close();
      this.dialed.delete(key);
      this.sources.delete(key);
      this.seqs.forget(key);
    }
    for (const [key, e] of want) {
      if (this.dialed.has(key)) continue;
      const sub = this.newSocket();
      const host = e.address.includes(':') ? `[${e.address}]` : e.address;
      try {
        sub.connect(`tcp://${host}:${e.port}`);
      } catch (err) {
        this.warn('dial_failed', 'kv events: cannot dial publisher', { endpoint: key, error: String(err) });
        sub.close();
        continue;
      }
      this.dialed.set(key, sub);
      void this.receive(sub, key);
    }
  }

  private async receive(sub: Subscriber, dialedKey: string | undefined): Promise<void> {
    try {
      for await (const frames of sub) {
        this.onMessage(frames, dialedKey);
      }
    } catch (err) {
      if (!this.closed && !sub.closed) this.warn('receive_failed', 'kv events: receive loop ended', { error: String(err) });
    }
  }

  private onMessage(frames: Buffer[], dialedKey: string | undefined): void {
    this.count('messages');
    if (frames.length !== 3) {
      this.count('malformed_frame');
      this.warn('malformed_frame', 'kv events: message without exactly 3 frames [topic, seq, payload]', { frames: frames.length });
      return;
    }
    const topic = frames[0].toString('utf8');
    const parsed = parseTopic(topic);
    const seq = readSeq(frames[1]);
    if (!parsed || seq === undefined) {
      this.count('malformed_frame');
      this.warn('malformed_frame', 'kv events: bad topic or sequence frame', { topic: topic.slice(0, 120), seqBytes: frames[1].length });
      return;
    }
    const pod = dialedKey ?? parsed.pod;
    if (pod === '') {
      this.count('malformed_frame');
      return;
    }
    let src = this.sources.get(pod);
    if (!src) {
      if (this.sources.size >= 4096) {
        this.count('too_many_sources');
        this.warn('too_many_sources', 'kv events: more than 4096 publishers; ignoring new ones');
        return;
      }
      src = { id: pod, lastAt: 0, pending: undefined };
      this.sources.set(pod, src);
    }
    src.lastAt = Date.now();
    if (this.pendingWords > this.cfg.maxPendingOpWords) {
      // The event loop is not keeping up: drop, and say the pod's entries are uncertain later.
      this.count('dropped_overload');
      this.dropMarked.add(pod);
      this.seqs.forget(pod);
      this.warn('dropped_overload', 'kv events: event loop behind; dropping messages (pods marked uncertain)', { pendingOpWords: this.pendingWords });
      return;
    }
    if (src.pending) {
      if (src.pending.length >= 1024) {
        this.count('dropped_during_replay');
        return;
      }
      src.pending.push({ seq, model: parsed.model, payload: frames[2] });
      return;
    }
    this.handle(src, seq, parsed.model, frames[2]);
  }

  private handle(src: Source, seq: bigint, model: string, payload: Uint8Array): void {
    const pod = src.id;
    const v = this.seqs.check(pod, seq);
    if (v.verdict === 'duplicate') {
      this.count('duplicates');
      return;
    }
    if (v.verdict === 'restart') {
      this.count('restarts');
      this.warn('restart', 'kv events: sequence went backwards; publisher restarted, clearing its entries', { pod, seq: String(seq) });
      this.writer.podOp(OP_CLEAR, pod);
    } else if (v.verdict === 'gap') {
      this.count('gaps');
      this.count('missed_messages', Number(v.missed));
      if (this.cfg.replayPort > 0) {
        const address = replayHost(pod);
        if (address) {
          src.pending = [{ seq, model, payload }];
          void this.replay(src, address, v.expected, seq, model);
          return;
        }
      }
      this.warn('gap', 'kv events: sequence gap; marking the pod entries uncertain', { pod, missed: String(v.missed) });
      this.writer.podOp(OP_UNCERTAIN, pod);
    }
    this.ingest(pod, model, payload);
  }

  private ingest(pod: string, model: string, payload: Uint8Array): void {
    if (this.dropMarked.delete(pod)) this.writer.podOp(OP_UNCERTAIN, pod);
    const t0 = performance.now();
    const before = this.counterSnapshot();
    this.ingestor.ingest(pod, model, payload, this.writer);
    this.decodeMs += performance.now() - t0;
    this.reportProblems(before, pod);
    this.scheduleFlush();
  }

  private counterSnapshot(): number {
    let n = 0;
    for (const k of PROBLEM_KEYS) n += this.ingestor.counters.get(k) ?? 0;
    return n;
  }

  private reportProblems(before: number, pod: string): void {
    if (this.counterSnapshot() === before) return;
    for (const k of PROBLEM_KEYS) {
      if ((this.ingestor.counters.get(k) ?? 0) > 0) this.warn(k, `kv events: ${k.replace(/_/g, ' ')}`, { pod });
    }
  }

  /** Asks the pod's replay ROUTER for [from, upTo) and applies it, then the held live messages. */
  private async replay(src: Source, host: string, from: bigint, upTo: bigint, model: string): Promise<void> {
    const pod = src.id;
    const dealer = new Dealer({ linger: 0, receiveTimeout: this.cfg.replayTimeoutMs, maxMessageSize: this.cfg.maxMessageBytes });
    let ok = false;
    try {
      dealer.connect(`tcp://${host}:${this.cfg.replayPort}`);
      const start = Buffer.alloc(8);
      start.writeBigUInt64BE(from);
      await dealer.send([Buffer.alloc(0), start]);
      for (;;) {
        const frames = await dealer.receive();
        // [empty, seq, payload]; the end is an empty payload or seq = 2^64 − 1.
        const f = frames[0].length === 0 ? frames.slice(1) : frames;
        const seq = f.length >= 1 ? readSeq(f[0]) : undefined;
        const payload = f[1];
        if (seq === undefined || payload === undefined || payload.length === 0 || seq === 0xffffffffffffffffn) {
          ok = true;
          break;
        }
        if (seq < from) continue;
        if (seq >= upTo) {
          ok = true;
          break;
        }
        this.seqs.set(pod, seq);
        this.ingest(pod, model, payload);
        this.count('replayed_messages');
      }
    } catch (err) {
      this.warn('replay_failed', 'kv events: replay failed; marking the pod entries uncertain', { pod, error: String(err) });
    } finally {
      dealer.close();
    }
    if (!ok || (this.seqs.lastOf(pod) ?? -1n) < upTo - 1n) {
      this.count('replay_failures');
      this.writer.podOp(OP_UNCERTAIN, pod);
    }
    this.seqs.set(pod, upTo - 1n);
    const held = src.pending ?? [];
    src.pending = undefined;
    for (const m of held) this.handle(src, m.seq, m.model, m.payload);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.pendingWords = this.writer.size();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Sends the accumulated ops unless the event loop still holds too many batches. */
  private flush(): void {
    if (this.unacked >= 2) return;
    const batch = this.writer.take();
    this.pendingWords = 0;
    if (!batch) return;
    this.unacked++;
    this.post({ type: 'ops', batch, decodeMs: this.decodeMs }, [batch.ops.buffer as ArrayBuffer]);
    this.decodeMs = 0;
  }

  private postStats(): void {
    const counters: Record<string, number> = {};
    for (const [k, v] of this.counters) counters[k] = v;
    for (const [k, v] of this.ingestor.counters) counters[k] = v;
    const now = Date.now();
    let stalled = 0;
    for (const s of this.sources.values()) if (s.lastAt > 0 && now - s.lastAt > this.cfg.stallMs) stalled++;
    this.post({
      type: 'stats',
      counters,
      engineMapSize: this.ingestor.engineMap.size(),
      engineMapBytes: this.ingestor.engineMap.bytes(),
      sources: this.sources.size,
      stalled,
      pendingOpWords: this.writer.size(),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.postStats();
    this.bound?.close();
    for (const s of this.dialed.values()) s.close();
    this.dialed.clear();
    parentPort!.close();
  }
}

const PROBLEM_KEYS = ['malformed_payload', 'malformed_event', 'unknown_tag', 'bad_hash_type', 'orphaned', 'block_size_mismatch', 'token_count_mismatch'] as const;

/** The host part of a pod id (`ip`, `ip:port`, `[v6]:port`). */
function replayHost(pod: string): string | undefined {
  if (pod.startsWith('[')) {
    const end = pod.indexOf(']');
    return end > 0 ? pod.slice(0, end + 1) : undefined;
  }
  const parts = pod.split(':');
  if (parts.length <= 2) return parts[0] || undefined;
  return `[${pod}]`; // a bare IPv6 address
}

if (parentPort && workerData && (workerData as { kind?: string }).kind === 'kv-subscriber') {
  const worker = new SubscriberWorker((workerData as { config: SubscriberWorkerConfig }).config);
  worker.start().catch((err) => {
    parentPort!.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerToMain);
  });
}
