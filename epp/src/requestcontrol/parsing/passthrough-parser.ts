// passthrough-parser: a request parser that does not read the body (GIE v1.5.0
// requesthandling/parsers/passthrough). Use it for non-OpenAI payloads: the request is scheduled
// with no model name and no prefix text (so prefix and LoRA scorers have nothing to go on) and
// the body is forwarded unchanged. No parameters.
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';
import type { ContentStats } from '../../framework/request.js';
import type { RequestParser } from '../parser.js';

const NO_CONTENT: ContentStats = { textChars: 0, mediaBlocks: 0 };

export const PASSTHROUGH_PARSER_TYPE = 'passthrough-parser';

export function createPassthroughParser(name: string): RequestParser {
  return {
    type: PASSTHROUGH_PARSER_TYPE,
    name,
    parsesBody: false,
    parse(body) {
      return {
        ok: true,
        body: {
          kind: 'unknown',
          model: '',
          prefixText: '',
          prefixLength: 0,
          prefixHead: () => '',
          stream: false,
          content: NO_CONTENT,
          json: {},
          // Opaque bytes have no model field: the body is forwarded as it came.
          withModel: () => body,
        },
      };
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
