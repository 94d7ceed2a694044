// disagg-headers-handler — tells the decode endpoint's routing sidecar where the other stages run:
// x-prefiller-host-port = the prefill profile's first endpoint (`ip:port`, IPv6 bracketed), and
// x-encoder-hosts-ports = every endpoint the encode profile chose, comma-separated; a stage that
// did not run sets nothing (llm-d-inference-scheduler `pkg/plugins/pre-request/
// disagg_headers_handler.go`, v0.7.1; `prefill-header-handler` is its older name, accepted).
// A client's own copies of these headers are always removed (protocol/keys.ts isInternalHeader). The config
// loader adds this plugin when a disaggregating profile handler is configured without it, as
// llm-d-router now sets the headers without one.
// Parameters: prefillProfile ("prefill"), encodeProfile ("encode").
import { z } from 'zod';
import { setUpstreamHeader, type PreRequestPlugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { ENCODER_ENDPOINTS_HEADER, PREFILL_ENDPOINT_HEADER } from '../../protocol/keys.js';

export const DISAGG_HEADERS_HANDLER_TYPE = 'disagg-headers-handler';
export const PREFILL_HEADER_HANDLER_TYPE = 'prefill-header-handler';

export const disaggHeadersHandlerParameters = z.strictObject({
  prefillProfile: z.string().min(1).default('prefill'),
  encodeProfile: z.string().min(1).default('encode'),
});

export const disaggHeadersHandlerPlugin = definePlugin({
  type: DISAGG_HEADERS_HANDLER_TYPE,
  parameters: disaggHeadersHandlerParameters,
  create(name, params): PreRequestPlugin & { readonly parameters: z.output<typeof disaggHeadersHandlerParameters> } {
    return {
      type: DISAGG_HEADERS_HANDLER_TYPE,
      name,
      parameters: params,
      preRequest(_req, result, state) {
        if (result.primaryProfile !== params.prefillProfile) {
          const prefill = result.profileResults.get(params.prefillProfile)?.targets[0];
          if (prefill) setUpstreamHeader(state, PREFILL_ENDPOINT_HEADER, prefill.endpoint.key);
        }
        if (result.primaryProfile !== params.encodeProfile) {
          const encode = result.profileResults.get(params.encodeProfile)?.targets ?? [];
          if (encode.length > 0) setUpstreamHeader(state, ENCODER_ENDPOINTS_HEADER, encode.map((t) => t.endpoint.key).join(','));
        }
      },
    };
  },
});
