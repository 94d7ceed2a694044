// `tokenroute filter run`: runs one request through the proxy-wasm filter in the Node host (driven as
// Envoy drives it) and prints the request headers the filter adds for the EPP.
//
//   tokenroute filter run --config plugin.json < request.json
//     request.json: {"path": "/v1/chat/completions", "headers": {...}, "body": {...}, "routeName": "r"}
//     or just the OpenAI body (the path is --path, or inferred from messages / prompt / input).
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { HostLoadError, ProxyWasmHost, defaultFilterWasmPath, type HostResult } from '../filter/host/index.js';
import { decodeTokenrouteHeaders, parseHmacKey, type TokenrouteDecodeResult } from '../epp/src/protocol/tokenroute-headers.js';
import { ERRORS, TokenrouteError } from '../epp/src/framework/error-catalogue.js';
import { nonNegativeInt } from './flags.js';

interface RequestFile {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body: string;
  routeName?: string;
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`reading the request from stdin: ${(err as Error).message}`);
  }
}

function inferPath(body: Record<string, unknown>): string {
  if ('messages' in body) return '/v1/chat/completions';
  if ('input' in body) return '/v1/responses';
  return '/v1/completions';
}

/** Accepts {path, headers?, body, routeName?} or a bare OpenAI body. */
export function parseRequestFile(text: string, pathFlag: string | undefined): RequestFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not JSON at all: send it as the body as-is (exercises the filter's error handling).
    return { path: pathFlag ?? '/v1/chat/completions', body: text };
  }
  const o = doc as Record<string, unknown>;
  const isEnvelope = o !== null && typeof o === 'object' && !Array.isArray(o) && 'body' in o && ('path' in o || pathFlag !== undefined) && !('model' in o);
  if (!isEnvelope) {
    const path = pathFlag ?? (o !== null && typeof o === 'object' && !Array.isArray(o) ? inferPath(o) : '/v1/completions');
    return { path, body: text };
  }
  const body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers = (o.headers ?? {}) as Record<string, string>;
  return {
    path: pathFlag ?? String(o.path),
    ...(typeof o.method === 'string' ? { method: o.method } : {}),
    headers,
    body,
    ...(typeof o.routeName === 'string' ? { routeName: o.routeName } : {}),
  };
}

/** The body as the data frames Envoy would deliver (one frame, or frames of `size` bytes). */
function frames(body: string, size: number): Uint8Array[] {
  const bytes = Buffer.from(body, 'utf8');
  if (size <= 0 || bytes.length === 0) return [bytes];
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

function summary(result: HostResult, decoded: TokenrouteDecodeResult | undefined): Record<string, unknown> {
  return {
    action: result.action,
    addedHeaders: Object.fromEntries(result.addedHeaders),
    removedHeaders: result.removedHeaders,
    ...(result.localReply ? { localReply: result.localReply } : {}),
    ...(result.trap ? { trap: result.trap } : {}),
    ...(decoded
      ? {
          decoded: decoded.ok
            ? { ...decoded.value, blockKeys: [...decoded.value.blockKeys].map((k) => k.toString(16).padStart(16, '0')) }
            : { reason: decoded.reason, detail: decoded.detail },
        }
      : {}),
    callbacks: result.callbacks,
    logs: result.logs.map((l) => `${l.level}: ${l.message}`),
  };
}

export function filterCommand(): Command {
  const run = new Command('run')
    .description('Run one request through the filter (in an Envoy-faithful Node host) and print the x-tokenroute-* headers it adds')
    .requiredOption('--config <file>', 'the plugin configuration JSON (PluginConfig.configuration)')
    .option('--wasm <file>', 'filter module (default: filter/build/filter.wasm or $TOKENROUTE_FILTER_WASM)')
    .option('--path <path>', 'request path when stdin holds only the OpenAI body (default: inferred)')
    .option('--route <name>', 'Envoy route name (xds.route_name) for per-route profiles')
    .option('--chunk-size <bytes>', 'deliver the body in data frames of this size (0 = one frame)', nonNegativeInt, 0)
    .option('--buffer-limit <bytes>', 'Envoy request buffer limit (default 1 MiB; Envoy Gateway: 32768)', nonNegativeInt, 1024 * 1024)
    .addOption(new Option('--no-allow-on-headers-stop-iteration', 'run as Envoy does without allow_on_headers_stop_iteration (the request stalls)'))
    .option('--json', 'print the whole result (action, headers, decoded block keys, logs) as JSON')
    .action(async (flags: Record<string, unknown>) => {
      const configText = readFileSync(String(flags.config), 'utf8');
      const wasm = readFileSync(flags.wasm ? String(flags.wasm) : defaultFilterWasmPath());
      const req = parseRequestFile(readStdin(), flags.path as string | undefined);
      let host: ProxyWasmHost;
      try {
        host = await ProxyWasmHost.create({
          wasm,
          pluginConfig: configText,
          allowOnHeadersStopIteration: flags.allowOnHeadersStopIteration as boolean,
          bufferLimitBytes: flags.bufferLimit as number,
        });
      } catch (err) {
        if (err instanceof HostLoadError) throw new TokenrouteError(ERRORS.STARTUP_FILTER_LOAD, err.explain());
        throw err;
      }
      const result = await host.runRequest({
        method: req.method ?? 'POST',
        path: req.path,
        ...(req.headers ? { headers: req.headers } : {}),
        body: frames(req.body, flags.chunkSize as number),
        ...((flags.route ?? req.routeName) !== undefined ? { routeName: String(flags.route ?? req.routeName) } : {}),
      });
      let decoded: TokenrouteDecodeResult | undefined;
      const cfgKey = (JSON.parse(configText) as { hmacKey?: unknown }).hmacKey;
      if (result.action === 'continue') {
        decoded = decodeTokenrouteHeaders(new Map(result.headersAfter), typeof cfgKey === 'string' ? { keys: [parseHmacKey(cfgKey)] } : {});
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(summary(result, decoded), null, 2)}\n`);
      } else {
        for (const [k, v] of result.addedHeaders) process.stdout.write(`${k}: ${v}\n`);
        for (const l of result.logs) if (l.level !== 'info' && l.level !== 'debug' && l.level !== 'trace') process.stderr.write(`${l.level}: ${l.message}\n`);
      }
      if (result.action !== 'continue') {
        const r = result.localReply;
        process.stderr.write(`tokenroute filter: request ${result.action}${r ? ` ${r.status} (${r.details})${r.body ? `: ${r.body}` : ''}` : ''}\n`);
        process.exitCode = 1;
      }
    });
  return new Command('filter').description('The proxy-wasm edge filter').addCommand(run);
}
