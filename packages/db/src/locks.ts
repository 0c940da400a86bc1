import type { Queryable } from './pool.ts';

/**
 * Every PostgreSQL advisory lock Tillstream takes, by namespace. A lock is
 * the pair (namespace, key) — PostgreSQL's two-int4 form — so locks of two
 * namespaces can never collide, whatever their keys: a new kind of lock gets
 * a new entry here, never a number picked at its call site. Keys are 0 for a
 * namespace that is one lock, or `hashtext(key)` for one lock per key (two
 * keys sharing a hash only make one of them wait or retry).
 */
export const LOCK_NAMESPACE = {
  /** Serialises migration runs on one database (session lock, migrate.ts). */
  migrations: 1,
  /** Writers of the sync outbox and sync's batch cutter (sync-outbox.ts). */
  syncOutbox: 2,
  /** One inventory operation per Idempotency-Key at a time (inventory's operations.ts). */
  inventoryOperation: 3,
  /** One application of a store's upload batch at a time (HQ's batches.ts). */
  hqBatch: 4,
  /** One application of HQ's catalog to inventory's items at a time (inventory's catalog.ts). */
  inventoryCatalog: 5,
  /** One HQ process at a time keeps HQ's storage: partitions ahead, retention, pruning (HQ's storage.ts; session lock). */
  hqStorage: 6,
  /** One trends process at a time makes the store's demand forecasts (trends' forecasts.ts; session lock). */
  trendsForecast: 7,
} as const;

export type LockNamespace = keyof typeof LOCK_NAMESPACE;

/** The lock's second int4 from $2: 0 for a namespace that is one lock, else the key's hash. */
const KEY_SQL = `CASE WHEN $2::text IS NULL THEN 0 ELSE hashtext($2::text) END`;

/** Waits for the lock until the caller's transaction ends. */
export async function advisoryXactLock(db: Queryable, namespace: LockNamespace, key?: string): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock($1::int, ${KEY_SQL})`, [LOCK_NAMESPACE[namespace], key ?? null]);
}

/** Takes the lock until the caller's transaction ends if it is free; false when another transaction holds it. */
export async function tryAdvisoryXactLock(db: Queryable, namespace: LockNamespace, key?: string): Promise<boolean> {
  const { rows } = await db.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock($1::int, ${KEY_SQL}) AS locked`, [LOCK_NAMESPACE[namespace], key ?? null]);
  return rows[0]?.locked === true;
}

/** Waits for the lock until the session ends or unlocks it (migrations: one run at a time, across its transactions). */
export async function advisorySessionLock(db: Queryable, namespace: LockNamespace, key?: string): Promise<void> {
  await db.query(`SELECT pg_advisory_lock($1::int, ${KEY_SQL})`, [LOCK_NAMESPACE[namespace], key ?? null]);
}

/** Takes the lock until the session ends or unlocks it if it is free; false when another session holds it. */
export async function tryAdvisorySessionLock(db: Queryable, namespace: LockNamespace, key?: string): Promise<boolean> {
  const { rows } = await db.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock($1::int, ${KEY_SQL}) AS locked`, [LOCK_NAMESPACE[namespace], key ?? null]);
  return rows[0]?.locked === true;
}

/** Releases a session lock taken by this session. */
export async function advisorySessionUnlock(db: Queryable, namespace: LockNamespace, key?: string): Promise<void> {
  await db.query(`SELECT pg_advisory_unlock($1::int, ${KEY_SQL})`, [LOCK_NAMESPACE[namespace], key ?? null]);
}
