import { createHash } from 'node:crypto';
import { tryAdvisoryXactLock, type LockNamespace } from './locks.ts';
import { withTransaction, type Pool, type PoolClient } from './pool.ts';

/** What an idempotent operation stored the first time: the request's hash and its result. */
export interface StoredOutcome<Result> {
  hash: Buffer;
  result: Result;
}

export interface IdempotentOperation<Result> {
  /** Whose keys these are (LOCK_NAMESPACE): one lock per key in it. */
  namespace: LockNamespace;
  /** The idempotency key, unique within the namespace ("<store>:<batch id>"). */
  key: string;
  /** Hash of the request (see {@link requestHash}): the same key with another hash is refused. */
  hash: Buffer;
  /** The outcome stored under the key by an earlier run, if any. */
  find(client: PoolClient): Promise<StoredOutcome<Result> | undefined>;
  /** Does the work and stores its result with `hash` under the key, in `client`'s transaction. */
  perform(client: PoolClient): Promise<Result>;
  /** On a replay, before it is returned (still in the transaction). */
  onReplay?(client: PoolClient, result: Result): Promise<void>;
  /** The errors to throw (HTTP problems, at an API): */
  refuse: {
    /** Another request holds the key right now (HTTP 409 with Retry-After). */
    inFlight(): Error;
    /** The key was used with another request (HTTP 422). */
    reused(): Error;
  };
}

/** SHA-256 of a request's parts (zod rebuilds bodies in schema order, so JSON of a validated body is stable). */
export function requestHash(...parts: string[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/**
 * Runs an operation at most once per key (ARCHITECTURE.md invariant 3), in
 * one database transaction: the key's advisory lock is taken without
 * waiting (held by a concurrent copy: `refuse.inFlight()`), then a stored
 * outcome is replayed if its hash matches (`refuse.reused()` if not), else
 * the operation is performed and stores its outcome before the commit. A
 * failure rolls everything back, key included: the next copy runs anew.
 */
export async function runIdempotent<Result>(pool: Pool, op: IdempotentOperation<Result>): Promise<{ result: Result; replayed: boolean }> {
  return withTransaction(pool, async (client) => {
    if (!(await tryAdvisoryXactLock(client, op.namespace, op.key))) throw op.refuse.inFlight();
    const previous = await op.find(client);
    if (previous) {
      if (!previous.hash.equals(op.hash)) throw op.refuse.reused();
      await op.onReplay?.(client, previous.result);
      return { result: previous.result, replayed: true };
    }
    return { result: await op.perform(client), replayed: false };
  });
}
