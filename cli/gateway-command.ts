// `tokenroute gateway`: the development gateway (gateway/, through its public face) from the
// command line — a local / dev stand-in for Envoy in front of an EPP and model servers, NOT a
// production proxy. The command parses the flags (durations, addresses, the filter config) and
// builds the logger; the gateway takes them ready-made.
//
//   tokenroute gateway --listen 127.0.0.1:8080 --epp 127.0.0.1:9002 \
//     --filter-config plugin.json --failure-mode FailOpen --fallback-endpoints 127.0.0.2:8000,127.0.0.3:8000
import { existsSync, readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { boolFlag, positiveDuration, positiveInt } from './flags.js';
import { ERRORS, TokenrouteError } from '../epp/src/framework/error-catalogue.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../epp/src/observability/logger.js';
import { parseEndpointAddress, parseEndpointAddressList } from '../epp/src/protocol/endpoint-address.js';
import { startGateway, type FailureMode, type GatewayOptions } from '../gateway/index.js';

function listen(value: string): { host: string; port: number } {
  const ep = parseEndpointAddress(/^\d+$/.test(value) ? `127.0.0.1:${value}` : value, 'ip-or-name');
  if (!ep && /:0$/.test(value)) return { host: value.slice(0, -2).replace(/^\[|\]$/g, ''), port: 0 };
  if (!ep) throw new InvalidArgumentError('expected host:port (or a port)');
  return { host: ep.address, port: ep.port };
}

function hostPort(value: string): string {
  if (!parseEndpointAddress(value, 'ip-or-name')) throw new InvalidArgumentError('expected host:port');
  return value;
}

function endpointList(value: string): string[] {
  const { addresses, invalid } = parseEndpointAddressList(value, 'ip-or-name');
  if (invalid.length > 0 || addresses.length === 0) throw new InvalidArgumentError(`expected host:port,host:port,... (bad: ${invalid.join(', ') || 'empty'})`);
  return addresses.map((e) => e.key);
}

/** A JSON file, or inline JSON. */
function filterConfig(value: string): string {
  const text = value.trim().startsWith('{') ? value : existsSync(value) ? readFileSync(value, 'utf8') : undefined;
  if (text === undefined) throw new InvalidArgumentError(`not a file and not inline JSON: ${value}`);
  try {
    JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
  return text;
}

export function gatewayCommand(): Command {
  return new Command('gateway')
    .description('Run the development gateway: a local stand-in for Envoy (filter .wasm in the proxy-wasm host → EPP over ext_proc → model server). Not a production proxy.')
    .addOption(new Option('--listen <host:port>', 'HTTP/1.1 listen address').argParser(listen).default({ host: '127.0.0.1', port: 8080 }, '127.0.0.1:8080'))
    .option('--epp <host:port>', 'the EPP\'s ext_proc gRPC address (any Gateway API Inference Extension EPP); without it: round-robin over --fallback-endpoints')
    .option('--epp-tls [bool]', 'TLS to the EPP, certificate not verified (for `tokenroute epp` with its default --secure-serving)', boolFlag, false)
    .option('--filter-wasm <path>', 'the edge filter module (default filter/build/filter.wasm when --filter-config is given)')
    .option('--filter-config <file|json>', 'the filter\'s plugin configuration (docs/filter.md); without it no filter runs', filterConfig)
    .option('--filter-fail-closed [bool]', 'Wasm failure_policy FAIL_CLOSED instead of FAIL_OPEN', boolFlag, false)
    .option('--route-name <name>', 'Envoy route name: the filter\'s xds.route_name and the ext_proc xds.route_name attribute')
    .addOption(new Option('--failure-mode <mode>', 'the InferencePool\'s failureMode: what happens when the EPP fails').choices(['FailOpen', 'FailClose']).default('FailClose'))
    .option('--fallback-endpoints <list>', 'the pool, host:port,...: where FailOpen (or no --epp) routes, round-robin', endpointList)
    .addOption(new Option('--message-timeout <duration>', 'longest wait for an ext_proc reply the gateway is blocked on').argParser(positiveDuration).default(30_000, '30s'))
    .addOption(new Option('--epp-connect-timeout <duration>', 'longest wait for the EPP channel to connect before the failure mode applies').argParser(positiveDuration).default(1_000, '1s'))
    .addOption(new Option('--connect-timeout <duration>', 'upstream TCP connect timeout').argParser(positiveDuration).default(2_000, '2s'))
    .addOption(new Option('--response-timeout <duration>', 'longest wait for an upstream\'s response headers; then the next endpoint, after the last 504').argParser(positiveDuration).default(300_000, '300s'))
    .addOption(new Option('--upstream-idle-timeout <duration>', 'longest silence of an upstream response body before its stream is reset').argParser(positiveDuration).default(60_000, '60s'))
    .addOption(new Option('--client-headers-timeout <duration>', 'longest wait for a client\'s request headers').argParser(positiveDuration).default(10_000, '10s'))
    .addOption(new Option('--client-request-timeout <duration>', 'longest wait for a client\'s whole request').argParser(positiveDuration).default(60_000, '60s'))
    .option('--buffer-limit <bytes>', 'largest request body (Envoy\'s per-request buffer limit); larger → 413', positiveInt, 1 << 20)
    .option('--debug-headers [bool]', 'add x-gateway-destination-endpoint-served and x-tokenroute-gateway-pick to responses', boolFlag, true)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS as string[]).default('info'))
    .action(async (flags: Record<string, unknown>) => {
      const l = flags.listen as { host: string; port: number };
      const logger = createLogger(flags.logLevel as LogLevel);
      const filterWasm = flags.filterWasm as string | undefined;
      const config = flags.filterConfig as string | undefined;
      if (filterWasm && !config) throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, '--filter-wasm needs --filter-config (the plugin configuration)');
      if (!flags.epp && !flags.fallbackEndpoints) throw new TokenrouteError(ERRORS.STARTUP_GATEWAY_NO_ROUTE, 'give --epp, or --fallback-endpoints to route round-robin without an EPP');
      if (flags.failureMode === 'FailOpen' && !flags.fallbackEndpoints) {
        logger.warn('--failure-mode FailOpen without --fallback-endpoints: requests get 503 while the EPP is down');
      }
      const opts: GatewayOptions = {
        host: l.host,
        port: l.port,
        epp: flags.epp ? hostPort(String(flags.epp)) : undefined,
        eppTls: flags.eppTls as boolean,
        filter: config ? { wasm: filterWasm, config, failOpen: !(flags.filterFailClosed as boolean) } : undefined,
        routeName: flags.routeName as string | undefined,
        failureMode: flags.failureMode as FailureMode,
        fallbackEndpoints: (flags.fallbackEndpoints as string[] | undefined) ?? [],
        messageTimeoutMs: flags.messageTimeout as number,
        eppConnectTimeoutMs: flags.eppConnectTimeout as number,
        connectTimeoutMs: flags.connectTimeout as number,
        responseTimeoutMs: flags.responseTimeout as number,
        upstreamIdleTimeoutMs: flags.upstreamIdleTimeout as number,
        clientHeadersTimeoutMs: flags.clientHeadersTimeout as number,
        clientRequestTimeoutMs: flags.clientRequestTimeout as number,
        bufferLimitBytes: flags.bufferLimit as number,
        debugHeaders: flags.debugHeaders as boolean,
        logger,
      };
      let gw;
      try {
        gw = await startGateway(opts);
      } catch (err) {
        // startGateway's errors carry their catalogue code (TR_ERR_*) in the message.
        process.stderr.write(`tokenroute gateway: ${(err as Error).message}\n`);
        process.exit(2);
      }
      process.stderr.write(`tokenroute gateway (development stand-in for Envoy) on ${gw.url}\n`);
      const stop = (signal: string) => {
        process.stderr.write(`tokenroute gateway: ${signal}, stopping\n`);
        gw.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
