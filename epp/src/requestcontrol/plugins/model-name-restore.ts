// model-name-restore (built in, always on): when an InferenceModelRewrite sent the request to
// another model, the response names that model; clients must see the name they asked for, as
// with GIE (`pkg/epp/requestcontrol/director.go`, v1.5.0, which restores the model field). The
// rewrite happens chunk by chunk without buffering the stream (ModelNameRestorer).
import { stateKey } from '../../framework/cycle-state.js';
import type { RequestRoutedPlugin, ResponseStreamingPlugin, RoutedRequest } from '../../framework/request-lifecycle.js';
import { ModelNameRestorer } from '../model-restore.js';

export const MODEL_NAME_RESTORE_TYPE = 'model-name-restore';

const RESTORER = stateKey<ModelNameRestorer>('model-name-restore.restorer');

export class ModelNameRestore implements RequestRoutedPlugin, ResponseStreamingPlugin {
  readonly type = MODEL_NAME_RESTORE_TYPE;
  readonly name = MODEL_NAME_RESTORE_TYPE;

  requestRouted(req: RoutedRequest): void {
    if (req.incomingModel && req.targetModel !== req.incomingModel) req.state.write(RESTORER, new ModelNameRestorer(req.targetModel, req.incomingModel));
  }

  responseStreaming(req: RoutedRequest, chunk: Buffer, endOfStream: boolean): Buffer {
    const restorer = req.state.read(RESTORER);
    return restorer ? restorer.push(chunk, endOfStream) : chunk;
  }
}
