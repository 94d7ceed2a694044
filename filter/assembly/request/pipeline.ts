// A request body → the prompt the model server will see → token ids → chained block keys, as one
// pure function (no proxy-wasm ABI calls): the filter (./http_context.ts, in Envoy) and the standalone
// core (../standalone.ts `requestKeys`, used by the EPP's tokenizer workers) both call it, so the
// EPP computes exactly the filter's keys, exact flag and error kind for the same request.
import { FilterConfig } from './config';
import { TokenBuffer } from '../tokenizer/index';
import { ErrorKind } from './errors';
import { Endpoint, readRequest } from './openai';
import { computeBlockKeys, tokenizePrompt } from './tokenize';

export class BodyResult {
  /** ErrorKind.None when keys were computed. */
  error: ErrorKind = ErrorKind.None;
  /** What went wrong (for logs), when error is set. */
  detail: string = '';
  /** The body's `model` once read (success and UnknownModel); "" before. */
  model: string = '';
  /** The token ids in `tokens` are exactly the server's. */
  exact: bool = false;
  /** Prompt tokens: tokens.length, or more when tokenizing stopped at a limit (then estimated). */
  tokens: i32 = 0;
  /** `tokens` is an estimate: tokenizing stopped at the caller's limit. */
  tokensEstimated: bool = false;
  /** Keys written to `keys`. */
  count: i32 = 0;

  static fail(kind: ErrorKind, detail: string, model: string): BodyResult {
    const r = new BodyResult();
    r.error = kind;
    r.detail = detail;
    r.model = model;
    return r;
  }
}

/**
 * Reads `body` as a request to `endpoint` with `cfg`'s models, tokenizes its prompt into `tokens`
 * (cleared first) and writes its chained block keys into `keys` (at most min(cfg.maxBlocks,
 * keys.length)). Never throws. cfg.maxBodyBytes is the callers' to enforce (the filter while the
 * body streams in, the core before calling). `tokenLimit`: tokenizing may stop once this many ids
 * are out (at a word boundary; the ids so far exact) — the EPP's fallback tokenizer, whose index
 * uses the first blocks only; the count of the rest is then estimated. The filter never stops: it
 * sends the exact count.
 */
export function processBody(endpoint: Endpoint, body: Uint8Array, cfg: FilterConfig, tokens: TokenBuffer, keys: StaticArray<u64>, tokenLimit: i32 = i32.MAX_VALUE): BodyResult {
  tokens.clear();
  const read = readRequest(endpoint, body);
  const req = read.request;
  if (req === null) return BodyResult.fail(read.error, read.detail, '');
  if (!cfg.models.has(req.model)) return BodyResult.fail(ErrorKind.UnknownModel, 'model not configured', req.model);
  const model = cfg.models.get(req.model);
  const r = new BodyResult();
  r.model = req.model;
  tokens.limit = tokenLimit;
  r.exact = tokenizePrompt(req, model.binding, tokens);
  tokens.limit = i32.MAX_VALUE;
  r.tokens = tokens.length + tokens.restEstimate;
  r.tokensEstimated = tokens.stopped;
  r.count = computeBlockKeys(tokens, cfg.blockSize, cfg.maxBlocks, model.seedModel, model.lora, req.cacheSalt, keys);
  return r;
}
