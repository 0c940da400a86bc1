import pg from 'pg';
import type { Logger } from '@tillstream/observability';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs queries: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

// bigint (int8) and numeric come back as strings by default. Keep it so:
// offsets and money sums exceed 2^53 in theory, and quantities are exact decimals.

export interface PoolOptions {
  connectionString: string;
  logger: Logger;
  /** Default 10: a store server has 2 cores and PostgreSQL shares them. */
  max?: number;
  /** Shown in pg_stat_activity; name the service. */
  applicationName: string;
  /**
   * Connect timeout; default 3000 ms so a database outage surfaces as an
   * error the caller can classify (retry, 503) instead of a hang.
   */
  connectionTimeoutMs?: number;
  /** Server-side statement timeout; default 30 s, a guard against runaway queries. */
  statementTimeoutMs?: number;
  /**
   * Turn off synchronous_commit for this pool's sessions: a commit returns
   * before its WAL reaches disk. Only for data that is not the truth, where
   * losing the last few hundred milliseconds on a power cut is harmless
   * (ingest's idempotency journal: the truth is in Kafka). Default false.
   */
  asynchronousCommit?: boolean;
}

/** The one factory of PostgreSQL pools in Tillstream. */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    ...(options.asynchronousCommit ? { options: '-c synchronous_commit=off' } : {}),
  });
  // An idle client losing its connection (database restart) emits 'error' on
  // the pool; unhandled, that would crash the process. The pool replaces it.
  pool.on('error', (err) => options.logger.warn({ err }, 'idle PostgreSQL connection lost'));
  return pool;
}

/** Runs `fn` in a transaction on one client: COMMIT if it resolves, ROLLBACK if it throws. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
