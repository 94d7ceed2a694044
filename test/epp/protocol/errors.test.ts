// RejectDecision → ImmediateResponse mapping: GIE's code names and body text, content type,
// details, and that the status survives Envoy's HttpStatus enum encoding.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { GIE_ERROR_CODES, immediateResponseFor, inferenceErrorText, rejectResponse } from '../../../epp/src/protocol/errors.js';
import { extProcServiceDefinition, httpStatusNumber } from '../../../epp/src/protocol/proto.js';
import type { ProcessingResponse } from '../../../epp/src/protocol/types.js';
import { setHeadersOf } from '../extproc/harness.js';

describe('rejections as ImmediateResponse', () => {
  it('uses GIE code names for every status', () => {
    assert.deepEqual(GIE_ERROR_CODES, {
      400: 'BadRequest',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'NotFound',
      429: 'ResourceExhausted',
      500: 'Internal',
      503: 'ServiceUnavailable',
    });
    assert.equal(inferenceErrorText(429, 'pool saturated'), 'inference error: ResourceExhausted - pool saturated');
  });

  it('builds status, text/plain body and details that survive the wire', () => {
    const process = extProcServiceDefinition().Process;
    for (const status of [400, 401, 403, 404, 429, 500, 503] as const) {
      const resp = rejectResponse({ kind: 'reject', status, message: 'why', code: 'TR_ERR_REQUEST_NO_TARGET' });
      const back = process.responseDeserialize(process.responseSerialize(resp)) as ProcessingResponse;
      const ir = back.immediate_response!;
      assert.equal(httpStatusNumber(ir.status.code), status);
      assert.equal(Buffer.from(ir.body!).toString(), `inference error: ${GIE_ERROR_CODES[status]} - why`);
      assert.equal(setHeadersOf(ir.headers).get('content-type'), 'text/plain');
      assert.equal(setHeadersOf(ir.headers).get('x-tokenroute-error-code'), 'TR_ERR_REQUEST_NO_TARGET');
      assert.equal(ir.details, `tokenroute_inference_error_${GIE_ERROR_CODES[status]}`);
      assert.doesNotMatch(ir.details!, /\s/);
    }
  });

  it('encodes headers in the value field when the proxy uses it', () => {
    const ir = immediateResponseFor(503, 'x', 'TR_ERR_REQUEST_NO_CANDIDATES', 'value');
    assert.deepEqual(ir.headers?.set_headers?.[0].header, { key: 'content-type', value: 'text/plain' });
  });
});
