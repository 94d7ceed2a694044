// Endpoint lists: GIE's `x-gateway-destination-endpoint` value (`ip:port` or a comma-separated
// fallback list, IPv6 as `[addr]:port`) and the gateway's --fallback-endpoints pool.
import { isIP } from 'node:net';

export interface Endpoint {
  /** As written in the list, normalised (`1.2.3.4:80`, `[::1]:80`). */
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

/** One `ip:port` (or `host:port` when `allowNames`); undefined when it is not valid. */
export function parseEndpoint(text: string, allowNames = false): Endpoint | undefined {
  const s = text.trim();
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return undefined;
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon <= 0 || s.indexOf(':') !== colon) return undefined;
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (isIP(host) !== 4 && !(allowNames && /^[A-Za-z0-9.-]+$/.test(host))) return undefined;
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { key: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`, host, port };
}

/**
 * The EPP's comma-separated list → the valid entries in order, duplicates dropped. Invalid
 * entries are skipped ("the first valid entry is used"); they are returned in `invalid`.
 */
export function parseEndpointList(text: string, allowNames = false): { endpoints: Endpoint[]; invalid: string[] } {
  const endpoints: Endpoint[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const ep = parseEndpoint(part, allowNames);
    if (!ep) invalid.push(part.trim());
    else if (!seen.has(ep.key)) {
      seen.add(ep.key);
      endpoints.push(ep);
    }
  }
  return { endpoints, invalid };
}
