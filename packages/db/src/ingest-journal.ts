import type { Queryable } from './pool.ts';

/**
 * Ingest's idempotency journal (see migrations/store/*_ingest.sql): every
 * statement works on a whole group-commit batch at once (UNNEST), so the
 * database costs a few round trips per batch, not per transaction.
 */

export interface JournalEntry {
  transactionId: string;
  storeId: string;
  terminalId: string;
  sequenceNumber: number;
  businessDay: string;
  bodyHash: Buffer;
  receivedAt: Date;
}

export interface JournalReceipt {
  transactionId: string;
  partition: number;
  offset: string;
  receivedAt: Date;
}

export type ClaimOutcome =
  | { kind: 'claimed' }
  | { kind: 'committed'; receipt: JournalReceipt }
  | { kind: 'body-mismatch' }
  | { kind: 'in-flight' };

/**
 * Claims each entry's transactionId for `claimMs`: new ids are inserted as
 * pending; an id already committed returns its receipt; one claimed by a
 * live attempt is in flight; one whose claim lapsed (crash, broker timeout)
 * is taken over. Same id with another body hash: body-mismatch.
 * Entries must have distinct transactionIds.
 */
export async function claimTransactions(db: Queryable, entries: JournalEntry[], claimMs: number): Promise<ClaimOutcome[]> {
  if (entries.length === 0) return [];
  const inserted = await db.query<{ transaction_id: string }>(
    `INSERT INTO ingest_transactions
       (transaction_id, store_id, terminal_id, sequence_number, business_day, body_hash, state, claimed_until, received_at)
     SELECT t.id, t.store, t.terminal, t.seq, t.day, t.hash, 'pending', now() + make_interval(secs => $8::float8 / 1000), t.received
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::date[], $6::bytea[], $7::timestamptz[])
       AS t(id, store, terminal, seq, day, hash, received)
     ON CONFLICT (transaction_id) DO NOTHING
     RETURNING transaction_id`,
    [
      entries.map((e) => e.transactionId),
      entries.map((e) => e.storeId),
      entries.map((e) => e.terminalId),
      entries.map((e) => e.sequenceNumber),
      entries.map((e) => e.businessDay),
      entries.map((e) => e.bodyHash),
      entries.map((e) => e.receivedAt),
      claimMs,
    ],
  );
  const claimed = new Set(inserted.rows.map((r) => r.transaction_id));
  const outcomes = new Map<string, ClaimOutcome>();
  for (const id of claimed) outcomes.set(id, { kind: 'claimed' });
  const rest = entries.filter((e) => !claimed.has(e.transactionId));
  if (rest.length > 0) {
    const existing = await db.query<{
      transaction_id: string;
      body_hash: Buffer;
      state: string;
      lapsed: boolean;
      kafka_partition: number | null;
      kafka_offset: string | null;
      received_at: Date;
    }>(
      `SELECT transaction_id, body_hash, state, claimed_until < now() AS lapsed, kafka_partition, kafka_offset, received_at
       FROM ingest_transactions WHERE transaction_id = ANY($1::uuid[])`,
      [rest.map((e) => e.transactionId)],
    );
    const byId = new Map(existing.rows.map((r) => [r.transaction_id, r]));
    const lapsed: JournalEntry[] = [];
    for (const entry of rest) {
      const row = byId.get(entry.transactionId);
      if (!row) outcomes.set(entry.transactionId, { kind: 'in-flight' }); // inserted concurrently, not yet visible
      else if (!row.body_hash.equals(entry.bodyHash)) outcomes.set(entry.transactionId, { kind: 'body-mismatch' });
      else if (row.state === 'committed') {
        outcomes.set(entry.transactionId, {
          kind: 'committed',
          receipt: { transactionId: entry.transactionId, partition: row.kafka_partition!, offset: row.kafka_offset!, receivedAt: row.received_at },
        });
      } else if (row.lapsed) lapsed.push(entry);
      else outcomes.set(entry.transactionId, { kind: 'in-flight' });
    }
    if (lapsed.length > 0) {
      // Conditional on the claim still being lapsed: of two concurrent takeovers, one wins.
      const taken = await db.query<{ transaction_id: string }>(
        `UPDATE ingest_transactions SET claimed_until = now() + make_interval(secs => $2::float8 / 1000)
         WHERE transaction_id = ANY($1::uuid[]) AND state = 'pending' AND claimed_until < now()
         RETURNING transaction_id`,
        [lapsed.map((e) => e.transactionId), claimMs],
      );
      const won = new Set(taken.rows.map((r) => r.transaction_id));
      for (const e of lapsed) outcomes.set(e.transactionId, won.has(e.transactionId) ? { kind: 'claimed' } : { kind: 'in-flight' });
    }
  }
  return entries.map((e) => outcomes.get(e.transactionId) ?? { kind: 'in-flight' });
}

/** Marks claimed ids committed at their broker position. */
export async function commitTransactions(db: Queryable, receipts: Array<{ transactionId: string; partition: number; offset: string }>): Promise<void> {
  if (receipts.length === 0) return;
  await db.query(
    `UPDATE ingest_transactions AS j
     SET state = 'committed', kafka_partition = u.p, kafka_offset = u.o, committed_at = now(), claimed_until = NULL
     FROM unnest($1::uuid[], $2::int[], $3::bigint[]) AS u(id, p, o)
     WHERE j.transaction_id = u.id AND j.state = 'pending'`,
    [receipts.map((r) => r.transactionId), receipts.map((r) => r.partition), receipts.map((r) => r.offset)],
  );
}

/** Ends the claims of ids whose produce failed, so the terminal's retry can take them over at once. */
export async function releaseTransactions(db: Queryable, transactionIds: string[]): Promise<void> {
  if (transactionIds.length === 0) return;
  await db.query(
    `UPDATE ingest_transactions SET claimed_until = now() - interval '1 millisecond'
     WHERE transaction_id = ANY($1::uuid[]) AND state = 'pending'`,
    [transactionIds],
  );
}

/**
 * Deletes journal rows received before `before`, at most `limit` at a time
 * (short transactions on a live store). Returns how many it deleted.
 */
export async function pruneJournal(db: Queryable, before: Date, limit = 10_000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM ingest_transactions WHERE transaction_id IN (
       SELECT transaction_id FROM ingest_transactions WHERE received_at < $1 LIMIT $2)`,
    [before, limit],
  );
  return rowCount ?? 0;
}
