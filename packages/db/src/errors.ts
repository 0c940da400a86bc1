import { TillstreamError } from '@tillstream/contracts';

/**
 * What a PostgreSQL error means for the record or request that caused it:
 * - `transient`: the database cannot do it now, but will (it is down,
 *   restarting, read-only during a failover, cancelled the statement, holds
 *   a lock, is out of resources): retry with backoff, never dead-letter;
 * - `statement`: the statement itself is wrong (syntax, unknown column,
 *   unsupported feature): a bug or a missing migration, the same for every
 *   record, so consumers stop and retry loudly rather than dead-letter a topic;
 * - `data`: the record is wrong (22xxx data exceptions such as a NUL in
 *   text, 23xxx integrity violations, and whatever else): poison, dead-lettered.
 * Consumers never rely on a unique violation being thrown (they write with
 * ON CONFLICT), so 23505 reaching them is a real conflict: poison.
 */
export type PgErrorClass = 'transient' | 'statement' | 'data';

const TRANSIENT_SQLSTATE = new RegExp(
  `^(${[
    '08...', // connection exception
    '25006', // read_only_sql_transaction: a standby, or a failover in progress
    '25P03', // idle_in_transaction_session_timeout: the session was ended
    '40001', // serialization_failure
    '40003', // statement_completion_unknown
    '40P01', // deadlock_detected
    '53...', // insufficient resources: disk full, out of memory, too many connections
    '55P03', // lock_not_available (lock_timeout, NOWAIT)
    '57014', // query_canceled (statement_timeout, pg_cancel_backend)
    '57P0.', // admin/crash shutdown, cannot connect now, database dropped, idle session timeout
    '58...', // system error: I/O
    '72000', // snapshot_too_old
    'XX000', // internal_error
  ].join('|')})$`,
);
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'terminating connection',
];
const STATEMENT_BUG_SQLSTATE = /^(42...|3F...|0A...)$/;

/** The class of a pg (or connection) error; see {@link PgErrorClass}. */
export function pgErrorClass(err: unknown): PgErrorClass {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NODE_CODES.has(code)) return 'transient';
  if (STATEMENT_BUG_SQLSTATE.test(code)) return 'statement';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (TRANSIENT_MESSAGES.some((m) => message.includes(m))) return 'transient';
  return 'data';
}

/** True when a pg error means the database is unreachable or busy rather than the statement or the data being wrong. */
export function isTransientPgError(err: unknown): boolean {
  return pgErrorClass(err) === 'transient';
}

/**
 * Wraps a pg error in a TillstreamError whose `retriable` flag tells consumers
 * (retry vs dead-letter) and APIs (503 vs 4xx/500) what to do with it. The
 * SQLSTATE leads the message, so a dead letter says which rule refused it.
 */
export function classifyPgError(err: unknown): TillstreamError {
  if (err instanceof TillstreamError) return err;
  const sqlstate = (err as { code?: unknown } | null)?.code;
  const text = (err as Error)?.message ?? String(err);
  const message = typeof sqlstate === 'string' && /^[0-9A-Z]{5}$/.test(sqlstate) ? `SQLSTATE ${sqlstate}: ${text}` : text;
  switch (pgErrorClass(err)) {
    case 'statement':
      return new TillstreamError('DATABASE_STATEMENT_INVALID', message, { cause: err, retriable: true });
    case 'transient':
      return new TillstreamError('DATABASE_UNAVAILABLE', message, { cause: err, retriable: true });
    default:
      return new TillstreamError('DATABASE_ERROR', message, { cause: err, retriable: false });
  }
}
