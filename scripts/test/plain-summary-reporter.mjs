// A vitest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`,
// beside vitest's own summary: the form CI harnesses read without knowing vitest's layout.
// Errors outside any test (a file that fails to load, an unhandled rejection) count as failures.
export default class PlainSummaryReporter {
  onTestRunEnd(testModules, unhandledErrors) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
