// request-metrics (built in, always on): GIE's per-request metrics under their names
// (`pkg/epp/metrics/metrics.go`, v1.5.0): inference_objective_request_total, _request_sizes,
// _running_requests when routed; _request_duration_seconds and _response_sizes for a complete
// 2xx response; _request_error_total with the upstream status otherwise. Bodiless requests are
// not counted, as in GIE; requests whose body is opaque (passthrough-parser) are, with empty model
// labels, as GIE counts them. The usage the model server reports at the end of the response
// (requestcontrol/usage.ts: non-streaming JSON or the final SSE event, from a bounded tail, never
// buffering the response) fills _input_tokens, _output_tokens, _prompt_cached_tokens and
// _normalized_time_per_output_token_seconds, as GIE's HandleResponseBody does
// (`pkg/epp/handlers/response.go`, v1.5.0).
import { stateKey } from '../../framework/cycle-state.js';
import {
  RESPONSE_USAGE,
  type RequestOutcome,
  type RequestRoutedPlugin,
  type ResponseCompletePlugin,
  type ResponseReceivedPlugin,
  type ResponseStreamingPlugin,
  type RoutedRequest,
} from '../../framework/request-lifecycle.js';
import type { EppMetrics } from '../../observability/metrics.js';
import { UsageTail } from '../usage.js';

export const REQUEST_METRICS_TYPE = 'request-metrics';

interface ResponseTally {
  status: string;
  bytes: number;
  /** The response's last bytes, where the usage is (bounded). */
  tail: UsageTail | undefined;
}
const TALLY = stateKey<ResponseTally>('request-metrics.response');

export class RequestMetrics implements RequestRoutedPlugin, ResponseReceivedPlugin, ResponseStreamingPlugin, ResponseCompletePlugin {
  readonly type = REQUEST_METRICS_TYPE;
  readonly name = REQUEST_METRICS_TYPE;

  constructor(
    private readonly metrics: EppMetrics,
    private readonly now: () => number,
  ) {}

  requestRouted(req: RoutedRequest): void {
    req.state.write(TALLY, { status: '', bytes: 0, tail: undefined });
    if (!req.hasBody) return;
    const labels = this.labels(req);
    this.metrics.requestTotal.inc({ ...labels, priority: String(req.priority) });
    this.metrics.requestSizes.observe(labels, req.requestBytes);
    this.metrics.runningRequests.inc({ model_name: labels.model_name });
  }

  responseReceived(req: RoutedRequest, headers: ReadonlyMap<string, string>): void {
    const tally = req.state.read(TALLY);
    if (tally) tally.status = headers.get(':status') ?? headers.get('status') ?? '';
  }

  /** Counts the bytes as the model server sent them (before any restore rewrites them). */
  responseStreaming(req: RoutedRequest, chunk: Buffer, endOfStream: boolean): Buffer {
    const tally = req.state.read(TALLY);
    if (tally) {
      tally.bytes += chunk.length;
      if (req.hasBody) (tally.tail ??= new UsageTail()).push(chunk);
      // The usage is final with the last chunk: parsed once, shared with the other plugins.
      const usage = endOfStream ? tally.tail?.usage() : undefined;
      if (usage) req.state.write(RESPONSE_USAGE, usage);
    }
    return chunk;
  }

  responseComplete(req: RoutedRequest, outcome: RequestOutcome): void {
    if (!req.hasBody) return;
    const tally = req.state.read(TALLY) ?? { status: '', bytes: 0, tail: undefined };
    const labels = this.labels(req);
    this.metrics.runningRequests.dec({ model_name: labels.model_name });
    const ok = tally.status === '' || tally.status.startsWith('2');
    if (outcome === 'complete' && ok) {
      const seconds = (this.now() - req.routedAt) / 1000;
      this.metrics.requestDuration.observe(labels, seconds);
      this.metrics.responseSizes.observe(labels, tally.bytes);
      // A response that ended with trailers had no last chunk: its usage is read here.
      const usage = req.state.read(RESPONSE_USAGE) ?? tally.tail?.usage();
      if (usage) {
        if (usage.promptTokens > 0) this.metrics.inputTokens.observe(labels, usage.promptTokens);
        if (usage.completionTokens > 0) {
          this.metrics.outputTokens.observe(labels, usage.completionTokens);
          this.metrics.normalizedTimePerOutputToken.observe(labels, seconds / usage.completionTokens);
        }
        if (usage.cachedTokens !== undefined) this.metrics.promptCachedTokens.observe(labels, usage.cachedTokens);
      }
    } else if (!ok) {
      this.metrics.requestErrorTotal.inc({ ...labels, error_code: this.metrics.errorCodeLabel(tally.status) });
    }
  }

  /** The model labels, bounded (a client chooses the model name). */
  private labels(req: RoutedRequest): { model_name: string; target_model_name: string } {
    return { model_name: this.metrics.modelLabel(req.incomingModel), target_model_name: this.metrics.modelLabel(req.targetModel) };
  }
}
