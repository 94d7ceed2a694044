// Why the filter could not produce block keys for a request. Each kind has a counter
// (tokenroute_errors_<name>_total) and is sent to the EPP as x-tokenroute-error in passthrough mode.

export const enum ErrorKind {
  None = 0,
  /** The body exceeded maxBodyBytes. */
  TooLarge = 1,
  /** Not parseable as JSON (syntax, nesting deeper than the limit, empty body). */
  BadJson = 2,
  /** Ill-formed UTF-8 in the body or a lone surrogate in a \u escape. */
  InvalidUtf8 = 3,
  /** Valid JSON of the wrong shape (a field of the wrong type, no prompt/messages...). */
  BadRequest = 4,
  /** The `model` is not in the filter's configuration. */
  UnknownModel = 5,
  /** The tokenizer or template failed unexpectedly. */
  Internal = 6,
}

export const ERROR_KIND_COUNT = 7;

export function errorName(kind: ErrorKind): string {
  switch (kind) {
    case ErrorKind.TooLarge:
      return 'too_large';
    case ErrorKind.BadJson:
      return 'bad_json';
    case ErrorKind.InvalidUtf8:
      return 'invalid_utf8';
    case ErrorKind.BadRequest:
      return 'bad_request';
    case ErrorKind.UnknownModel:
      return 'unknown_model';
    case ErrorKind.Internal:
      return 'internal';
    default:
      return 'none';
  }
}

/**
 * The error catalogue's code for a kind the filter answers itself (onError: reject): the EPP's
 * epp/src/framework/error-catalogue.ts defines the same codes (area filter) with their statuses
 * (this AssemblyScript cannot import it); test/filter/filter/error-codes.test.ts keeps them equal.
 */
export function errorCode(kind: ErrorKind): string {
  switch (kind) {
    case ErrorKind.TooLarge:
      return 'TR_ERR_FILTER_BODY_TOO_LARGE';
    case ErrorKind.BadJson:
      return 'TR_ERR_FILTER_BODY_INVALID_JSON';
    case ErrorKind.InvalidUtf8:
      return 'TR_ERR_FILTER_BODY_INVALID_UTF8';
    case ErrorKind.BadRequest:
      return 'TR_ERR_FILTER_REQUEST_INVALID';
    case ErrorKind.UnknownModel:
      return 'TR_ERR_FILTER_UNKNOWN_MODEL';
    default:
      return 'TR_ERR_FILTER_INTERNAL';
  }
}

/** The HTTP status of the filter's local reply for a kind: the client's fault is 4xx, ours 500. */
export function errorStatus(kind: ErrorKind): u32 {
  if (kind == ErrorKind.TooLarge) return 413;
  if (kind == ErrorKind.Internal) return 500;
  return 400;
}
