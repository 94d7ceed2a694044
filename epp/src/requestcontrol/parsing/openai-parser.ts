// openai-parser: the default request parser (GIE's default `parser.pluginRef`). Reads OpenAI
// completions / chat completions / responses / embeddings / conversations bodies: the API from
// the request path (or the body's shape), `model`, `stream`, `cache_salt` and the prefix text the
// prefix-cache index hashes. See requestcontrol/parser.ts. GIE's parser has no parameters;
// tokenroute's bound the fields it copies into labels, logs and key seeds: maxModelNameBytes
// (1024) and maxCacheSaltBytes (1024); a longer value is a 400 (TR_ERR_REQUEST_FIELD_TOO_LONG).
// Bodies of offThreadBodyBytes (1 MiB) or more are parsed in worker threads
// (parsing/off-thread-body.ts) so a few huge bodies cannot stall every other stream's decision:
// offThreadWorkers threads (1), at most offThreadQueue parses waiting or running (64), each within
// offThreadTimeout (30s); beyond the queue or the time the request gets a 503
// (TR_ERR_REQUEST_PARSER_UNAVAILABLE). offThreadBodyBytes 0 parses every body on the event loop.
// With filterHeaders (the token-producer's trust: hmacKeys, ...), a request whose edge-filter
// headers verify is read from them and decided at its headers; its body streams through unread
// (parsing/header-body.ts).
import { z } from 'zod';
import type { LifecyclePlugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { duration, nonNegativeInt, positiveInt } from '../../framework/params.js';
import { DEFAULT_MAX_CACHE_SALT_BYTES, DEFAULT_MAX_MODEL_NAME_BYTES, parseRequestBody, requestPath, type ParseOptions, type RequestParser } from '../parser.js';
import { BodyParsePool } from './off-thread-body.js';
import { parseFilterHeaders } from './header-body.js';
import { filterHeaderVerifier, type FilterHeaderTrust } from '../../prefix/keys/filter-headers.js';
import { filterHeaderTrustSchema } from '../../prefix/plugin-support.js';

export const OPENAI_PARSER_TYPE = 'openai-parser';

export interface OffThreadOptions {
  /** Bodies at least this large are parsed in a worker; 0 never. */
  readonly bodyBytes: number;
  readonly workers: number;
  readonly queue: number;
  readonly timeoutMs: number;
}

export const DEFAULT_OFF_THREAD: OffThreadOptions = { bodyBytes: 1 << 20, workers: 1, queue: 64, timeoutMs: 30_000 };

export function createOpenAIParser(name: string, options: ParseOptions = {}, offThread: OffThreadOptions = DEFAULT_OFF_THREAD, filterHeaders?: FilterHeaderTrust): RequestParser & LifecyclePlugin {
  let pool: BodyParsePool | undefined;
  const verifier = filterHeaders ? filterHeaderVerifier(filterHeaders) : undefined;
  const maxModel = options.maxModelNameBytes ?? DEFAULT_MAX_MODEL_NAME_BYTES;
  return {
    type: OPENAI_PARSER_TYPE,
    name,
    parsesBody: true,
    parseHeaders: verifier ? (headers) => parseFilterHeaders(headers, verifier, maxModel) : undefined,
    parse(body, headers) {
      const path = requestPath(headers);
      if (offThread.bodyBytes === 0 || body.length < offThread.bodyBytes) return parseRequestBody(body, path, options);
      // The workers start with the first large body: an EPP that never sees one never pays for them.
      pool ??= new BodyParsePool({ workers: offThread.workers, maxQueue: offThread.queue });
      return pool.parse(body, path, options, offThread.timeoutMs);
    },
    async start() {},
    async close() {
      const p = pool;
      pool = undefined;
      await p?.close();
    },
  };
}

export const openaiParserParameters = z.strictObject({
  maxModelNameBytes: positiveInt(DEFAULT_MAX_MODEL_NAME_BYTES),
  maxCacheSaltBytes: positiveInt(DEFAULT_MAX_CACHE_SALT_BYTES),
  offThreadBodyBytes: nonNegativeInt(DEFAULT_OFF_THREAD.bodyBytes),
  offThreadWorkers: z.number().int().positive().max(16).default(DEFAULT_OFF_THREAD.workers),
  offThreadQueue: positiveInt(DEFAULT_OFF_THREAD.queue),
  offThreadTimeout: duration('30s'),
  filterHeaders: filterHeaderTrustSchema.optional(),
});

export const openaiParserPlugin = definePlugin({
  type: OPENAI_PARSER_TYPE,
  parameters: openaiParserParameters,
  create(name, params): RequestParser & LifecyclePlugin & { readonly parameters: z.output<typeof openaiParserParameters> } {
    const offThread = { bodyBytes: params.offThreadBodyBytes, workers: params.offThreadWorkers, queue: params.offThreadQueue, timeoutMs: params.offThreadTimeout };
    const parseOptions = { maxModelNameBytes: params.maxModelNameBytes, maxCacheSaltBytes: params.maxCacheSaltBytes };
    return { ...createOpenAIParser(name, parseOptions, offThread, params.filterHeaders), parameters: params };
  },
});
