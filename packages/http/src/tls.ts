import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** What an HTTPS listener serves with (PEM text). */
export interface TlsServerOptions {
  cert: string;
  key: string;
  /**
   * CA whose client certificates are verified: the listener asks every
   * client for one but does not require it (a browser on the dashboard has
   * none); the routes that need one check it (clientCertificate()).
   */
  clientCa?: string;
}

export interface ListenOptions {
  /** Serve HTTPS with these; without them, plain HTTP. */
  tls?: TlsServerOptions;
  /** Plain HTTP on a non-loopback address (ALLOW_PLAIN_HTTP: a TLS proxy on the same host terminates). */
  allowPlainHttp?: boolean;
}

/** The TLS variables of httpEnv (and TLS_CLIENT_CA_FILE where a service verifies clients). */
export interface TlsFileSettings {
  TLS_CERT_FILE?: string | undefined;
  TLS_KEY_FILE?: string | undefined;
  TLS_CLIENT_CA_FILE?: string | undefined;
  ALLOW_PLAIN_HTTP?: boolean | undefined;
}

/**
 * Reads the certificate files a service's env names, once at boot: a missing
 * or unreadable file fails the start with its variable named, not the first
 * handshake.
 */
export function listenOptionsFromFiles(settings: TlsFileSettings): ListenOptions {
  const read = (variable: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${variable}=${file}: ${(err as Error).message}`);
    }
  };
  const { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_CLIENT_CA_FILE: clientCaFile } = settings;
  const allowPlainHttp = settings.ALLOW_PLAIN_HTTP ?? false;
  if (!certFile !== !keyFile) throw new Error('set both TLS_CERT_FILE and TLS_KEY_FILE, or neither');
  if (!certFile || !keyFile) {
    if (clientCaFile) throw new Error('TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates exist only over TLS');
    return { allowPlainHttp };
  }
  const tls: TlsServerOptions = { cert: read('TLS_CERT_FILE', certFile), key: read('TLS_KEY_FILE', keyFile) };
  if (clientCaFile) tls.clientCa = read('TLS_CLIENT_CA_FILE', clientCaFile);
  return { tls, allowPlainHttp };
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, "localhost". */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (bare === '::1') return true;
  return /^::ffff:127\./.test(bare);
}

/** Why a listener may not start as asked, or undefined: plain HTTP off loopback without the operator's explicit opt-out. */
export function plainHttpRefusal(host: string, options: ListenOptions): string | undefined {
  if (options.tls || options.allowPlainHttp || isLoopback(host)) return undefined;
  return `refusing to serve plain HTTP on ${host}: set TLS_CERT_FILE and TLS_KEY_FILE (npx tillstream certs makes them), bind HOST to loopback, or set ALLOW_PLAIN_HTTP=true behind a TLS-terminating proxy`;
}

/** The client certificate a request's connection presented, as the listener's TLS_CLIENT_CA_FILE judged it. */
export interface ClientCertificate {
  /** Signed by the client CA, within its validity dates. */
  authorized: boolean;
  /** OpenSSL's reason when not authorized (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...). */
  error: string | undefined;
  commonName: string | undefined;
  organizationalUnit: string | undefined;
  /** Upper-case hex, as describeCertificate (@tillstream/certs) and the revocation list write it. */
  serial: string;
}

/** The peer certificate of a request over TLS, or undefined (plain HTTP, or no certificate presented). */
export function clientCertificate(socket: object): ClientCertificate | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const peer = tls.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return undefined;
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const error = tls.authorizationError;
  return {
    authorized: tls.authorized === true,
    error: error === null || error === undefined ? undefined : String(error),
    commonName: first(peer.subject?.CN),
    organizationalUnit: first(peer.subject?.OU),
    serial: peer.serialNumber.toUpperCase(),
  };
}
