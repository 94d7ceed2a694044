// One runner for the whole suite. Tests run from the compiled tree (dist/test/**), as the
// product does: worker-thread modules (`new URL('./worker.js', import.meta.url)` in the metrics
// collector, KV-event subscriber and tokenizer pool), the CLI the integration tests spawn and the
// filter wasm all resolve to their built files in every mode, with no source/dist mapping.
// `npm run build` is incremental (tsc --incremental, wasm rebuilt only when its inputs change), so
// the fast loop is `npm run test:unit` / `npm run test:watch`.
import { defineConfig } from 'vitest/config';

// Tiers. `npm test` runs all of them; `npm run test:unit` only the first.
//   unit         in-process tests (loopback sockets and worker threads at most): seconds.
//   reference    exhaustive checks against reference implementations: tokenizer parity with HF
//                tokenizers over corpora and property runs, hostile-input and fuzz suites.
//   integration  real processes and servers: the tokenroute CLI, kube-apiserver + etcd,
//                llm-d-inference-sim, ZeroMQ publishers (each file's header says which).
//   e2e          the whole local stack through the development gateway.
//   containers   tokenroute's images built from the Dockerfile and run with testcontainers
//                (Docker, or podman serving its API: scripts/deps/podman.sh).
const REFERENCE = ['dist/test/filter/tokenizer/**/*.test.js', 'dist/test/filter/filter/fuzz.test.js', 'dist/test/fuzz/**/*.test.js'];
const INTEGRATION = [
  'dist/test/integration/**/*.test.js',
  'dist/test/filter/filter/cli.test.js', // runs `tokenroute filter run` / `tokenize` as processes
  'dist/test/epp/datalayer/lifecycle.test.js', // a child process must exit on its own after stop()
];
const E2E = ['dist/test/e2e/**/*.test.js'];
const CONTAINERS = ['dist/test/containers/**/*.test.js'];

export default defineConfig({
  test: {
    // dist/ is excluded by vitest's defaults; here it is the tree under test.
    exclude: ['**/node_modules/**'],
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 30_000,
    reporters: ['default', './scripts/test/plain-summary-reporter.mjs'],
    coverage: {
      provider: 'v8',
      include: ['dist/epp/src/**', 'dist/filter/host/**', 'dist/filter/core/**', 'dist/gateway/**'],
      reporter: ['text-summary', 'json-summary', 'html'],
      reportsDirectory: '.cache/coverage',
    },
    projects: [
      { extends: true, test: { name: 'unit', include: ['dist/test/**/*.test.js'], exclude: ['**/node_modules/**', ...REFERENCE, ...INTEGRATION, ...E2E, ...CONTAINERS] } },
      { extends: true, test: { name: 'reference', include: REFERENCE } },
      { extends: true, test: { name: 'integration', include: INTEGRATION } },
      { extends: true, test: { name: 'e2e', include: E2E } },
      { extends: true, test: { name: 'containers', include: CONTAINERS } },
    ],
  },
});
