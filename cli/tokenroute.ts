#!/usr/bin/env node
// The `tokenroute` command: subcommands for each part of the product. `epp` runs the Endpoint
// Picker until SIGINT/SIGTERM, then drains gracefully.
import { Command } from 'commander';
import { ConfigError, formatIssue } from '../epp/src/config/errors.js';
import { ERRORS } from '../epp/src/framework/error-catalogue.js';
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
    const detail = err instanceof ConfigError ? `invalid EndpointPickerConfig:\n  ${err.issues.map(formatIssue).join('\n  ')}` : (err as Error).message;
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
// itself; each line gets the catalogue code so it is as greppable as our own errors.
function codeUsageErrors(command: Command): void {
  command.configureOutput({
    outputError: (text, write) => write(text.replace(/^error: /, `error: ${ERRORS.CLI_INVALID_ARGUMENT.code} `)),
  });
  for (const sub of command.commands) codeUsageErrors(sub);
}
codeUsageErrors(program);

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`tokenroute: ${err.message}\n`);
  process.exit(2);
});
