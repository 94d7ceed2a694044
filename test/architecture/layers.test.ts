// Architecture rules (.dependency-cruiser.cjs), checked with dependency-cruiser's CLI: the real
// tree has no violation, and each rule rejects a deliberately bad import in a scratch tree (so
// the check can fail). Starts no server; runs `depcruise` as a child process.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findPackageRoot } from '../../epp/src/protocol/proto.js';

const root = findPackageRoot(import.meta.url);
const CONFIG = join(root, '.dependency-cruiser.cjs');
const DEPCRUISE = join(root, 'node_modules', '.bin', 'depcruise');
const PRODUCT_DIRS = ['cli', 'epp/src', 'filter/host', 'filter/core', 'gateway'];

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

function cruise(cwd: string, dirs: readonly string[]): Violation[] {
  let out: string;
  try {
    out = execFileSync(DEPCRUISE, [...dirs, '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (err) {
    // depcruise exits non-zero when it finds errors; the report is still on stdout.
    out = (err as { stdout?: string }).stdout ?? '';
    if (!out) throw err;
  }
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

/** A scratch repository with the given files (path → source), cruised with our rules. */
function scratch(files: Record<string, string>): Violation[] {
  const dir = mkdtempSync(join(tmpdir(), 'tokenroute-layers-'));
  try {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const dirs = [...new Set(Object.keys(files).map((p) => p.split('/')[0]))];
    return cruise(dir, dirs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rules = (vs: readonly Violation[]) => [...new Set(vs.map((v) => v.rule.name))].sort();

describe('architecture rules', () => {
  it('the tree has no violation: no import runs back up between the house\'s folders or the EPP\'s, none into tools/e2e/test, no cycle', () => {
    const violations = cruise(root, PRODUCT_DIRS);
    assert.deepEqual(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), []);
  });

  it('rejects an EPP folder importing from a higher layer', () => {
    const vs = scratch({
      'epp/src/framework/plugins.ts': "import { pick } from '../scheduling/scheduler.js';\nexport const p = pick;\n",
      'epp/src/scheduling/scheduler.ts': 'export const pick = 1;\n',
    });
    assert.deepEqual(rules(vs), ['epp-layer-framework']);
  });

  it('rejects imports between folders of the same layer', () => {
    const vs = scratch({
      'epp/src/datalayer/a.ts': "import { b } from '../prefix/b.js';\nexport const a = b;\n",
      'epp/src/prefix/b.ts': 'export const b = 1;\n',
    });
    assert.deepEqual(rules(vs), ['epp-layer-datalayer']);
  });

  it('rejects the prefix rooms importing against their order (keys ← index ← events)', () => {
    const vs = scratch({
      'epp/src/prefix/keys/a.ts': "import { b } from '../index/b.js';\nexport const a = b;\n",
      'epp/src/prefix/index/b.ts': "import { c } from '../events/c.js';\nimport { d } from '../keys/d.js';\nexport const b = c + d;\n",
      'epp/src/prefix/events/c.ts': "import { d } from '../keys/d.js';\nexport const c = d;\n",
      'epp/src/prefix/keys/d.ts': 'export const d = 1;\n',
    });
    assert.deepEqual(
      vs.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort(),
      ['prefix-rooms: epp/src/prefix/index/b.ts → epp/src/prefix/events/c.ts', 'prefix-rooms: epp/src/prefix/keys/a.ts → epp/src/prefix/index/b.ts'],
    );
  });

  it('rejects a folder of epp/src that has no layer', () => {
    const vs = scratch({ 'epp/src/newroom/x.ts': "import { y } from '../framework/y.js';\nexport const x = y;\n", 'epp/src/framework/y.ts': 'export const y = 1;\n' });
    assert.deepEqual(rules(vs), ['epp-folder-has-a-layer']);
  });

  it('rejects product code importing tools, benches, e2e or tests', () => {
    const vs = scratch({
      'filter/host/host.ts': "import { t } from '../tools/gen.js';\nexport const h = t;\n",
      'filter/tools/gen.ts': 'export const t = 1;\n',
    });
    assert.deepEqual(rules(vs), ['product-not-into-tools-tests-e2e']);
  });

  it('rejects the gateway reaching past the public faces', () => {
    const vs = scratch({
      'gateway/pipeline.ts': "import { k } from '../epp/src/protocol/keys.js';\nexport const g = k;\n",
      'epp/src/protocol/keys.ts': 'export const k = 1;\n',
    });
    assert.deepEqual(rules(vs), ['gateway-only-public-faces']);
  });

  it('rejects an import running back up the house: filter → epp, epp → gateway, anything → cli', () => {
    const vs = scratch({
      'filter/host/a.ts': "import { m } from '../../epp/src/main.js';\nexport const a = m;\n",
      'epp/src/main.ts': "import { g } from '../../gateway/index.js';\nexport const m = g;\n",
      'gateway/index.ts': "import { c } from '../cli/tokenroute.js';\nexport const g = c;\n",
      'cli/tokenroute.ts': 'export const c = 1;\n',
    });
    assert.deepEqual(rules(vs), ['house-cli-on-top', 'house-epp-below-gateway', 'house-filter-below-epp']);
  });

  it('rejects circular modules in product code', () => {
    const vs = scratch({
      'gateway/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'gateway/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    assert.deepEqual(rules(vs), ['no-circular']);
  });
});
