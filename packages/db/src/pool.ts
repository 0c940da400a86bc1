import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Logger } from '@tillstream/observability';
import { classifyPgError, isTransientPgError } from './errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** One connection outside any pool; see {@link createClient}. */
export type Client = pg.Client;
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
   * CA certificate file of the server: connect over TLS and check the
   * server's certificate and host name (libpq's sslmode=verify-full).
   * Without it, the connection string decides (`?sslmode=verify-full&sslrootcert=<file>` works too).
   */
  caFile?: string;
  /** File holding the role's password (a secret); replaces a password in the connection string. */
  passwordFile?: string;
}

/**
 * One connection outside any pool (an administrator's session, a probe, a
 * test holding a lock open); the caller connects and ends it. pg is imported
 * nowhere but this package: this is the way to a single connection.
 */
export function createClient(options: { connectionString: string; connectionTimeoutMs?: number }): Client {
  return new pg.Client({ connectionString: options.connectionString, connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000 });
}

/** The connection string and password of a role whose password is a secret file. */
export function withPasswordFile(connectionString: string, passwordFile: string | undefined): { connectionString: string; password?: string } {
  if (passwordFile === undefined) return { connectionString };
  // pg lets a password in the URL win over the `password` option: take it out.
  const url = new URL(connectionString);
  url.password = '';
  return { connectionString: url.toString(), password: readFileSync(passwordFile, 'utf8').trim() };
}

/** pg's TLS options for sslmode=verify-full: the CA given, certificate and host name checked. */
export function verifyFull(caFile: string | undefined): { ssl?: pg.ClientConfig['ssl'] } {
  // rejectUnauthorized with Node's default checkServerIdentity: chain and host name, as verify-full.
  return caFile === undefined ? {} : { ssl: { ca: readFileSync(caFile, 'utf8'), rejectUnauthorized: true } };
}

/** The one factory of PostgreSQL pools in Tillstream. */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    ...withPasswordFile(options.connectionString, options.passwordFile),
    max: options.max ?? 10,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    // No JIT: Tillstream's statements are short and run thousands of times; JIT
    // compiled each batch's aggregation anew, at ~0.7 s a time (BENCHMARKS.md, trends).
    options: '-c jit=off',
    ...verifyFull(options.caFile),
  });
  // An idle client losing its connection (database restart) emits 'error' on
  // the pool; unhandled, that would crash the process. The pool replaces it.
  pool.on('error', (err) => options.logger.warn({ err }, 'idle PostgreSQL connection lost'));
  // A checked-out client has no pool listener (pg-pool removes it on acquire),
  // so a connection lost between two queries of a transaction emitted an
  // unhandled 'error' and killed the process. Every client keeps a listener
  // for its whole life; its next query fails with a transient error instead,
  // and withTransaction discards it.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.logger.debug({ err }, 'PostgreSQL connection lost'));
  });
  return pool;
}

/**
 * Runs `fn` in a transaction on one client: COMMIT if it resolves, ROLLBACK
 * if it throws. A client whose connection failed is discarded, not returned
 * to the pool. Database errors are thrown classified (see {@link classifyPgError}).
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw classifyPgError(err);
  }
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = isTransientPgError(err);
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    // Driver and connection errors get their retriable flag; the caller's own errors pass unchanged.
    throw err instanceof pg.DatabaseError || broken ? classifyPgError(err) : err;
  } finally {
    client.release(broken);
  }
}
