// openai-parser: the default request parser (GIE's default `parser.pluginRef`). Reads OpenAI
// completions / chat completions / responses / embeddings / conversations bodies: the API from
// the request path (or the body's shape), `model`, `stream`, `cache_salt` and the prefix text the
// prefix-cache index hashes. See requestcontrol/parser.ts. No parameters.
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';
import { parseRequestBody, requestPath, type ParseOptions, type RequestParser } from '../parser.js';

export const OPENAI_PARSER_TYPE = 'openai-parser';

export function createOpenAIParser(name: string, options: ParseOptions = {}): RequestParser {
  return {
    type: OPENAI_PARSER_TYPE,
    name,
    parsesBody: true,
    parse(body, headers) {
      return parseRequestBody(body, requestPath(headers), options);
    },
  };
}

export const openaiParserPlugin = definePlugin({
  type: OPENAI_PARSER_TYPE,
  parameters: noParameters,
  create(name): RequestParser {
    return createOpenAIParser(name);
  },
});
