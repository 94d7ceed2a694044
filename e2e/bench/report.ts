// Writing a benchmark's page: the generated part is replaced on every run; a hand-written reading
// of the figures (everything from a "## Reading" heading on) is kept.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function writeKeepingReading(mdPath: string, generated: string): void {
  const previous = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '';
  const reading = previous.indexOf('\n## Reading');
  writeFileSync(mdPath, reading >= 0 ? generated + previous.slice(reading) : generated);
}
