// Unit tests of the pod → endpoint rules (k8s/pool.ts): selector matching, GIE's readiness rule,
// the IP × targetPort fan-out, the unusable-pool checks and the --endpoint-selector /
// --endpoint-target-ports parsers. Pure functions; no API server.
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { InferencePool, Pod } from '../../../epp/src/k8s/api-types.js';
import {
  isPodRoutable,
  parseEndpointSelector,
  parseTargetPorts,
  podEndpoints,
  poolEndpoints,
  poolIssues,
  poolView,
  selectorMatches,
  type PoolView,
} from '../../../epp/src/k8s/pool.js';

function pod(name: string, o: { labels?: Record<string, string>; ip?: string; ready?: boolean; deleting?: boolean; ports?: number[] } = {}): Pod {
  return {
    metadata: { name, namespace: 'ns', labels: o.labels ?? { app: 'm' }, ...(o.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { containers: [{ name: 'c', ...(o.ports ? { ports: o.ports.map((containerPort) => ({ containerPort })) } : {}) }] },
    status: { ...(o.ip !== undefined ? { podIP: o.ip } : {}), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

const view: PoolView = { name: 'p', namespace: 'ns', selector: { app: 'm' }, targetPorts: [8000, 8001] };

function pool(spec: InferencePool['spec']): InferencePool {
  return { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: 'p', namespace: 'ns' }, spec };
}

describe('selector and readiness', () => {
  test('all selector labels must match; an empty selector matches nothing', () => {
    assert.equal(selectorMatches({ a: '1', b: '2' }, { a: '1', b: '2', c: '3' }), true);
    assert.equal(selectorMatches({ a: '1', b: '2' }, { a: '1' }), false);
    assert.equal(selectorMatches({ a: '' }, { a: '' }), true);
    assert.equal(selectorMatches({}, { a: '1' }), false);
    assert.equal(selectorMatches({ a: '1' }, undefined), false);
  });

  test('routable = Ready, not terminating, with an IP', () => {
    assert.equal(isPodRoutable(pod('a', { ip: '10.0.0.1' })), true);
    assert.equal(isPodRoutable(pod('a', { ip: '10.0.0.1', ready: false })), false);
    assert.equal(isPodRoutable(pod('a', {})), false, 'no IP');
    assert.equal(isPodRoutable(pod('a', { ip: '10.0.0.1', deleting: true })), false, 'terminating');
    assert.equal(isPodRoutable({ metadata: { name: 'x' }, status: { podIP: '10.0.0.1' } }), false, 'no Ready condition');
  });
});

describe('endpoints', () => {
  test('one endpoint per IP × target port, carrying pod name, namespace, labels and engine', () => {
    const eps = podEndpoints(pod('m-0', { ip: '10.0.0.7', labels: { app: 'm', 'inference.networking.k8s.io/engine-type': 'sglang' } }), view, 'vllm');
    assert.deepEqual(eps.map((e) => e.key), ['10.0.0.7:8000', '10.0.0.7:8001']);
    assert.equal(eps[1].podName, 'm-0');
    assert.equal(eps[1].namespace, 'ns');
    assert.equal(eps[1].engine, 'sglang');
    assert.equal(podEndpoints(pod('m-1', { ip: '10.0.0.8' }), view, '')[0].engine, '', 'unlabelled: the extractor default applies');
  });

  test('IPv6 pods get bracketed keys', () => {
    assert.deepEqual(podEndpoints(pod('v6', { ip: 'fd00::1' }), view, '').map((e) => e.key), ['[fd00::1]:8000', '[fd00::1]:8001']);
  });

  test('the pool keeps only matching routable pods, and a duplicated IP once', () => {
    const eps = poolEndpoints([pod('a', { ip: '10.0.0.1' }), pod('b', { ip: '10.0.0.1' }), pod('c', { ip: '10.0.0.2', ready: false }), pod('d', { ip: '10.0.0.3', labels: { app: 'x' } })], view, '');
    assert.deepEqual(eps.map((e) => `${e.podName}@${e.key}`), ['a@10.0.0.1:8000', 'a@10.0.0.1:8001']);
  });
});

describe('pool checks', () => {
  test('poolView drops invalid and duplicate ports and reports an unusable pool', () => {
    assert.deepEqual(poolView(pool({ selector: { matchLabels: { a: 'b' } }, targetPorts: [{ number: 80 }, { number: 80 }, { number: 0 }] })).view?.targetPorts, [80]);
    assert.deepEqual(poolView(pool({ selector: { matchLabels: {} }, targetPorts: [{ number: 80 }] })).issues.map((i) => i.reason), ['EmptySelector']);
    assert.deepEqual(poolView(pool({ selector: { matchLabels: { a: 'b' } }, targetPorts: [] })).issues.map((i) => i.reason), ['NoTargetPorts']);
  });

  test('issues: no matching pod, undeclared ports, missing / foreign / non-Service EPP ref', () => {
    const ref = { name: 'my-epp', port: { number: 9002 } };
    const reasons = (spec: InferencePool['spec'], pods: Pod[], svc?: string) => poolIssues(pool(spec), view, pods, { eppServiceName: svc }).map((i) => i.reason);
    assert.deepEqual(reasons({ endpointPickerRef: ref }, [], 'my-epp'), ['SelectorMatchesNoPods']);
    assert.deepEqual(reasons({ endpointPickerRef: ref }, [pod('a', { ip: '1.1.1.1', ports: [9999] })], 'my-epp'), ['TargetPortsNotDeclared']);
    assert.deepEqual(reasons({ endpointPickerRef: ref }, [pod('a', { ip: '1.1.1.1', ports: [8001] })], 'my-epp'), [], 'one target port declared is enough');
    assert.deepEqual(reasons({ endpointPickerRef: ref }, [pod('a', { ip: '1.1.1.1', ports: [9999] }), pod('b', { ip: '1.1.1.2' })], 'my-epp'), [], 'a pod declaring nothing may listen anywhere');
    assert.deepEqual(reasons({ endpointPickerRef: ref }, [pod('a', { ip: '1.1.1.1' })], 'other-epp'), ['EndpointPickerRefOtherEPP']);
    assert.deepEqual(reasons({ endpointPickerRef: ref }, [pod('a', { ip: '1.1.1.1' })]), [], 'own service unknown: no claim about it');
    assert.deepEqual(reasons({}, [pod('a', { ip: '1.1.1.1' })]), ['EndpointPickerRefMissing']);
    assert.deepEqual(reasons({ endpointPickerRef: { name: 'x', kind: 'Backend', group: 'example.com' } }, [pod('a', { ip: '1.1.1.1' })]), ['EndpointPickerRefNotService']);
  });
});

describe('standalone-with-Kubernetes flags', () => {
  test('--endpoint-selector takes k=v / k==v pairs', () => {
    assert.deepEqual(parseEndpointSelector('app=vllm, tier==gpu,empty='), { app: 'vllm', tier: 'gpu', empty: '' });
    assert.throws(() => parseEndpointSelector('app!=vllm'), /not key=value/);
    assert.throws(() => parseEndpointSelector('app in (a,b)'), /not key=value/);
    assert.throws(() => parseEndpointSelector(' , '), /no key=value/);
  });

  test('--endpoint-target-ports takes 1-8 distinct ports', () => {
    assert.deepEqual(parseTargetPorts('8000,8001'), [8000, 8001]);
    assert.throws(() => parseTargetPorts('8000,8000'), /twice/);
    assert.throws(() => parseTargetPorts('0'), /1-65535/);
    assert.throws(() => parseTargetPorts('1,2,3,4,5,6,7,8,9'), /1 to 8/);
    assert.throws(() => parseTargetPorts('http'), /not a port/);
  });
});
