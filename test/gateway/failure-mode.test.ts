// Unit: the pool's failure mode (gateway/failure-mode.ts) — what FailOpen and FailClose decide,
// what they count, the gateway's own round-robin pick and the routing headers it strips. No
// components started.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { parseEndpointAddressList } from '../../epp/src/protocol/index.js';
import { ExtProcFailure } from '../../gateway/extproc/call.js';
import { FailureModePolicy, stripRoutingHeaders } from '../../gateway/failure-mode.js';
import { RateLimitedWarn, silentLogger } from '../../gateway/log.js';
import { newGatewayStats, newRequestRecord } from '../../gateway/record.js';

const pool = parseEndpointAddressList('10.0.0.1:80,10.0.0.2:80,10.0.0.3:80').addresses;
const policy = (mode: 'FailOpen' | 'FailClose') => {
  const stats = newGatewayStats();
  return { stats, p: new FailureModePolicy(mode, pool, stats, new RateLimitedWarn(silentLogger())) };
};

describe('failure mode', () => {
  it('FailClose answers 503 with the reason and counts the failure', () => {
    const { stats, p } = policy('FailClose');
    const rec = newRequestRecord('POST', '/');
    const d = p.requestPhaseFailed(rec, new ExtProcFailure('timeout', 'no reply'));
    assert.equal(d.kind, 'fail-close');
    assert.equal(d.kind === 'fail-close' && d.reply.status, 503);
    assert.match(String(d.kind === 'fail-close' && d.reply.body), /endpoint picker unavailable \(FailClose\): no reply/);
    assert.equal(rec.eppFailure, 'timeout: no reply');
    assert.deepEqual([stats.eppFailures, stats.failClose, stats.failOpen], [1, 1, 0]);
    assert.equal(p.responseHeadersFailed(rec, new ExtProcFailure('stream', 'gone')).kind, 'fail-close');
    assert.deepEqual([stats.eppFailures, stats.failClose], [2, 1], 'a response-phase failure is not a request-phase FailClose');
  });

  it('FailOpen routes over the pool, rotating one step per request, and passes responses through', () => {
    const { stats, p } = policy('FailOpen');
    const rec = newRequestRecord('POST', '/');
    const d = p.requestPhaseFailed(rec, new ExtProcFailure('unavailable', 'down'));
    assert.deepEqual(d.kind === 'fail-open' && d.endpoints.map((e) => e.key), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
    assert.deepEqual(p.ownPick().map((e) => e.key), ['10.0.0.2:80', '10.0.0.3:80', '10.0.0.1:80']);
    assert.deepEqual(p.ownPick().map((e) => e.key), ['10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80']);
    assert.deepEqual([stats.eppFailures, stats.failOpen], [1, 1]);
    assert.equal(p.responseHeadersFailed(rec, new ExtProcFailure('protocol', 'odd')).kind, 'pass-through');
  });

  it('an empty pool picks nothing', () => {
    const p = new FailureModePolicy('FailOpen', [], newGatewayStats(), new RateLimitedWarn(silentLogger()));
    assert.deepEqual(p.ownPick(), []);
  });

  it('strips routing headers a client sent', () => {
    assert.deepEqual(
      stripRoutingHeaders([['x-gateway-destination-endpoint', '1.2.3.4:80'], ['x-gateway-destination-endpoint-served', 'x'], ['x-tokenroute-block-keys', 'k'], ['content-type', 'a']]),
      [['content-type', 'a']],
    );
  });
});
