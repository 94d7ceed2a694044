// vitest for the kind e2e only (e2e/kind/run.sh): the shared gateway specs against the cluster.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['dist/test/kind/*.kind.js'],
    exclude: ['**/node_modules/**'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
