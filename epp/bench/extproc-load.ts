// ext_proc load generator: drives an EPP the way Envoy does with GIE's settings (request and
// response headers SEND, bodies FULL_DUPLEX_STREAMED), one bidi stream per request, keeping
// `concurrency` requests in flight for `seconds`. Runs in its own process (pinned to its own core
// by the bench runner) so the EPP's core measures only the EPP. Prints one JSON line of results.
//
//   node dist/epp/bench/extproc-load.js --target 127.0.0.1:9002 --concurrency 64 --seconds 10 --body-bytes 4096
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { extProcServiceDefinition } from '../src/protocol/proto.js';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  /** Request headers sent → destination decision received, in ms. */
  decisionP50: number;
  decisionP99: number;
  /** Whole stream (request + response path), in ms. */
  streamP50: number;
  streamP99: number;
  /** How many distinct endpoints the EPP chose, with counts. */
  destinations: Record<string, number>;
}

interface ProcessingResponseLike {
  request_headers?: { response?: { header_mutation?: { set_headers?: { header?: { key?: string; raw_value?: Buffer; value?: string } }[] } } };
  request_body?: { response?: { body_mutation?: { streamed_response?: { end_of_stream?: boolean } } } };
  response_headers?: unknown;
  response_body?: { response?: { body_mutation?: { streamed_response?: { end_of_stream?: boolean } } } };
  immediate_response?: { status?: { code?: string | number } };
}

function chatBody(bytes: number, i: number): Buffer {
  const filler = 'The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(bytes / 45));
  const base = { model: 'meta-llama/Llama-3.1-8B-Instruct', stream: false, max_tokens: 64, messages: [{ role: 'system', content: '' }, { role: 'user', content: `request ${i}` }] };
  const overhead = Buffer.byteLength(JSON.stringify(base));
  base.messages[0].content = filler.slice(0, Math.max(0, bytes - overhead));
  return Buffer.from(JSON.stringify(base));
}

function header(key: string, value: string) {
  return { key, raw_value: Buffer.from(value) };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function runLoad(opts: { target: string; concurrency: number; seconds: number; bodyBytes: number; warmupSeconds: number }): Promise<LoadResult> {
  const Client = grpc.makeGenericClientConstructor(extProcServiceDefinition(), 'ExternalProcessor');
  const client = new Client(opts.target, grpc.credentials.createInsecure()) as unknown as {
    Process(): grpc.ClientDuplexStream<unknown, ProcessingResponseLike>;
    close(): void;
  };
  const bodies = Array.from({ length: 16 }, (_, i) => chatBody(opts.bodyBytes, i));
  const decision: number[] = [];
  const stream: number[] = [];
  const destinations: Record<string, number> = {};
  let errors = 0;
  let requests = 0;
  let measuring = false;
  let stopping = false;

  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      let tDecision = 0;
      const call = client.Process();
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        if (measuring) {
          if (ok) {
            requests++;
            decision.push(tDecision - t0);
            stream.push(performance.now() - t0);
          } else errors++;
        }
        call.end();
        resolve();
      };
      call.on('data', (msg: ProcessingResponseLike) => {
        if (msg.immediate_response) return finish(false);
        if (msg.request_headers) {
          tDecision = performance.now();
          const set = msg.request_headers.response?.header_mutation?.set_headers ?? [];
          const dest = set.find((h) => h.header?.key === 'x-gateway-destination-endpoint');
          const value = dest?.header?.raw_value?.toString() ?? dest?.header?.value ?? '';
          if (measuring) destinations[value] = (destinations[value] ?? 0) + 1;
        } else if (msg.request_body?.response?.body_mutation?.streamed_response?.end_of_stream) {
          // The upstream "answers": response headers, then one body chunk, as Envoy forwards them.
          call.write({ response_headers: { headers: { headers: [header(':status', '200'), header('content-type', 'application/json')] }, end_of_stream: false } });
          call.write({ response_body: { body: Buffer.from('{"id":"x","model":"meta-llama/Llama-3.1-8B-Instruct","choices":[]}'), end_of_stream: true } });
        } else if (msg.response_body?.response?.body_mutation?.streamed_response?.end_of_stream) {
          finish(true);
        }
      });
      call.on('error', () => finish(false));
      call.on('end', () => finish(tDecision > 0));
      const body = bodies[i % bodies.length];
      call.write({
        request_headers: {
          headers: {
            headers: [
              header(':method', 'POST'),
              header(':path', '/v1/chat/completions'),
              header(':authority', 'gateway'),
              header('content-type', 'application/json'),
              header('content-length', String(body.length)),
              header('x-request-id', `bench-${i}`),
            ],
          },
          end_of_stream: false,
        },
      });
      call.write({ request_body: { body, end_of_stream: true } });
    });

  let seq = 0;
  const worker = async () => {
    while (!stopping) await one(seq++);
  };
  const workers = Array.from({ length: opts.concurrency }, worker);
  await new Promise((r) => setTimeout(r, opts.warmupSeconds * 1000));
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - start) / 1000;
  stopping = true;
  await Promise.all(workers);
  client.close();
  const d = Float64Array.from(decision).sort();
  const s = Float64Array.from(stream).sort();
  return {
    requests,
    errors,
    seconds: elapsed,
    perSecond: requests / elapsed,
    decisionP50: quantile(d, 0.5),
    decisionP99: quantile(d, 0.99),
    streamP50: quantile(s, 0.5),
    streamP99: quantile(s, 0.99),
    destinations,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: '127.0.0.1:9002' },
      concurrency: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      'body-bytes': { type: 'string', default: '4096' },
    },
  });
  runLoad({
    target: values.target!,
    concurrency: Number(values.concurrency),
    seconds: Number(values.seconds),
    warmupSeconds: Number(values.warmup),
    bodyBytes: Number(values['body-bytes']),
  }).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
