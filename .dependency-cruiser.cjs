// Architecture rules, checked by `npm run check:deps` and test/architecture/layers.test.ts.
//
// 1. The house's top folders form layers too: filter/ (the edge filter and its Node host) at the
//    bottom, then epp/, then gateway/ (a stand-in for Envoy that speaks to the EPP), then cli/
//    (the `tokenroute` command, which composes all three). No folder imports one above it.
// 2. The EPP's folders form layers: a folder may import only from folders in lower layers (or
//    its own). Contracts sit at the bottom (framework/, GIE's pkg/epp/framework/interface is the
//    model), engines in the middle, composition (config loading, main.ts) at the top, so no
//    import runs back up and no folder depends on itself through another.
// 3. Product code never imports build tools, benchmarks, e2e scaffolding or tests.
// 4. No circular module dependencies in product code.
// `npm run check:deps` checks all of it; test/architecture/layers.test.ts runs it in the suite.

/** Lowest first. Folders on one line do not import each other. */
const EPP_LAYERS = [
  ['framework', 'util'],
  ['protocol', 'observability'],
  ['datastore'],
  ['datalayer', 'prefix'],
  ['k8s'],
  ['scheduling', 'flowcontrol'],
  ['requestcontrol'],
  ['extproc'],
  ['server'],
  ['config'],
  ['render', 'main.ts'],
];

const PRODUCT = '^(cli|epp/src|filter/host|filter/core|gateway)/';

const folderPath = (name) => (name.endsWith('.ts') ? `^epp/src/${name.replace(/\./g, '\\.')}$` : `^epp/src/${name}/`);

const layerRules = EPP_LAYERS.flatMap((layer, i) => {
  const above = EPP_LAYERS.slice(i + 1).flat();
  const peers = layer;
  const forbidden = (name) => [...above, ...peers.filter((p) => p !== name)];
  return layer.filter((name) => forbidden(name).length > 0).map((name) => ({
    name: `epp-layer-${name}`,
    comment: `epp/src/${name} may import only from the layers below it: ${EPP_LAYERS.slice(0, i).flat().join(', ') || '(none)'}`,
    severity: 'error',
    from: { path: folderPath(name) },
    to: { path: forbidden(name).map(folderPath) },
  }));
});

/** Every folder under epp/src must have a layer, so a new folder cannot slip past the rules. */
const layered = EPP_LAYERS.flat();

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'epp-folder-has-a-layer',
      comment: `every folder of epp/src is listed in EPP_LAYERS (.dependency-cruiser.cjs): ${layered.join(', ')}`,
      severity: 'error',
      from: { path: '^epp/src/', pathNot: layered.map(folderPath) },
      to: {},
    },
    {
      name: 'prefix-rooms',
      comment: 'inside epp/src/prefix: keys/ (block-key production) imports neither index/ nor events/; index/ (the indexes) does not import events/ (KV-event ingestion writes into the indexes, never the reverse)',
      severity: 'error',
      from: { path: '^epp/src/prefix/(keys|index)/' },
      to: { path: '^epp/src/prefix/(events|index)/', pathNot: '^epp/src/prefix/$1/' },
    },
    {
      name: 'product-not-into-tools-tests-e2e',
      comment: 'product code (cli, epp/src, filter/host, filter/core, gateway) never imports filter/tools, epp/bench, filter/bench, e2e or test',
      severity: 'error',
      from: { path: PRODUCT },
      to: { path: ['^filter/tools/', '^epp/bench/', '^filter/bench/', '^e2e/', '^test/'] },
    },
    {
      name: 'house-filter-below-epp',
      comment: 'filter/ (host, core) imports neither the EPP, the gateway nor the CLI',
      severity: 'error',
      from: { path: '^filter/(host|core)/' },
      to: { path: ['^epp/', '^gateway/', '^cli/'] },
    },
    {
      name: 'house-epp-below-gateway',
      comment: 'epp/ imports neither the gateway nor the CLI (the CLI composes them)',
      severity: 'error',
      from: { path: '^epp/' },
      to: { path: ['^gateway/', '^cli/'] },
    },
    {
      name: 'house-cli-on-top',
      comment: 'nothing in the product imports cli/: it is the top, composing epp/, filter/ and gateway/',
      severity: 'error',
      from: { path: PRODUCT, pathNot: '^cli/' },
      to: { path: '^cli/' },
    },
    {
      name: 'gateway-only-public-faces',
      comment: 'the development gateway uses only the public faces of the EPP protocol, the error catalogue and the proxy-wasm host',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { path: '^(epp|filter)/', pathNot: ['^epp/src/protocol/index\\.ts$', '^epp/src/framework/error-catalogue\\.ts$', '^filter/host/index\\.ts$'] },
    },
    {
      name: 'no-circular',
      comment: 'no module of product code depends on itself through others',
      severity: 'error',
      from: { path: PRODUCT },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.cache)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
    // Type-only imports count too: a contract a folder names is a dependency of that folder.
  },
};
