// Large request bodies are parsed off the event loop. JSON.parse of a 30 MB chat body holds a
// thread for a few hundred milliseconds; on the event loop that is a few hundred milliseconds of
// every other stream's decisions (the hostile-input campaign of issue 12 measured a 1,180 ms worst
// case with five 30 MB bodies in flight). So above a size the openai-parser sends a copy of the
// bytes to a worker thread, which validates the body exactly as parseRequestBody does and answers
// with a summary small enough to cross back cheaply: the fields, the content counts, the head of
// the prefix text the hashers read, and where `model` sits in the bytes (for a model rewrite by
// splicing). The parsed object itself never crosses; `json` is rebuilt on the event loop only if a
// plugin reads it (the built-in ones read the summary).
import type { ApiKind, ContentStats, ParsedBody } from '../../framework/request.js';
import { ownBuffer, serveJobs, WorkerPool } from '../../util/worker-pool.js';
import { contentStats, prefixText, validateRequestBody, type ParseFailure, type ParseOptions, type ParseResult } from '../parser.js';
import { topLevelValueSpan } from './json-span.js';

const KIND = 'tokenroute-body-parser';

/**
 * Characters of prefix text sent back. A prefix hasher reads blockBytes × maxBlocks characters
 * (GIE's defaults: 64 × 256 = 16 KiB); a configuration reading more rebuilds the text on the event loop.
 */
export const PREFIX_HEAD_CHARS = 1 << 20;

interface ParseJob {
  readonly bytes: Uint8Array;
  readonly path: string | undefined;
  readonly options: ParseOptions;
}

interface Summary {
  readonly ok: true;
  readonly kind: ApiKind;
  readonly model: string;
  readonly stream: boolean;
  readonly cacheSalt: string | undefined;
  readonly prefixHead: string;
  readonly prefixLength: number;
  readonly content: ContentStats;
  readonly modelSpan: [number, number] | undefined;
}

/** The worker's answer for one body (exported for tests: the same function runs in the worker). */
export function summarizeRequestBody(job: ParseJob): Summary | ParseFailure {
  const v = validateRequestBody(job.bytes, job.path, job.options);
  if (!v.ok) return v;
  const text = prefixText(v.kind, v.json);
  return {
    ok: true,
    kind: v.kind,
    model: v.model,
    stream: v.stream,
    cacheSalt: v.cacheSalt,
    prefixHead: text.length > PREFIX_HEAD_CHARS ? text.slice(0, PREFIX_HEAD_CHARS) : text,
    prefixLength: text.length,
    content: contentStats(v.json),
    modelSpan: topLevelValueSpan(job.bytes, 'model'),
  };
}

/** A body parsed off the event loop: the summary, with the bytes as received. */
class SummaryBody implements ParsedBody {
  private parsed: Record<string, unknown> | undefined;
  private text: string | undefined;

  constructor(
    private readonly summary: Summary,
    readonly raw: Buffer,
  ) {}

  get kind(): ApiKind {
    return this.summary.kind;
  }
  get model(): string {
    return this.summary.model;
  }
  get stream(): boolean {
    return this.summary.stream;
  }
  get cacheSalt(): string | undefined {
    return this.summary.cacheSalt;
  }
  get content(): ContentStats {
    return this.summary.content;
  }
  get prefixLength(): number {
    return this.summary.prefixLength;
  }

  prefixHead(maxChars: number): string {
    const head = this.summary.prefixHead;
    if (maxChars <= head.length) return head.length > maxChars ? head.slice(0, maxChars) : head;
    return this.prefixText.slice(0, maxChars);
  }

  /** The whole text: the head when it is all of it, else rebuilt from `json` (on the event loop). */
  get prefixText(): string {
    const head = this.summary.prefixHead;
    if (head.length === this.summary.prefixLength) return head;
    this.text ??= prefixText(this.kind, this.json);
    return this.text;
  }

  /** Rebuilt on first read, on the event loop (the worker validated it: it parses). */
  get json(): Record<string, unknown> {
    this.parsed ??= JSON.parse(this.raw.toString('utf8')) as Record<string, unknown>;
    return this.parsed;
  }

  withModel(model: string): Buffer {
    const span = this.summary.modelSpan;
    if (!span) return Buffer.from(JSON.stringify({ ...this.json, model }));
    return Buffer.concat([this.raw.subarray(0, span[0]), Buffer.from(JSON.stringify(model)), this.raw.subarray(span[1])]);
  }
}

export interface BodyParsePoolOptions {
  readonly workers: number;
  /** Parses waiting or running beyond this are refused (a 503, counted as limit body_parse_queue). */
  readonly maxQueue: number;
}

export class BodyParsePool {
  private readonly pool: WorkerPool<ParseJob, Summary | ParseFailure>;

  constructor(opts: BodyParsePoolOptions) {
    this.pool = new WorkerPool({ script: new URL('./off-thread-body.js', import.meta.url), kind: KIND, workers: opts.workers, maxQueue: opts.maxQueue });
  }

  /** Parses `body` in a worker; a copy of its bytes travels, the body stays with the caller. Never rejects. */
  async parse(body: Buffer, path: string | undefined, options: ParseOptions, timeoutMs: number): Promise<ParseResult> {
    const bytes = new Uint8Array(ownBuffer(body));
    const a = await this.pool.run({ bytes, path, options }, timeoutMs, [bytes.buffer]);
    if (!a.ok) {
      const queueFull = a.reason.includes('queue full');
      return { ok: false, status: 503, message: `request body not parsed: ${a.reason.replace(KIND, 'body parser')}`, limit: queueFull ? 'body_parse_queue' : undefined };
    }
    const r = a.value;
    return r.ok ? { ok: true, body: new SummaryBody(r, body) } : r;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

// ---- worker side
serveJobs<ParseJob, Summary | ParseFailure>(KIND, summarizeRequestBody);
