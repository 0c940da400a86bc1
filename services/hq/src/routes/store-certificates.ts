import type { Request, RequestHandler } from 'express';
import { revokedCertificateSerials, type Pool } from '@tillstream/db';
import { HttpProblem, clientCertificate } from '@tillstream/http';

export interface StoreCertificateOptions {
  pool: Pool;
  /**
   * How long the revoked-serials list is trusted before HQ reads it again:
   * a revocation takes effect within this (STORE_TOKEN_CACHE_MS, 5 s by default).
   */
  cacheMs: number;
  /** Turns a database failure into the problem to answer. */
  onLookupError(err: unknown): unknown;
}

/**
 * Mutual TLS for the store routes: the connection must carry a client
 * certificate that HQ's TLS_CLIENT_CA_FILE verified (signed by the chain CA,
 * in its validity dates), issued to a store (OU=store) whose id (CN) is the
 * store in the path, and not revoked. 401 without one or with one HQ does not
 * trust, 403 for another store's. Checked before the bearer token and before
 * any body is read: a stolen token alone uploads nothing.
 */
export function storeCertificateAuth(options: StoreCertificateOptions): RequestHandler {
  let revoked: { serials: Set<string>; until: number } | undefined;
  let loading: Promise<Set<string>> | undefined;
  const revokedSerials = async (): Promise<Set<string>> => {
    if (revoked && revoked.until > Date.now()) return revoked.serials;
    loading ??= revokedCertificateSerials(options.pool)
      .then((serials) => {
        revoked = { serials, until: Date.now() + options.cacheMs };
        return serials;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };
  return async (req: Request, _res, next) => {
    const cert = clientCertificate(req.socket);
    if (!cert) {
      next(new HttpProblem('UNAUTHORIZED', "a store connects with its client certificate (HQ_CLIENT_CERT_FILE, issued by `tillstream store add`); this connection presented none"));
      return;
    }
    if (!cert.authorized) {
      next(new HttpProblem('UNAUTHORIZED', `HQ does not trust this client certificate (${cert.error ?? 'not verified'}): it must be signed by the chain CA and not expired`));
      return;
    }
    const storeId = String(req.params.storeId);
    if (cert.organizationalUnit !== 'store' || cert.commonName !== storeId) {
      next(new HttpProblem('FORBIDDEN', `this client certificate belongs to ${cert.organizationalUnit ?? '(no OU)'} ${cert.commonName ?? '(no CN)'}; it may not act for store ${storeId}`));
      return;
    }
    try {
      if ((await revokedSerials()).has(cert.serial)) {
        next(new HttpProblem('UNAUTHORIZED', `client certificate ${cert.serial} of store ${storeId} is revoked`));
        return;
      }
    } catch (err) {
      next(options.onLookupError(err));
      return;
    }
    next();
  };
}
