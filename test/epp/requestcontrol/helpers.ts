// The request path as the running EPP wires it (configuredDirector) over `n` ready static
// endpoints 10.0.0.1..n:8000 with fresh, empty metrics: for request-control tests that go from a
// config to decisions without the network.
import { Datastore } from '../../../epp/src/datastore/datastore.js';
import { staticEndpoints } from '../../../epp/src/datastore/static-endpoints.js';
import { EMPTY_METRICS } from '../../../epp/src/framework/endpoint.js';
import { loadEndpointPickerConfig } from '../../../epp/src/config/index.js';
import { builtinRegistry, configuredDirector } from '../../../epp/src/main.js';
import { silentLogger } from '../../../epp/src/observability/logger.js';
import { EppMetrics } from '../../../epp/src/observability/metrics.js';

export function requestPath(configYaml: string, n = 3) {
  const datastore = new Datastore();
  datastore.setEndpoints(staticEndpoints(Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 8000 }))));
  for (const c of datastore.candidates()) datastore.updateMetrics(c.endpoint.key, { ...EMPTY_METRICS, updatedAt: Date.now() });
  const logger = silentLogger();
  const metrics = new EppMetrics();
  const config = loadEndpointPickerConfig(configYaml, builtinRegistry(), { datastore, logger, random: Math.random, now: Date.now });
  return { director: configuredDirector(config, { datastore, metrics, logger }), metrics, datastore, config };
}
