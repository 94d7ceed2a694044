// Transport security for the ext_proc port, as GIE's EPP does it (--secure-serving,
// --cert-path, --enable-cert-reload): TLS by default with a self-signed certificate (proxies skip
// verification: Istio's insecureSkipVerify, Envoy's empty validation_context), or the
// tls.crt/tls.key pair from a directory (a mounted Kubernetes Secret), reloaded when the files
// change so cert-manager rotations need no restart; plaintext only when asked.
//
// Reload uses grpc-js' FileWatcherCertificateProvider (it re-reads the files on an interval and
// swaps the server's secure context; existing connections keep their session). Note its factory
// createCertificateProviderServerCredentials(identity, ca, requireClientCert) has the first two
// parameters misnamed in its typings (the first one is the identity provider).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { generate } from 'selfsigned';
import type { Logger } from '../observability/logger.js';
import { ERRORS, TokenrouteError } from '../framework/error-catalogue.js';

export interface TlsOptions {
  /** false = plaintext (GIE --secure-serving=false). */
  readonly secureServing: boolean;
  /** Directory holding tls.crt and tls.key; empty/undefined = self-signed. */
  readonly certPath?: string;
  /** Re-read the files when they change (default true when certPath is set). */
  readonly certReload?: boolean;
  /** How often the reloader looks at the files, in ms (default 5000). */
  readonly certRefreshIntervalMs?: number;
  readonly logger: Logger;
}

export interface ServerTls {
  readonly credentials: grpc.ServerCredentials;
  /** 'plaintext' | 'self-signed' | 'files' | 'files-reloading', for logs. */
  readonly mode: 'plaintext' | 'self-signed' | 'files' | 'files-reloading';
  /** Stops watching certificate files. */
  close(): void;
}

export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';
const DEFAULT_REFRESH_MS = 5000;
// How long startup waits for the first read of the certificate files.
const FIRST_LOAD_TIMEOUT_MS = 10_000;

export async function createServerTls(opts: TlsOptions): Promise<ServerTls> {
  if (!opts.secureServing) {
    return { credentials: grpc.ServerCredentials.createInsecure(), mode: 'plaintext', close() {} };
  }
  if (!opts.certPath) {
    const { cert, key } = await generateSelfSignedCertificate();
    opts.logger.info('serving ext_proc over TLS with a self-signed certificate');
    return {
      credentials: grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(cert), private_key: Buffer.from(key) }], false),
      mode: 'self-signed',
      close() {},
    };
  }
  const certFile = join(opts.certPath, CERT_FILE);
  const keyFile = join(opts.certPath, KEY_FILE);
  if (opts.certReload === false) {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    checkPair(cert, key, opts.certPath);
    return { credentials: grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false), mode: 'files', close() {} };
  }
  return watchedFiles(certFile, keyFile, opts);
}

async function watchedFiles(certFile: string, keyFile: string, opts: TlsOptions): Promise<ServerTls> {
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: certFile,
    privateKeyFile: keyFile,
    refreshIntervalMs: opts.certRefreshIntervalMs ?? DEFAULT_REFRESH_MS,
  });
  // Wait for the first successful read, so the server never starts without a certificate (grpc-js
  // would drop connections until then) and bad files fail startup instead of every handshake.
  let current: Buffer | undefined;
  let onUpdate: grpc.experimental.IdentityCertificateUpdateListener = () => {};
  const first = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no readable ${CERT_FILE}/${KEY_FILE} in ${opts.certPath}`)), FIRST_LOAD_TIMEOUT_MS);
    timer.unref();
    onUpdate = (update) => {
      if (!update) {
        opts.logger.warn({ certPath: opts.certPath }, 'TLS certificate files unreadable; new connections fail until they are back');
        if (current === undefined) {
          clearTimeout(timer);
          reject(new Error(`cannot read ${CERT_FILE}/${KEY_FILE} in ${opts.certPath}`));
        }
        return;
      }
      if (current !== undefined && current.equals(update.certificate)) return;
      try {
        checkPair(update.certificate, update.privateKey, opts.certPath!);
      } catch (err) {
        opts.logger.error({ err, certPath: opts.certPath }, 'TLS certificate files invalid');
        if (current === undefined) {
          clearTimeout(timer);
          reject(err as Error);
        }
        return;
      }
      if (current !== undefined) opts.logger.info({ certPath: opts.certPath }, 'TLS certificate reloaded');
      current = update.certificate;
      clearTimeout(timer);
      resolve();
    };
  });
  const listener: grpc.experimental.IdentityCertificateUpdateListener = (u) => onUpdate(u);
  provider.addIdentityCertificateListener(listener);
  try {
    await first;
  } catch (err) {
    provider.removeIdentityCertificateListener(listener);
    throw err;
  }
  opts.logger.info({ certPath: opts.certPath }, 'serving ext_proc over TLS with reloading certificate files');
  return {
    credentials: grpc.experimental.createCertificateProviderServerCredentials(provider, null, false),
    mode: 'files-reloading',
    close() {
      provider.removeIdentityCertificateListener(listener);
    },
  };
}

/** Throws a clear error when the key does not belong to the certificate (or either is not PEM). */
function checkPair(cert: Buffer, key: Buffer, where: string): void {
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TokenrouteError(ERRORS.STARTUP_TLS, `invalid ${CERT_FILE}/${KEY_FILE} in ${where}: ${(err as Error).message}`);
  }
}

/**
 * A self-signed serving certificate like GIE's (long-lived, not a CA). EC P-256: fast to make at
 * startup and accepted by Envoy and Istio.
 */
export async function generateSelfSignedCertificate(
  commonName = 'tokenroute-epp',
  altNames: readonly { dns?: string; ip?: string }[] = [{ dns: 'localhost' }, { ip: '127.0.0.1' }, { ip: '::1' }],
): Promise<{ cert: string; key: string }> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'tokenroute' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: altNames.map((a) => (a.ip ? { type: 7 as const, ip: a.ip } : { type: 2 as const, value: a.dns })),
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
