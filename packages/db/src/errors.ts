import { TillstreamError } from '@tillstream/contracts';

/**
 * SQLSTATE classes and codes that mean "try again later", not "this input is
 * wrong": connection exceptions (08), operator intervention such as a
 * shutdown (57P01-57P03), insufficient resources (53), serialization
 * failures and deadlocks (40001, 40P01).
 */
const TRANSIENT_SQLSTATE = /^(08...|53...|57P0[1-3]|40001|40P01)$/;
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'terminating connection',
];

/** True when a pg error means the database is unreachable or busy rather than the statement being wrong. */
export function isTransientPgError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && (TRANSIENT_SQLSTATE.test(e.code) || TRANSIENT_NODE_CODES.has(e.code))) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return TRANSIENT_MESSAGES.some((m) => message.includes(m));
}

/**
 * SQLSTATE classes that mean the statement itself is wrong (syntax, unknown
 * column or table, feature not supported): a bug or a missing migration,
 * the same for every record. Consumers must stop and retry (loudly) rather
 * than dead-letter the whole topic one record at a time.
 */
const STATEMENT_BUG_SQLSTATE = /^(42...|3F...|0A...)$/;

/**
 * Wraps a pg error in a TillstreamError whose `retriable` flag tells consumers
 * (retry vs dead-letter) and APIs (503 vs 4xx/500) what to do with it.
 */
export function classifyPgError(err: unknown): TillstreamError {
  if (err instanceof TillstreamError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && STATEMENT_BUG_SQLSTATE.test(code)) {
    return new TillstreamError('DATABASE_STATEMENT_INVALID', (err as Error).message, { cause: err, retriable: true });
  }
  const transient = isTransientPgError(err);
  return new TillstreamError(transient ? 'DATABASE_UNAVAILABLE' : 'DATABASE_ERROR', (err as Error)?.message ?? String(err), {
    cause: err,
    retriable: transient,
  });
}
