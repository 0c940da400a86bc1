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
