// Endpoint addresses as GIE's protocol writes them: the value of `x-gateway-destination-endpoint`
// (request header and `envoy.lb` dynamic metadata) is one `ip:port` or a comma-separated list of
// them, the first the pick and the rest fallbacks, IPv6 bracketed as `[addr]:port` (GIE
// `docs/proposals/004-endpoint-picker-protocol/README.md`, "Destination Endpoint", at v1.5.0; the
// EPP writes them with Go's `net.JoinHostPort`). The same syntax names endpoints a user
// configures (a static pool, a gateway's fallback pool), where a DNS-style name may stand for the
// IP. One parser and one formatter for both sides of the wire, so the proxy and the EPP can never
// disagree about what a valid address is.
import { isIP } from 'node:net';

/** Which hosts an address may name. */
export type AddressHosts =
  /** IP literals only, `1.2.3.4:80` or `[::1]:80`: what the destination header carries. */
  | 'ip'
  /** IP literals or DNS-style names (`model-0.pool.svc:8000`): addresses a user configures. */
  | 'ip-or-name'
  /** Any non-empty host, syntax only (Go's `net.SplitHostPort` plus a port range check). */
  | 'any';

export interface EndpointAddress {
  /** The host without brackets. */
  readonly address: string;
  readonly port: number;
  /** The canonical form, `1.2.3.4:80` / `[::1]:80`: what the EPP writes and the gateway reports. */
  readonly key: string;
}

const DNS_NAME = /^[A-Za-z0-9.-]+$/;

/** `address:port`, an IPv6 address bracketed (Go's `net.JoinHostPort`). */
export function formatEndpointAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One `host:port` / `[v6]:port` (surrounding blanks ignored); undefined when it is not valid. */
export function parseEndpointAddress(text: string, hosts: AddressHosts = 'ip'): EndpointAddress | undefined {
  const s = text.trim();
  const bracketed = s.startsWith('[');
  let address: string;
  let portText: string;
  if (bracketed) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return undefined;
    address = s.slice(1, close);
    portText = s.slice(close + 2);
  } else {
    const colon = s.lastIndexOf(':');
    // One colon only: an unbracketed IPv6 address is ambiguous and not valid.
    if (colon <= 0 || s.indexOf(':') !== colon) return undefined;
    address = s.slice(0, colon);
    portText = s.slice(colon + 1);
  }
  if (address.length === 0 || !hostAllowed(address, bracketed, hosts)) return undefined;
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { address, port, key: formatEndpointAddress(address, port) };
}

function hostAllowed(address: string, bracketed: boolean, hosts: AddressHosts): boolean {
  if (hosts === 'any') return true;
  // Brackets hold an IPv6 address and nothing else.
  if (bracketed) return isIP(address) === 6;
  return isIP(address) === 4 || (hosts === 'ip-or-name' && DNS_NAME.test(address));
}

export interface EndpointAddressList {
  /** The valid entries in order, duplicates (by canonical form) dropped. */
  readonly addresses: EndpointAddress[];
  /** The entries that are not valid, trimmed, in order. */
  readonly invalid: string[];
}

/**
 * A comma-separated list. Empty entries are ignored; invalid ones are reported in `invalid` and
 * left out, so a proxy can use the first valid entry as the protocol asks while a config reader
 * can reject the list.
 */
export function parseEndpointAddressList(text: string, hosts: AddressHosts = 'ip'): EndpointAddressList {
  const addresses: EndpointAddress[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const a = parseEndpointAddress(part, hosts);
    if (!a) invalid.push(part.trim());
    else if (!seen.has(a.key)) {
      seen.add(a.key);
      addresses.push(a);
    }
  }
  return { addresses, invalid };
}
