import { hashToken, isTokenShaped, newToken } from './terminals.ts';
import type { Queryable } from './pool.ts';

/**
 * HQ's per-store credentials (migrations/hq): a store's sync service sends
 * its token with every upload; only the hash is kept. Re-adding a store
 * rotates its token.
 */
export async function issueStoreToken(db: Queryable, storeId: string): Promise<string> {
  const token = newToken();
  await db.query(
    `WITH revoked AS (UPDATE hq_store_credentials SET revoked_at = now() WHERE store_id = $2 AND revoked_at IS NULL)
     INSERT INTO hq_store_credentials (token_hash, store_id) VALUES ($1, $2)`,
    [hashToken(token), storeId],
  );
  return token;
}

/** Revokes a store's live token; returns how many were live. */
export async function revokeStore(db: Queryable, storeId: string): Promise<number> {
  const { rowCount } = await db.query('UPDATE hq_store_credentials SET revoked_at = now() WHERE store_id = $1 AND revoked_at IS NULL', [storeId]);
  return rowCount ?? 0;
}

/** The store a live token belongs to, or undefined. */
export async function findStoreByToken(db: Queryable, token: string): Promise<string | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const { rows } = await db.query<{ store_id: string }>('SELECT store_id FROM hq_store_credentials WHERE token_hash = $1 AND revoked_at IS NULL', [hashToken(token)]);
  return rows[0]?.store_id;
}

/** Records a client certificate issued to a store (its serial as @tillstream/certs prints it), so that revoking the store revokes it. */
export async function recordStoreCertificate(db: Queryable, certificate: { storeId: string; serial: string; notAfter: Date }): Promise<void> {
  await db.query('INSERT INTO hq_store_certificates (serial, store_id, not_after) VALUES ($1, $2, $3) ON CONFLICT (serial) DO NOTHING', [
    certificate.serial.toUpperCase(),
    certificate.storeId,
    certificate.notAfter,
  ]);
}

/**
 * Revokes client certificates: one by its serial (after a rotation, the old
 * one; a certificate `tillstream certs` made is listed on first revocation),
 * or every certificate recorded for a store. Returns how many were live.
 */
export async function revokeStoreCertificates(db: Queryable, target: { storeId: string; serial?: string }): Promise<number> {
  if (target.serial !== undefined) {
    const { rowCount } = await db.query(
      `INSERT INTO hq_store_certificates (serial, store_id, not_after, revoked_at) VALUES ($1, $2, 'infinity', now())
       ON CONFLICT (serial) DO UPDATE SET revoked_at = now() WHERE hq_store_certificates.revoked_at IS NULL AND hq_store_certificates.store_id = EXCLUDED.store_id`,
      [target.serial.toUpperCase(), target.storeId],
    );
    return rowCount ?? 0;
  }
  const { rowCount } = await db.query('UPDATE hq_store_certificates SET revoked_at = now() WHERE store_id = $1 AND revoked_at IS NULL', [target.storeId]);
  return rowCount ?? 0;
}

/** Every revoked client certificate serial (HQ refuses these even though its CA signed them). */
export async function revokedCertificateSerials(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ serial: string }>('SELECT serial FROM hq_store_certificates WHERE revoked_at IS NOT NULL');
  return new Set(rows.map((r) => r.serial));
}

/**
 * Issues a fresh token for each of many stores in one statement (a chain
 * provisioned at once: `tillstream simulate-chain`); rotates each store's
 * earlier token as issueStoreToken does. Returns the tokens by store id.
 */
export async function issueStoreTokens(db: Queryable, storeIds: readonly string[]): Promise<Map<string, string>> {
  const tokens = new Map(storeIds.map((id) => [id, newToken()]));
  await db.query(
    `WITH revoked AS (UPDATE hq_store_credentials SET revoked_at = now() WHERE store_id = ANY($2::text[]) AND revoked_at IS NULL)
     INSERT INTO hq_store_credentials (token_hash, store_id) SELECT * FROM unnest($1::bytea[], $2::text[])`,
    [[...tokens.values()].map(hashToken), [...tokens.keys()]],
  );
  return tokens;
}

/** recordStoreCertificate for many certificates in one statement. */
export async function recordStoreCertificates(db: Queryable, certificates: ReadonlyArray<{ storeId: string; serial: string; notAfter: Date }>): Promise<void> {
  await db.query(
    `INSERT INTO hq_store_certificates (serial, store_id, not_after) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT (serial) DO NOTHING`,
    [certificates.map((c) => c.serial.toUpperCase()), certificates.map((c) => c.storeId), certificates.map((c) => c.notAfter)],
  );
}
