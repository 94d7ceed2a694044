// A request read from the edge filter's verified x-tokenroute-* headers instead of its body
// (issue 13): the filter already read the body inside Envoy — model, exact token count, prefix
// digest — so the EPP can decide at the request's headers and let the body stream through unread,
// and its cost no longer grows with the prompt. The API comes from the path; a request whose path
// names none, or whose headers do not verify, is read from its body as before.
import type { ApiKind, ContentStats, ParsedBody } from '../../framework/request.js';
import type { FilterHeaderVerifier } from '../../prefix/keys/filter-headers.js';
import { apiKindFromPath, requestPath, type ParseResult } from '../parser.js';

const NO_CONTENT: ContentStats = { textChars: 0, mediaBlocks: 0 };

/**
 * What a decision at the headers knows. No prefix text (prefix plugins read the filter's keys),
 * no content counts, no parsed JSON: plugins that need them are not for filter-fronted routes
 * with header decisions on (docs/configuration.md "openai-parser").
 */
class HeaderBody implements ParsedBody {
  readonly prefixText = '';
  readonly prefixLength = 0;
  readonly stream = false;
  readonly content = NO_CONTENT;
  readonly json: Record<string, unknown> = {};

  constructor(
    readonly kind: ApiKind,
    readonly model: string,
  ) {}

  prefixHead(): string {
    return '';
  }

  withModel(): Buffer {
    // The director never rewrites a request decided at its headers (it waits for the body instead).
    throw new Error('a request decided at its headers has no body to rewrite');
  }
}

/** The request from verified filter headers, or undefined when its body must be read. */
export function parseFilterHeaders(headers: ReadonlyMap<string, string>, verifier: FilterHeaderVerifier, maxModelNameBytes: number): ParseResult | undefined {
  const kind = apiKindFromPath(requestPath(headers));
  if (kind === undefined) return undefined;
  const v = verifier.verdict(headers);
  if (!v.ok) return undefined;
  const model = v.value.model;
  if (model === '' || Buffer.byteLength(model) > maxModelNameBytes) return undefined;
  return { ok: true, body: new HeaderBody(kind, model) };
}
