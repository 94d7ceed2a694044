// Where the config text comes from: --config-file <path> or --config-text '<yaml>' (never both,
// as in GIE's flags), or neither (the built-in default). Reading the file happens once at
// startup, so it is synchronous.
import { readFileSync } from 'node:fs';
import { ConfigError, configIssue } from './errors.js';
import { ERRORS } from '../framework/error-catalogue.js';

export interface ConfigSourceFlags {
  readonly configFile?: string;
  readonly configText?: string;
}

/** The YAML text to load, or undefined for the built-in default. Throws ConfigError. */
export function readConfigSource(flags: ConfigSourceFlags): string | undefined {
  const { configFile, configText } = flags;
  if (configFile !== undefined && configText !== undefined) {
    throw new ConfigError([configIssue(ERRORS.CONFIG_SOURCE, [], '--config-file and --config-text are mutually exclusive')]);
  }
  if (configText !== undefined) return configText;
  if (configFile === undefined) return undefined;
  try {
    return readFileSync(configFile, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new ConfigError([configIssue(ERRORS.CONFIG_SOURCE, [], `--config-file ${configFile}: cannot read (${reason})`)]);
  }
}
