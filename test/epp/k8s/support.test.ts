// Unit tests of the Kubernetes support code: API error descriptions (a 403 names the missing
// permission), the issue reporter (logged once when it appears and once when it clears, a gauge
// while it lasts), lease naming and timing validation, and the CLI's Kubernetes flags.
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ApiException } from '@kubernetes/client-node';
import { classify, describeApiError } from '../../../epp/src/k8s/client.js';
import { IssueReporter } from '../../../epp/src/k8s/issues.js';
import { K8sMetrics } from '../../../epp/src/k8s/metrics.js';
import { leaseNameForPool, validateLeaseTiming } from '../../../epp/src/k8s/leader-election.js';
import { eppCommand } from '../../../cli/epp-command.js';
import type { EppOptions } from '../../../epp/src/main.js';
import { captureLogger } from '../datalayer/helpers.js';

describe('API errors', () => {
  test('403 names verb, resource, group and namespace', () => {
    const err = new ApiException(403, 'Forbidden', JSON.stringify({ message: 'pods is forbidden: User "u" cannot list resource "pods"' }), {});
    assert.equal(classify(err), 'forbidden');
    const msg = describeApiError(err, { verb: 'list', resource: 'pods', group: '', namespace: 'ns' });
    assert.match(msg, /^RBAC: missing permission "list" on "pods" in API group "" in namespace "ns"/);
    assert.match(msg, /cannot list resource/);
  });

  test('404 on a custom resource points at the CRD; network errors are "unavailable"', () => {
    const msg = describeApiError(new ApiException(404, 'NotFound', '{}', {}), { verb: 'list', resource: 'inferencepools', group: 'inference.networking.k8s.io' });
    assert.match(msg, /inferencepools\.inference\.networking\.k8s\.io" not found \(is its CRD installed/);
    assert.equal(classify(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'unavailable');
    assert.equal(classify(Object.assign(new Error('Gone'), { statusCode: 410 })), 'gone');
    assert.equal(classify(new ApiException(409, 'Conflict', '{}', {})), 'conflict');
  });
});

describe('IssueReporter', () => {
  test('logs an issue once when it appears and once when it clears; the gauge follows', async () => {
    const { logger, lines } = captureLogger('info');
    const registry = new Registry();
    const r = new IssueReporter(logger, new K8sMetrics(registry));
    for (let i = 0; i < 5; i++) r.set('InferencePool', 'ns/p', [{ reason: 'SelectorMatchesNoPods', message: 'none' }]);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    assert.match(await registry.metrics(), /tokenroute_k8s_resource_issues\{kind="InferencePool",name="ns\/p",reason="SelectorMatchesNoPods"\} 1/);
    r.set('InferencePool', 'ns/p', []);
    r.set('InferencePool', 'ns/p', []);
    assert.equal(lines.filter((l) => l.level === 'info' && /resolved/.test(String(l.msg))).length, 1);
    assert.doesNotMatch(await registry.metrics(), /SelectorMatchesNoPods/);
  });

  test('retain() clears issues of objects that are gone', () => {
    const { logger } = captureLogger('info');
    const r = new IssueReporter(logger, new K8sMetrics(new Registry()));
    r.set('InferenceObjective', 'ns/a', [{ reason: 'PoolRefMismatch', message: 'x' }]);
    r.set('InferenceObjective', 'ns/b', [{ reason: 'PoolRefMismatch', message: 'x' }]);
    r.set('InferencePool', 'ns/p', [{ reason: 'NotFound', message: 'x' }]);
    r.retain('InferenceObjective', new Set(['ns/b']));
    assert.deepEqual(r.list().map((i) => i.name).sort(), ['ns/b', 'ns/p']);
  });

  test('two K8sMetrics on one registry share the series (no duplicate registration)', () => {
    const registry = new Registry();
    assert.equal(new K8sMetrics(registry).watchErrors, new K8sMetrics(registry).watchErrors);
  });
});

describe('leader election settings', () => {
  test('the lease is named as GIE names it', () => {
    assert.equal(leaseNameForPool('prod', 'llama'), 'epp-prod-llama.gateway-api-inference-extension.sigs.k8s.io');
  });

  test('renew deadline + retry period must fit in the lease duration', () => {
    validateLeaseTiming(15_000, 10_000, 2_000);
    validateLeaseTiming(2_000, 1_500, 250);
    assert.throws(() => validateLeaseTiming(15_000, 14_000, 2_000), /must not exceed the lease duration/);
    assert.throws(() => validateLeaseTiming(0, 0, 0), /positive/);
  });
});

describe('CLI flags of Kubernetes mode', () => {
  async function parse(args: string[]): Promise<EppOptions> {
    let got: EppOptions | undefined;
    const cmd = eppCommand(async (o) => {
      got = o;
    }).exitOverride();
    cmd.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    await cmd.parseAsync(args, { from: 'user' });
    return got!;
  }

  test('pool mode with leader election and lease timing', async () => {
    const o = await parse(['--pool-name', 'p', '--pool-namespace', 'ns', '--kubeconfig', '/k', '--ha-enable-leader-election', '--leader-election-lease-duration', '4s', '--leader-election-renew-deadline', '3s', '--leader-election-retry-period', '500ms', '--endpoint-picker-service', 'svc']);
    assert.equal(o.poolName, 'p');
    assert.deepEqual(o.kubernetes, {
      poolGroup: 'inference.networking.k8s.io',
      endpointSelector: undefined,
      endpointTargetPorts: undefined,
      kubeconfigPath: '/k',
      leaderElection: true,
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 500,
      eppServiceName: 'svc',
    });
  });

  test('defaults: election off, GIE timings', async () => {
    const o = await parse(['--pool-name', 'p']);
    assert.equal(o.kubernetes?.leaderElection, false);
    assert.deepEqual([o.kubernetes?.leaseDurationMs, o.kubernetes?.renewDeadlineMs, o.kubernetes?.retryPeriodMs], [15_000, 10_000, 2_000]);
  });

  test('--endpoint-selector mode, and its conflicts', async () => {
    const o = await parse(['--endpoint-selector', 'app=vllm', '--endpoint-target-ports', '8000,8001']);
    assert.deepEqual(o.kubernetes?.endpointSelector, { app: 'vllm' });
    assert.deepEqual(o.kubernetes?.endpointTargetPorts, [8000, 8001]);
    await assert.rejects(parse(['--endpoint-selector', 'app=vllm', '--pool-name', 'p']), /cannot be used with/);
    await assert.rejects(parse(['--endpoint-selector', 'app in (x)']), /not key=value/);
  });
});
