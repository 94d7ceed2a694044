// Scrape worker: fetches, parses and extracts model-server metrics off the main thread, so the
// ext_proc event loop never sees an HTTP body or a line of exposition text. Each worker owns a
// shard of the endpoints, spread over a few phases of the interval (a tick every interval/phases
// ms scrapes one phase) so 512 requests do not leave, and come back, in one burst. Every tick
// starts one scrape per idle endpoint of its phase (never two in flight for one endpoint) and
// posts everything that finished since the last tick as a single batch. A slow or dead endpoint
// only holds its own slot until its deadline; it never delays the others.
import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { compileEngine, type EngineMapping } from './engines.js';
import { parseExposition } from './exposition.js';
import { extractMetrics } from './extract.js';
import type { FromWorker, ScrapeErrorReason, ToWorker, WireError, WireNote, WireTarget, WireUpdate, WorkerInit } from './protocol.js';

interface Target {
  readonly key: string;
  /** Which tick of the interval scrapes this endpoint. */
  readonly phase: number;
  readonly url: string;
  readonly mapping: EngineMapping;
  readonly engineName: string;
  readonly options: http.RequestOptions;
  readonly client: typeof http | typeof https;
  request: http.ClientRequest | undefined;
  /** Absent optional specs last reported, so a note is sent only on change. */
  lastAbsent: string;
}

// Ask for the classic text format: prometheus_client would otherwise be free to pick OpenMetrics.
const REQUEST_HEADERS = Object.freeze({ accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1', 'user-agent': 'tokenroute-epp' });

/** Aim for a tick every ~10 ms, with at most this many phases per interval. */
const PHASE_MS = 10;
const MAX_PHASES = 10;

const TLS_CODE = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

export class ScrapeWorker {
  private readonly targets = new Map<string, Target>();
  private readonly mappings = new Map<string, EngineMapping>();
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timer: NodeJS.Timeout;
  private updates: WireUpdate[] = [];
  private errors: WireError[] = [];
  private notes: WireNote[] = [];
  private inflight = 0;
  private stopped = false;
  private readonly phases: number;
  private tickCount = 0;
  private nextPhase = 0;

  constructor(private readonly init: WorkerInit, private readonly post: (msg: FromWorker) => void) {
    for (const cfg of init.engines) this.mappings.set(cfg.name, compileEngine(cfg));
    // One socket per endpoint, kept open between ticks; the free-socket cap must exceed the
    // shard size or the agent would close (and later reopen) connections every tick.
    const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: 1, maxFreeSockets: 1 << 20 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent({ ...agentOptions, rejectUnauthorized: !init.insecureSkipVerify });
    this.phases = init.phases ?? Math.max(1, Math.min(MAX_PHASES, Math.round(init.intervalMs / PHASE_MS)));
    this.timer = setInterval(() => this.tick(), init.intervalMs / this.phases);
  }

  handle(msg: ToWorker): void {
    if (this.stopped) return;
    if (msg.t === 'stop') {
      this.stop();
      return;
    }
    for (const key of msg.remove) this.remove(key);
    for (const t of msg.upsert) this.upsert(t);
  }

  private upsert(wire: WireTarget): void {
    const existing = this.targets.get(wire.key);
    if (existing && existing.url === wire.url && existing.engineName === wire.engine) return;
    if (existing) this.remove(wire.key);
    const mapping = this.mappings.get(wire.engine);
    let url: URL;
    try {
      url = new URL(wire.url);
      if (!mapping) throw new Error(`unknown engine ${JSON.stringify(wire.engine)}`);
    } catch (e) {
      this.errors.push([wire.key, 'internal', (e as Error).message]);
      return;
    }
    const https_ = url.protocol === 'https:';
    const target: Target = {
      key: wire.key,
      // Round-robin keeps phases even as endpoints come and go.
      phase: existing?.phase ?? this.nextPhase++ % this.phases,
      url: wire.url,
      mapping,
      engineName: wire.engine,
      options: { ...urlToHttpOptions(url), method: 'GET', headers: REQUEST_HEADERS, agent: https_ ? this.httpsAgent : this.httpAgent },
      client: https_ ? https : http,
      request: undefined,
      lastAbsent: '',
    };
    this.targets.set(wire.key, target);
    // First values as soon as possible rather than on the next tick.
    this.scrape(target);
  }

  private remove(key: string): void {
    const t = this.targets.get(key);
    if (!t) return;
    this.targets.delete(key);
    t.request?.destroy();
  }

  private tick(): void {
    this.flush();
    const phase = this.tickCount++ % this.phases;
    for (const t of this.targets.values()) if (t.phase === phase && t.request === undefined) this.scrape(t);
  }

  private scrape(t: Target): void {
    let done = false;
    let size = 0;
    const chunks: Buffer[] = [];
    let req: http.ClientRequest;
    try {
      req = t.client.request(t.options);
    } catch (e) {
      this.errors.push([t.key, 'internal', (e as Error).message]);
      return;
    }
    t.request = req;
    this.inflight++;

    // Runs exactly once per scrape, whichever of response, error or deadline comes first.
    const complete = (outcome: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (t.request === req) t.request = undefined;
      // A removed (or replaced) endpoint's late result must not reach the main thread.
      if (this.targets.get(t.key) === t) outcome();
      this.inflight--;
      if (this.inflight === 0) this.flush();
    };
    const fail = (reason: ScrapeErrorReason, message: string, destroy = true): void => {
      if (done) return;
      complete(() => this.errors.push([t.key, reason, message]));
      if (destroy) req.destroy();
    };
    const deadline = setTimeout(() => fail('timeout', `no complete response within ${this.init.timeoutMs} ms`), this.init.timeoutMs);

    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        // Drain rather than destroy, so the keep-alive connection survives a 500 page.
        res.on('end', () => fail('http_status', `HTTP ${res.statusCode}`, false));
        res.on('error', (e) => fail('connection', e.message));
        res.resume();
        return;
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.init.maxResponseBytes) fail('too_large', `response exceeds ${this.init.maxResponseBytes} bytes`);
        else chunks.push(chunk);
      });
      res.on('end', () => {
        // A connection cut mid-body ends the stream too; half a page is not a page.
        if (!res.complete) fail('connection', 'response ended before its declared length');
        else complete(() => this.record(t, (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)).toString('utf8')));
      });
      res.on('error', (e) => fail('connection', e.message));
    });
    req.on('error', (e: NodeJS.ErrnoException) => fail(classify(e), e.message));
    req.end();
  }

  private record(t: Target, text: string): void {
    let samples;
    try {
      samples = parseExposition(text, t.mapping.filter);
    } catch (e) {
      this.errors.push([t.key, 'parse', (e as Error).message]);
      return;
    }
    try {
      const x = extractMetrics(samples, t.mapping);
      if (x.mask !== 0) {
        this.updates.push([t.key, Date.now(), x.mask, x.waiting, x.running, x.kvUsage, x.maxLoras, x.cacheBlockSize, x.cacheNumBlocks, x.activeLoras, x.waitingLoras]);
      }
      if (x.missing.length > 0) this.errors.push([t.key, 'missing_metric', `no series for ${this.describe(t, x.missing)}`]);
      if (x.invalid.length > 0) this.errors.push([t.key, 'invalid_value', `unusable value for ${this.describe(t, x.invalid)}`]);
      const absent = x.absentOptional.join(',');
      if (absent !== t.lastAbsent) {
        t.lastAbsent = absent;
        this.notes.push([t.key, absent]);
      }
    } catch (e) {
      this.errors.push([t.key, 'internal', (e as Error).message]);
    }
  }

  private describe(t: Target, fields: readonly string[]): string {
    const specs = t.mapping.specs as Readonly<Record<string, { text: string } | undefined>>;
    return fields.map((f) => `${f} (${specs[f]?.text ?? '?'})`).join(', ');
  }

  private flush(): void {
    if (this.updates.length === 0 && this.errors.length === 0 && this.notes.length === 0) return;
    const msg: FromWorker = { t: 'batch', updates: this.updates, errors: this.errors, notes: this.notes };
    this.updates = [];
    this.errors = [];
    this.notes = [];
    this.post(msg);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const key of [...this.targets.keys()]) this.remove(key);
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.updates = [];
    this.errors = [];
    this.notes = [];
    this.post({ t: 'stopped' });
  }
}

function classify(e: NodeJS.ErrnoException): ScrapeErrorReason {
  const code = e.code ?? '';
  if (TLS_CODE.test(code) || /certificate|ssl|tls/i.test(e.message)) return 'tls';
  if (code.startsWith('HPE_')) return 'protocol';
  return 'connection';
}

// Entry point when loaded as a worker thread (tests import the class directly).
if (parentPort && workerData && (workerData as { tokenrouteScrapeWorker?: boolean }).tokenrouteScrapeWorker) {
  const port = parentPort;
  const worker = new ScrapeWorker((workerData as { init: WorkerInit }).init, (msg) => port.postMessage(msg));
  port.on('message', (msg: ToWorker) => {
    worker.handle(msg);
    if (msg.t === 'stop') port.close();
  });
}
