// `endpoint-notification-source`: llm-d-router's data-layer source that tells its extractors when
// pool endpoints come and go (its precise prefix producer subscribes to each new pod's KV-event
// socket through it). tokenroute's plugins follow the pool directly (PoolView 'endpoints' events:
// the precise producer/scorer dials and drops pods itself), so this source has nothing to do; it
// is a type of its own so llm-d-router configs that list it, with their extractors, load
// unchanged. No parameters.
import type { Plugin } from '../../framework/plugins.js';
import { definePlugin } from '../../framework/registry.js';
import { noParameters } from '../../framework/params.js';

export const ENDPOINT_NOTIFICATION_SOURCE = 'endpoint-notification-source';

export const endpointNotificationSource = definePlugin({
  type: ENDPOINT_NOTIFICATION_SOURCE,
  parameters: noParameters,
  create(name, _params, ctx): Plugin {
    ctx.logger.debug({ plugin: name }, 'endpoint-notification-source: tokenroute plugins follow the pool themselves; nothing to do');
    return { type: ENDPOINT_NOTIFICATION_SOURCE, name };
  },
});
