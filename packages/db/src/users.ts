import { randomBytes } from 'node:crypto';
import type { Principal, UserRole } from '@tillstream/contracts';
import { findStoreByToken } from './store-credentials.ts';
import { findTerminalByToken, hashToken, isTokenShaped, newToken } from './terminals.ts';
import type { Queryable } from './pool.ts';

/**
 * People's tokens and dashboard sessions (migrations/common: user_credentials,
 * user_sessions). Tokens are made by the same code as terminal and store
 * tokens (newToken) and, like them, only their hash is stored.
 */

export interface UserIdentity {
  name: string;
  role: UserRole;
}

/** Issues a token for a user (rotating the one they had: one live token per name and role). */
export async function issueUserToken(db: Queryable, user: UserIdentity): Promise<string> {
  const token = newToken();
  await db.query(
    `WITH revoked AS (
       UPDATE user_credentials SET revoked_at = now() WHERE name = $2 AND role = $3 AND revoked_at IS NULL
     )
     INSERT INTO user_credentials (token_hash, name, role) VALUES ($1, $2, $3)`,
    [hashToken(token), user.name, user.role],
  );
  return token;
}

/** Revokes a user's tokens (every role, or one) and with them every session they signed in; returns how many tokens were live. */
export async function revokeUser(db: Queryable, name: string, role?: UserRole): Promise<number> {
  const { rowCount } = await db.query(
    `WITH revoked AS (
       UPDATE user_credentials SET revoked_at = now() WHERE name = $1 AND ($2::text IS NULL OR role = $2) AND revoked_at IS NULL RETURNING token_hash
     ), ended AS (
       UPDATE user_sessions SET revoked_at = now() WHERE token_hash IN (SELECT token_hash FROM revoked) AND revoked_at IS NULL
     )
     SELECT 1 FROM revoked`,
    [name, role ?? null],
  );
  return rowCount ?? 0;
}

export interface UserListing extends UserIdentity {
  createdAt: Date;
  revokedAt: Date | null;
}

export async function listUsers(db: Queryable): Promise<UserListing[]> {
  const { rows } = await db.query<{ name: string; role: UserRole; created_at: Date; revoked_at: Date | null }>(
    'SELECT name, role, created_at, revoked_at FROM user_credentials ORDER BY name, role, created_at',
  );
  return rows.map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at, revokedAt: r.revoked_at }));
}

/** The user a live token belongs to, or undefined. */
export async function findUserByToken(db: Queryable, token: string): Promise<UserIdentity | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const { rows } = await db.query<{ name: string; role: UserRole }>('SELECT name, role FROM user_credentials WHERE token_hash = $1 AND revoked_at IS NULL', [hashToken(token)]);
  return rows[0];
}

/** How long a dashboard sign-in lasts: a working day, then the form again. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** Sessions look like "ts_<43 base64url chars>" (256 random bits), told apart from tokens at a glance. */
const SESSION = /^ts_[A-Za-z0-9_-]{43}$/;

/**
 * Exchanges a live user token for a session that ends at `expiresAt` (or
 * sooner, with its token). Undefined when the token is unknown or revoked.
 * The session id is returned once; only its hash is stored.
 */
export async function openSession(db: Queryable, token: string, ttlMs: number): Promise<{ session: string; user: UserIdentity; expiresAt: Date } | undefined> {
  const user = await findUserByToken(db, token);
  if (!user) return undefined;
  const session = `ts_${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO user_sessions (session_hash, token_hash, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond') RETURNING expires_at`,
    [hashToken(session), hashToken(token), ttlMs],
  );
  return { session, user, expiresAt: rows[0]!.expires_at };
}

/** Ends a session (signing out); true when it was live. */
export async function closeSession(db: Queryable, session: string): Promise<boolean> {
  if (!SESSION.test(session)) return false;
  const { rowCount } = await db.query('UPDATE user_sessions SET revoked_at = now() WHERE session_hash = $1 AND revoked_at IS NULL', [hashToken(session)]);
  return (rowCount ?? 0) > 0;
}

/** Sign-in and sign-out for a dashboard (see @tillstream/dashboard): sessions of SESSION_TTL_MS. */
export function dashboardSessions(db: Queryable): {
  signIn(token: string): Promise<{ session: string; role: UserRole; expiresAt: Date } | undefined>;
  signOut(session: string): Promise<void>;
} {
  return {
    signIn: async (token) => {
      const opened = await openSession(db, token, SESSION_TTL_MS);
      return opened && { session: opened.session, role: opened.user.role, expiresAt: opened.expiresAt };
    },
    signOut: async (session) => {
      await closeSession(db, session);
    },
  };
}

/** The user of a live session (not expired, not signed out, its token not revoked), or undefined. */
export async function findUserBySession(db: Queryable, session: string): Promise<UserIdentity | undefined> {
  if (!SESSION.test(session)) return undefined;
  const { rows } = await db.query<{ name: string; role: UserRole }>(
    `SELECT c.name, c.role FROM user_sessions s JOIN user_credentials c USING (token_hash)
     WHERE s.session_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND c.revoked_at IS NULL`,
    [hashToken(session)],
  );
  return rows[0];
}

/**
 * Everyone a service's database knows, by credential: a bearer token is a
 * terminal's or a person's (in a store's database) or a store's or a
 * person's (in HQ's); a session is a person's. Undefined for anything else.
 */
export async function findPrincipal(db: Queryable, site: 'store' | 'hq', credential: { kind: 'bearer' | 'session'; secret: string }): Promise<Principal | undefined> {
  if (credential.kind === 'session') {
    const user = await findUserBySession(db, credential.secret);
    return user && { role: user.role, name: user.name };
  }
  if (!isTokenShaped(credential.secret)) return undefined;
  if (site === 'store') {
    const terminal = await findTerminalByToken(db, credential.secret);
    if (terminal) return { role: 'terminal', name: `${terminal.storeId}/${terminal.terminalId}`, storeId: terminal.storeId, terminalId: terminal.terminalId };
  } else {
    const storeId = await findStoreByToken(db, credential.secret);
    if (storeId) return { role: 'store', name: storeId, storeId };
  }
  const user = await findUserByToken(db, credential.secret);
  return user && { role: user.role, name: user.name };
}
