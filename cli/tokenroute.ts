#!/usr/bin/env node
// The `tokenroute` command: subcommands for each part of the product. `epp` runs the Endpoint
// Picker until SIGINT/SIGTERM, then drains gracefully.
import { Command, CommanderError } from 'commander';
import { ConfigError, formatIssue } from '../epp/src/config/errors.js';
import { ERRORS, errorCode } from '../epp/src/framework/error-catalogue.js';
import { startEpp, type EppOptions } from '../epp/src/main.js';
import { eppCommand } from './epp-command.js';
import { filterCommand } from './filter-command.js';
import { tokenizeCommand } from './tokenize-command.js';
import { renderCommand } from '../epp/src/render/command.js';
import { gatewayCommand } from './gateway-command.js';

/** The gRPC grace period is 10 s; anything still open after this is cut. */
const DRAIN_DEADLINE_MS = 15_000;

async function runEpp(opts: EppOptions): Promise<void> {
  let epp;
  try {
    epp = await startEpp(opts);
  } catch (err) {
    const detail = err instanceof ConfigError ? `invalid EndpointPickerConfig:\n  ${err.issues.map(formatIssue).join('\n  ')}` : codedMessage(err as Error);
    process.stderr.write(`tokenroute epp: ${detail}\n`);
    process.exit(2);
  }
  const stop = (signal: string) => {
    process.stderr.write(`tokenroute epp: ${signal}, draining\n`);
    // Draining waits for in-flight streams (up to the gRPC grace period); never longer than this.
    setTimeout(() => {
      process.stderr.write('tokenroute epp: drain did not finish in time, exiting\n');
      process.exit(1);
    }, DRAIN_DEADLINE_MS).unref();
    epp.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

const program = new Command('tokenroute')
  .description('LLM-aware routing for Kubernetes gateways')
  .showHelpAfterError()
  .addCommand(eppCommand(runEpp))
  .addCommand(filterCommand())
  .addCommand(tokenizeCommand())
  .addCommand(renderCommand())
  .addCommand(gatewayCommand());

// Commander reports every usage error (a bad flag value, an unknown flag, a missing argument)
// itself; each line gets the catalogue code so it is as greppable as our own errors, and the
// command exits 2 as for every other start-up error (commander's own default is 1; --help and
// --version still exit 0).
function codeUsageErrors(command: Command): void {
  command.configureOutput({
    outputError: (text, write) => write(text.replace(/^error: /, `error: ${ERRORS.CLI_INVALID_ARGUMENT.code} `)),
  });
  command.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  for (const sub of command.commands) codeUsageErrors(sub);
}
codeUsageErrors(program);

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`tokenroute: ${codedMessage(err)}\n`);
  process.exit(2);
});

/**
 * An error a subcommand's action threw, with its catalogue code: ours carry one; a flag value
 * commander or a file read refused is an invalid argument; anything else is unexpected.
 */
function codedMessage(err: Error): string {
  if (errorCode(err)) return err.message;
  const fsCode = (err as NodeJS.ErrnoException).code;
  const badArgument = err instanceof CommanderError || fsCode === 'ENOENT' || fsCode === 'EACCES' || fsCode === 'EISDIR';
  return `${(badArgument ? ERRORS.CLI_INVALID_ARGUMENT : ERRORS.CLI_UNEXPECTED).code}: ${err.message}`;
}
