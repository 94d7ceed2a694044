// The gateway's one gRPC channel (HTTP/2) to the EPP, shared by every request's Process() stream
// (Envoy keeps one per worker), and the readiness check the failure mode hangs on.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { parseEndpointAddress } from '../../epp/src/protocol/index.js';
import { newExtProcClient, type ExtProcClient } from './client.js';

/** How often a DNS-named EPP is re-resolved: Envoy's STRICT_DNS default dns_refresh_rate (5 s). */
export const EPP_DNS_REFRESH_MS = 5000;
/** An old channel is closed this long after its replacement opened, so its streams can finish. */
const OLD_CHANNEL_GRACE_MS = 60_000;

/**
 * The channel to the EPP, following its DNS name as an Envoy STRICT_DNS cluster does: the name is
 * re-resolved every `refreshMs` and a changed address set gets a new channel (a restarted EPP
 * container or pod comes back on a new address; grpc-js re-resolves only after the old address
 * has failed to connect, which to a vanished bridge address takes tens of seconds). IP literals
 * are never re-resolved.
 */
export class EppChannel {
  private client: ExtProcClient;
  private addresses: string | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly retired = new Set<NodeJS.Timeout>();

  constructor(
    private readonly epp: string,
    private readonly tls: boolean,
    refreshMs = EPP_DNS_REFRESH_MS,
    private readonly resolve: (host: string) => Promise<readonly { address: string }[]> = (host) => lookup(host, { all: true }),
  ) {
    this.client = openExtProcChannel(epp, tls);
    const host = parseEndpointAddress(epp, 'any')?.address ?? '';
    if (host !== '' && isIP(host) === 0) {
      this.timer = setInterval(() => void this.refresh(host), refreshMs);
      this.timer.unref();
      void this.refresh(host);
    }
  }

  /** The channel new streams use. */
  current(): ExtProcClient {
    return this.client;
  }

  private async refresh(host: string): Promise<void> {
    let addresses: string;
    try {
      addresses = (await this.resolve(host)).map((a) => a.address).sort().join(',');
    } catch {
      return; // unresolvable for now: keep the channel (its own resolver keeps trying)
    }
    if (this.addresses !== undefined && addresses !== this.addresses) {
      const old = this.client;
      this.client = openExtProcChannel(this.epp, this.tls);
      const t = setTimeout(() => {
        this.retired.delete(t);
        old.close();
      }, OLD_CHANNEL_GRACE_MS);
      t.unref();
      this.retired.add(t);
    }
    this.addresses = addresses;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.retired) clearTimeout(t);
    this.retired.clear();
    this.client.close();
  }
}

export function openExtProcChannel(epp: string, tls: boolean): ExtProcClient {
  const creds = tls
    ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined })
    : grpc.credentials.createInsecure();
  return newExtProcClient(epp, creds, {
    // Notice a restarted EPP quickly (grpc-js defaults: 1 s initial, 120 s max backoff).
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
    // A restarted EPP behind a DNS name (a container alias, a headless Service) comes back on a
    // new address: re-resolve within a second instead of grpc-js's 30 s (Envoy's STRICT_DNS
    // clusters refresh every 5 s by default, dns_refresh_rate).
    'grpc.dns_min_time_between_resolutions_ms': 1000,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.max_receive_message_length': 64 << 20,
    // TLS: no SNI of an IP address (RFC 6066); the certificate is not verified anyway.
    ...(tls && isIP(parseEndpointAddress(epp, 'any')?.address ?? '') ? { 'grpc.ssl_target_name_override': 'tokenroute-epp' } : {}),
  });
}

/**
 * Whether the ext_proc channel can take a stream now: READY → yes; TRANSIENT_FAILURE → no, at
 * once (a down EPP must not cost every request a timeout); IDLE/CONNECTING → wait for the
 * outcome up to `connectTimeoutMs`. Asking for the state also kicks a reconnect.
 */
export async function channelReady(client: ExtProcClient, connectTimeoutMs: number): Promise<boolean> {
  const ch = client.getChannel();
  const deadline = Date.now() + connectTimeoutMs;
  let st = ch.getConnectivityState(true);
  while (st !== grpc.connectivityState.READY) {
    if (st === grpc.connectivityState.TRANSIENT_FAILURE || st === grpc.connectivityState.SHUTDOWN) return false;
    if (Date.now() >= deadline) return false;
    const changed = await new Promise<boolean>((resolve) => ch.watchConnectivityState(st, deadline, (err?: Error) => resolve(!err)));
    if (!changed) return false;
    st = ch.getConnectivityState(true);
  }
  return true;
}
