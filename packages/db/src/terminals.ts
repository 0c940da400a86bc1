import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from './pool.ts';

/** Bearer tokens look like "tt_<43 base64url chars>": 256 random bits, recognisable in a leaked-secret scan. */
const TOKEN = /^tt_[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** A new bearer token (terminals and stores alike). */
export function newToken(): string {
  return `tt_${randomBytes(32).toString('base64url')}`;
}

/** True when `token` has the shape of a Tillstream bearer token (checked before any lookup). */
export function isTokenShaped(token: string): boolean {
  return TOKEN.test(token);
}

export interface TerminalIdentity {
  storeId: string;
  terminalId: string;
}

/**
 * Issues a new token for a terminal and revokes the ones it had: a terminal
 * holds one live token, so re-adding a terminal is how a token is rotated.
 * The token is returned once; only its hash is stored.
 */
export async function issueTerminalToken(db: Queryable, terminal: TerminalIdentity): Promise<string> {
  const token = newToken();
  await db.query(
    `WITH revoked AS (
       UPDATE terminal_credentials SET revoked_at = now()
       WHERE store_id = $2 AND terminal_id = $3 AND revoked_at IS NULL
     )
     INSERT INTO terminal_credentials (token_hash, store_id, terminal_id) VALUES ($1, $2, $3)`,
    [hashToken(token), terminal.storeId, terminal.terminalId],
  );
  return token;
}

/** Revokes every token of a terminal; returns how many were live. */
export async function revokeTerminal(db: Queryable, terminal: TerminalIdentity): Promise<number> {
  const { rowCount } = await db.query(
    'UPDATE terminal_credentials SET revoked_at = now() WHERE store_id = $1 AND terminal_id = $2 AND revoked_at IS NULL',
    [terminal.storeId, terminal.terminalId],
  );
  return rowCount ?? 0;
}

/** The terminal a live token belongs to, or undefined (unknown, malformed or revoked). */
export async function findTerminalByToken(db: Queryable, token: string): Promise<TerminalIdentity | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const { rows } = await db.query<{ store_id: string; terminal_id: string }>(
    'SELECT store_id, terminal_id FROM terminal_credentials WHERE token_hash = $1 AND revoked_at IS NULL',
    [hashToken(token)],
  );
  const row = rows[0];
  return row ? { storeId: row.store_id, terminalId: row.terminal_id } : undefined;
}

export interface TerminalListing extends TerminalIdentity {
  createdAt: Date;
  revokedAt: Date | null;
}

export async function listTerminals(db: Queryable, storeId?: string): Promise<TerminalListing[]> {
  const { rows } = await db.query<{ store_id: string; terminal_id: string; created_at: Date; revoked_at: Date | null }>(
    `SELECT store_id, terminal_id, created_at, revoked_at FROM terminal_credentials
     WHERE $1::text IS NULL OR store_id = $1 ORDER BY store_id, terminal_id, created_at`,
    [storeId ?? null],
  );
  return rows.map((r) => ({ storeId: r.store_id, terminalId: r.terminal_id, createdAt: r.created_at, revokedAt: r.revoked_at }));
}
