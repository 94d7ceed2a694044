// session-affinity-filter and the session token both session plugins share: the filter keeps only
// the session's endpoint when it is a candidate and lets every candidate through otherwise; the
// header name is configurable (normalised, validated); with `profileName` the response names that
// profile's target (e.g. the prefill endpoint), and nothing when the profile did not run.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Datastore } from '../../../../epp/src/datastore/datastore.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';
import type { Filter, SchedulingResult } from '../../../../epp/src/framework/plugins.js';
import type { RoutedRequest } from '../../../../epp/src/framework/request-lifecycle.js';
import { sessionAffinityFilterPlugin } from '../../../../epp/src/scheduling/plugins/session-affinity-filter.js';
import { sessionAffinityScorerPlugin } from '../../../../epp/src/scheduling/plugins/session-affinity-scorer.js';
import type { SessionTokenWriter } from '../../../../epp/src/scheduling/session/token.js';
import { candidates, context, make, request, scores } from '../helpers.js';

const token = (pod: string) => Buffer.from(pod).toString('base64');

describe('session-affinity-filter', () => {
  const cands = candidates([{ podName: 'a' }, { podName: 'b' }, { podName: 'c' }]);

  it('keeps only the session endpoint when it is a candidate', () => {
    const f = make<Filter>(sessionAffinityFilterPlugin);
    const kept = f.filter(request({ headers: new Map([['x-session-token', token('default/b')]]) }), cands, new RequestState());
    assert.deepEqual(kept.map((c) => c.endpoint.podName), ['b']);
  });

  it('lets every candidate through without a usable token', () => {
    const f = make<Filter>(sessionAffinityFilterPlugin);
    for (const headers of [new Map(), new Map([['x-session-token', token('default/gone')]]), new Map([['x-session-token', 'x'.repeat(2000)]]), new Map([['x-session-token', token('other-ns/b')]])]) {
      assert.equal(f.filter(request({ headers }), cands, new RequestState()).length, 3);
    }
  });

  it('reads the configured header (trimmed, lower-cased) and ignores the default one', () => {
    const f = make<Filter>(sessionAffinityFilterPlugin, { headerName: ' X-Conversation-Pin ' });
    assert.deepEqual(f.filter(request({ headers: new Map([['x-conversation-pin', token('default/c')]]) }), cands, new RequestState()).map((c) => c.endpoint.podName), ['c']);
    assert.equal(f.filter(request({ headers: new Map([['x-session-token', token('default/c')]]) }), cands, new RequestState()).length, 3);
  });

  it('refuses a header name that is not one', () => {
    assert.throws(() => make(sessionAffinityFilterPlugin, { headerName: 'two words' }), /HTTP header name/);
    assert.throws(() => make(sessionAffinityScorerPlugin, { profileName: 3 }));
  });
});

describe('session token on the response', () => {
  function setup(params: Record<string, unknown>) {
    const datastore = new Datastore();
    const ctx = { ...context(), datastore };
    const [decode, prefill] = candidates([{ podName: 'decode-0', key: '10.9.0.1:8000' }, { podName: 'prefill-0', key: '10.9.0.2:8000' }]);
    for (const c of [decode, prefill]) datastore.upsertEndpoint(c.endpoint);
    const plugin = make<SessionTokenWriter>(sessionAffinityScorerPlugin, params, ctx);
    const state = new RequestState();
    const routed: RoutedRequest = { requestId: 'r', incomingModel: 'm', hasBody: true, targetModel: 'm', priority: 0, fairnessId: 'default-flow', inflightTokens: 1, requestBytes: 10, endpoint: decode.endpoint.key, routedAt: 0, state };
    const result = (withPrefill: boolean): SchedulingResult => ({
      primaryProfile: 'decode',
      profileResults: new Map([['decode', { targets: [decode] }], ...(withPrefill ? [['prefill', { targets: [prefill] }] as const] : [])]),
    });
    return { plugin, state, routed, result, decode, prefill };
  }

  it('names the endpoint that served by default (after a fallback too)', () => {
    const { plugin, routed, prefill } = setup({});
    assert.equal(plugin.responseReceived(routed, new Map())?.get('x-session-token'), token('default/decode-0'));
    plugin.endpointServed(routed, prefill.endpoint.key);
    assert.equal(plugin.responseReceived(routed, new Map())?.get('x-session-token'), token('default/prefill-0'));
  });

  it("names profileName's target in the configured header, and nothing when that profile did not run", () => {
    const pd = setup({ profileName: 'prefill', headerName: 'x-prefill-session' });
    pd.plugin.preRequest(request(), pd.result(true), pd.state);
    assert.deepEqual([...(pd.plugin.responseReceived(pd.routed, new Map()) ?? [])], [['x-prefill-session', token('default/prefill-0')]]);
    const decodeOnly = setup({ profileName: 'prefill' });
    decodeOnly.plugin.preRequest(request(), decodeOnly.result(false), decodeOnly.state);
    assert.equal(decodeOnly.plugin.responseReceived(decodeOnly.routed, new Map()), undefined);
  });

  it('the scorer reads the configured header too', () => {
    const cands = candidates([{ podName: 'x' }, { podName: 'y' }]);
    const s = make<Parameters<typeof scores>[0]>(sessionAffinityScorerPlugin, { headerName: 'X-Pin' });
    assert.deepEqual(scores(s, cands, request({ headers: new Map([['x-pin', token('default/y')]]) })), [0, 1]);
  });
});
