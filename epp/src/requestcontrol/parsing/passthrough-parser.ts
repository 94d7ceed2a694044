// passthrough-parser: a request parser that does not read the body (GIE v1.5.0
// requesthandling/parsers/passthrough). Use it for non-OpenAI payloads: the request is scheduled
// with no model name and no prefix text (so prefix and LoRA scorers have nothing to go on) and
// the body is forwarded unchanged. No parameters.
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';
import type { RequestParser } from '../parser.js';

export const PASSTHROUGH_PARSER_TYPE = 'passthrough-parser';

export function createPassthroughParser(name: string): RequestParser {
  return {
    type: PASSTHROUGH_PARSER_TYPE,
    name,
    parsesBody: false,
    parse() {
      return { ok: true, body: { kind: 'unknown', model: '', prefixText: '', stream: false, json: {} } };
    },
  };
}

export const passthroughParserPlugin = definePlugin({
  type: PASSTHROUGH_PARSER_TYPE,
  parameters: noParameters,
  create(name): RequestParser {
    return createPassthroughParser(name);
  },
});
