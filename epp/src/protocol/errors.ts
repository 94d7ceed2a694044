// Rejections → ImmediateResponse, the way GIE's EPP answers them (pkg/common/error): the HTTP
// status from the decision, a text/plain body `inference error: <Code> - <message>` with GIE's
// code names, so clients, dashboards and conformance tests see the same thing from either EPP.
import { GIE_ERROR_CODES, type RejectDecision, type RejectStatus } from '../framework/request-controller.js';

export { GIE_ERROR_CODES };
import { buildHeaderMutation, type HeaderValueField } from './headers.js';
import type { ImmediateResponse, ProcessingResponse } from './types.js';

/** Response header naming the catalogue code of a rejection (docs/errors.md). */
export const ERROR_CODE_HEADER = 'x-tokenroute-error-code';

/** GIE's error text: `inference error: <Code> - <message>`. */
export function inferenceErrorText(status: RejectStatus, message: string): string {
  return `inference error: ${GIE_ERROR_CODES[status]} - ${message}`;
}

/**
 * The ImmediateResponse for a rejection. `details` (Envoy's %RESPONSE_CODE_DETAILS%) gets a short
 * token without spaces so access logs can tell EPP rejections apart from proxy-local errors.
 */
export function immediateResponseFor(
  status: RejectStatus,
  message: string,
  code: string,
  field: HeaderValueField = 'raw_value',
  extraHeaders?: ReadonlyMap<string, string>,
): ImmediateResponse {
  const headers: [string, string][] = [['content-type', 'text/plain'], [ERROR_CODE_HEADER, code]];
  if (extraHeaders) for (const h of extraHeaders) headers.push(h);
  return {
    status: { code: status },
    headers: buildHeaderMutation(headers, [], field),
    body: Buffer.from(inferenceErrorText(status, message), 'utf8'),
    details: `tokenroute_inference_error_${GIE_ERROR_CODES[status]}`,
  };
}

/** A full ProcessingResponse carrying the ImmediateResponse for `decision`. */
export function rejectResponse(decision: RejectDecision, field: HeaderValueField = 'raw_value'): ProcessingResponse {
  return { immediate_response: immediateResponseFor(decision.status, decision.message, decision.code, field, decision.headers) };
}
