// Unit test of data-layer plugin registration.
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { registerDataLayerPlugins } from '../../../../epp/src/datalayer/plugins/index.js';
import { PluginRegistry } from '../../../../epp/src/framework/registry.js';

test('registerDataLayerPlugins registers both GIE data-layer types and llm-d-router\'s notification source, once', () => {
  const r = registerDataLayerPlugins(new PluginRegistry());
  assert.deepEqual(r.typeNames(), ['core-metrics-extractor', 'endpoint-notification-source', 'metrics-data-source']);
  assert.throws(() => registerDataLayerPlugins(r), /registered twice/);
});
