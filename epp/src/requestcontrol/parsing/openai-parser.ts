// openai-parser: the default request parser (GIE's default `parser.pluginRef`). Reads OpenAI
// completions / chat completions / responses / embeddings / conversations bodies: the API from
// the request path (or the body's shape), `model`, `stream`, `cache_salt` and the prefix text the
// prefix-cache index hashes. See requestcontrol/parser.ts. GIE's parser has no parameters;
// tokenroute's bound the fields it copies into labels, logs and key seeds: maxModelNameBytes
// (1024) and maxCacheSaltBytes (1024); a longer value is a 400 (TR_ERR_REQUEST_FIELD_TOO_LONG).
import { z } from 'zod';
import { definePlugin } from '../../framework/registry.js';
import { positiveInt } from '../../framework/params.js';
import { DEFAULT_MAX_CACHE_SALT_BYTES, DEFAULT_MAX_MODEL_NAME_BYTES, parseRequestBody, requestPath, type ParseOptions, type RequestParser } from '../parser.js';

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

export const openaiParserParameters = z.strictObject({
  maxModelNameBytes: positiveInt(DEFAULT_MAX_MODEL_NAME_BYTES),
  maxCacheSaltBytes: positiveInt(DEFAULT_MAX_CACHE_SALT_BYTES),
});

export const openaiParserPlugin = definePlugin({
  type: OPENAI_PARSER_TYPE,
  parameters: openaiParserParameters,
  create(name, params): RequestParser & { readonly parameters: z.output<typeof openaiParserParameters> } {
    return { ...createOpenAIParser(name, params), parameters: params };
  },
});
