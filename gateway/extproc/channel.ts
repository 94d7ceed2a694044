// The gateway's one gRPC channel (HTTP/2) to the EPP, shared by every request's Process() stream
// (Envoy keeps one per worker), and the readiness check the failure mode hangs on.
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { parseEndpointAddress } from '../../epp/src/protocol/index.js';
import { newExtProcClient, type ExtProcClient } from './client.js';

export function openExtProcChannel(epp: string, tls: boolean): ExtProcClient {
  const creds = tls
    ? grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined })
    : grpc.credentials.createInsecure();
  return newExtProcClient(epp, creds, {
    // Notice a restarted EPP quickly (grpc-js defaults: 1 s initial, 120 s max backoff).
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
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
