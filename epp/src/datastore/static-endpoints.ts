// Standalone mode's endpoint source: a fixed list (`--static-endpoints host:port,...` or the
// config's `staticEndpoints`), for running without Kubernetes. The list is the whole pool, so
// the datastore is synced as soon as it is set.
import type { Endpoint } from '../framework/endpoint.js';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';
import { formatEndpointAddress, parseEndpointAddress } from '../protocol/endpoint-address.js';

export interface StaticEndpointSpec {
  readonly address: string;
  readonly port: number;
  readonly engine?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly name?: string;
}

/** Parses `host:port,host:port`; throws with the offending entry when one is malformed. */
export function parseStaticEndpointList(text: string): StaticEndpointSpec[] {
  const out: StaticEndpointSpec[] = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const hp = parseEndpointAddress(part, 'any');
    if (!hp) throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, `--static-endpoints: "${part.trim()}" is not host:port (IPv6 as [addr]:port)`);
    out.push(hp);
  }
  if (out.length === 0) throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, '--static-endpoints: no endpoints given');
  return out;
}

/** `engine` empty means "not labelled": the core-metrics-extractor's defaultEngine then applies. */
export function staticEndpoints(specs: readonly StaticEndpointSpec[], engine = '', namespace = 'default'): Endpoint[] {
  const seen = new Set<string>();
  const out: Endpoint[] = [];
  for (const s of specs) {
    const key = formatEndpointAddress(s.address, s.port);
    if (seen.has(key)) throw new TokenrouteError(ERRORS.CLI_INVALID_ARGUMENT, `static endpoint ${key} listed twice`);
    seen.add(key);
    out.push({
      key,
      address: s.address,
      port: s.port,
      podName: s.name ?? key,
      namespace,
      labels: { ...(s.labels ?? {}) },
      engine: s.engine ?? engine,
    });
  }
  return out;
}
