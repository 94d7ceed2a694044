// single-profile-handler: which profile runs (request's profile, default, only one), one round,
// and how results become the decision.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { ProfileRunResult, SchedulerProfileSpec } from '../../../../epp/src/framework/plugins.js';
import { SingleProfileHandler, singleProfileHandlerPlugin } from '../../../../epp/src/scheduling/plugins/single-profile-handler.js';
import { candidates, make, request } from '../helpers.js';
import { RequestState } from '../../../../epp/src/framework/cycle-state.js';

const spec = (name: string): SchedulerProfileSpec => ({
  name,
  filters: [],
  scorers: [],
  picker: { type: 'x', name: 'x', pick: () => [] },
});

describe('single-profile-handler', () => {
  const a = spec('a');
  const b = spec('b');
  const two = new Map([
    ['a', a],
    ['b', b],
  ]);
  const none = new Map<string, ProfileRunResult>();

  it('runs the only profile', () => {
    const h = make<SingleProfileHandler>(singleProfileHandlerPlugin);
    assert.deepEqual(h.pickProfiles(request(), new Map([['a', a]]), none, new RequestState()), [a]);
  });

  it('runs the profile the request names', () => {
    const h = new SingleProfileHandler('h');
    h.setDefaultProfile('a');
    assert.deepEqual(h.pickProfiles(request({ profile: 'b' }), two, none, new RequestState()), [b]);
  });

  it('falls back to the default when the request names no profile or an unknown one', () => {
    const h = new SingleProfileHandler('h');
    h.setDefaultProfile('b');
    assert.deepEqual(h.pickProfiles(request(), two, none, new RequestState()), [b]);
    assert.deepEqual(h.pickProfiles(request({ profile: 'nope' }), two, none, new RequestState()), [b]);
  });

  it('runs nothing with several profiles and no default or match', () => {
    const h = new SingleProfileHandler('h');
    assert.deepEqual(h.pickProfiles(request(), two, none, new RequestState()), []);
  });

  it('stops after one round', () => {
    const h = new SingleProfileHandler('h');
    const results = new Map([['a', { targets: candidates([{}]) }]]);
    assert.deepEqual(h.pickProfiles(request(), new Map([['a', a]]), results, new RequestState()), []);
  });

  it('makes the profile result the decision, or fails when it chose nothing', () => {
    const h = new SingleProfileHandler('h');
    const targets = candidates([{}, {}]);
    const ok = h.processResults(request(), new Map([['a', { targets }]]));
    assert.equal(ok?.primaryProfile, 'a');
    assert.equal(ok?.profileResults.get('a')?.targets, targets);
    assert.equal(h.processResults(request(), new Map([['a', { targets: [] }]])), undefined);
    assert.equal(h.processResults(request(), new Map()), undefined);
  });

  it('takes no parameters', () => {
    assert.equal(singleProfileHandlerPlugin.parameters.safeParse({ x: 1 }).success, false);
  });
});
