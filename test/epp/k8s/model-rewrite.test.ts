// Unit tests of InferenceModelRewrite handling: the store's precedence (exact > generic, oldest
// resource, then rule order, then name for equal timestamps) and the weighted choice of a target
// (deterministic random sequences, plus a seeded statistical check).
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ModelRewriteStore, type RewriteSpec } from '../../../epp/src/datastore/model-rewrites.js';
import { ObjectiveStore } from '../../../epp/src/datastore/objectives.js';
import { chooseTarget, modelRewriter } from '../../../epp/src/datastore/model-rewriter.js';

const t = (model: string, weight = 0) => ({ model, weight });

function store(specs: RewriteSpec[]): ModelRewriteStore {
  const s = new ModelRewriteStore();
  s.replace(specs);
  return s;
}

describe('ModelRewriteStore precedence', () => {
  test('an exact match beats an older generic rule', () => {
    const s = store([
      { name: 'generic', createdMs: 1, rules: [{ models: [], targets: [t('g')] }] },
      { name: 'exact', createdMs: 2, rules: [{ models: ['llama'], targets: [t('e')] }] },
    ]);
    assert.equal(s.ruleFor('llama')?.rewriteName, 'exact');
    assert.equal(s.ruleFor('other')?.rewriteName, 'generic');
  });

  test('among exact matches the oldest resource wins; equal timestamps fall back to the name', () => {
    const s = store([
      { name: 'b-newer', createdMs: 20, rules: [{ models: ['m'], targets: [t('newer')] }] },
      { name: 'z-older', createdMs: 10, rules: [{ models: ['m'], targets: [t('older')] }] },
      { name: 'a-same', createdMs: 30, rules: [{ models: ['n'], targets: [t('a')] }] },
      { name: 'b-same', createdMs: 30, rules: [{ models: ['n'], targets: [t('b')] }] },
    ]);
    assert.equal(s.ruleFor('m')?.targets[0].model, 'older');
    assert.equal(s.ruleFor('n')?.targets[0].model, 'a');
  });

  test('within a resource the first matching rule wins; matches are ORed', () => {
    const s = store([{ name: 'r', createdMs: 1, rules: [{ models: ['x', 'y'], targets: [t('first')] }, { models: ['y'], targets: [t('second')] }, { models: [], targets: [t('generic')] }] }]);
    assert.equal(s.ruleFor('y')?.targets[0].model, 'first');
    assert.equal(s.ruleFor('x')?.targets[0].model, 'first');
    assert.equal(s.ruleFor('q')?.targets[0].model, 'generic');
  });

  test('replace() drops rules of removed resources', () => {
    const s = store([{ name: 'r', createdMs: 1, rules: [{ models: ['x'], targets: [t('a')] }] }]);
    s.replace([]);
    assert.equal(s.ruleFor('x'), undefined);
  });
});

describe('weighted target choice', () => {
  test('weights partition [0,1): random draws map to targets in proportion', () => {
    const targets = [t('a', 1), t('b', 3)];
    assert.equal(chooseTarget(targets, () => 0), 'a');
    assert.equal(chooseTarget(targets, () => 0.2499), 'a');
    assert.equal(chooseTarget(targets, () => 0.25), 'b');
    assert.equal(chooseTarget(targets, () => 0.9999999), 'b');
  });

  test('no weights: uniform; some weights: unweighted targets get nothing (GIE)', () => {
    assert.equal(chooseTarget([t('a'), t('b'), t('c')], () => 0.5), 'b');
    for (const r of [0, 0.3, 0.99]) assert.equal(chooseTarget([t('a', 5), t('b')], () => r), 'a');
  });

  test('seeded: 10,000 draws of 70/20/10 land within 4σ of the weights', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 10_000; i++) counts[chooseTarget([t('a', 70), t('b', 20), t('c', 10)], rnd)]++;
    for (const [k, p] of [['a', 0.7], ['b', 0.2], ['c', 0.1]] as const) {
      const sd = Math.sqrt(10_000 * p * (1 - p));
      assert.ok(Math.abs(counts[k] - 10_000 * p) < 4 * sd, `${k}: ${counts[k]}`);
    }
  });

  test('modelRewriter: names the rewrite; a rule without targets keeps the model', () => {
    const s = store([
      { name: 'canary', createdMs: 1, rules: [{ models: ['llama'], targets: [t('llama-2', 1)] }] },
      { name: 'empty', createdMs: 1, rules: [{ models: ['noop'], targets: [] }] },
    ]);
    const rw = modelRewriter(s, () => 0);
    assert.deepEqual(rw('llama'), { target: 'llama-2', ruleName: 'canary' });
    assert.equal(rw('noop'), undefined);
    assert.equal(rw('unknown'), undefined);
  });
});

describe('ObjectiveStore', () => {
  test('priority by name; unset priority is 0; unknown is undefined', () => {
    const s = new ObjectiveStore();
    s.replace([{ name: 'batch', priority: -1 }, { name: 'plain', priority: undefined }]);
    assert.equal(s.priority('batch'), -1);
    assert.equal(s.priority('plain'), 0);
    assert.equal(s.priority('nope'), undefined);
    s.replace([]);
    assert.equal(s.priority('batch'), undefined);
  });
});
