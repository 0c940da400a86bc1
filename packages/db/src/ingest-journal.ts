import type { PosTransaction, TenderType, TransactionType } from '@tillstream/contracts';
import type { Queryable } from './pool.ts';

/**
 * Ingest's idempotency journal (see migrations/store/*_ingest.sql). Every
 * statement works on a whole group-commit batch (UNNEST), so the database
 * costs two round trips per batch, not per transaction.
 */

export interface JournalEntry {
  transactionId: string;
  storeId: string;
  terminalId: string;
  sequenceNumber: number;
  businessDay: string;
  /** With trainingMode and tenders: what the day manifest counts (sync builds it from the journal). */
  type: TransactionType;
  trainingMode: boolean;
  tenders: Array<{ type: TenderType; amount: number; change: number }>;
  bodyHash: Buffer;
  receivedAt: Date;
  partition: number;
  offset: string;
}

/** Where and when the broker took a transaction, and the hash of the body the terminal sent ("same body" for replays). */
export interface JournalReceipt {
  bodyHash: Buffer;
  receivedAt: Date;
  partition: number;
  offset: string;
}

/**
 * The journal entry of a captured transaction: the one place entries are
 * built, whether at capture (ingest answered) or at restart (recovered from
 * the broker's log). A new journal column is filled here and only here.
 */
export function journalEntry(tx: PosTransaction, receipt: JournalReceipt): JournalEntry {
  return {
    transactionId: tx.transactionId,
    storeId: tx.storeId,
    terminalId: tx.terminalId,
    sequenceNumber: tx.sequenceNumber,
    businessDay: tx.businessDay,
    type: tx.type,
    trainingMode: tx.trainingMode,
    tenders: tx.tenders.map((t) => ({ type: t.type, amount: t.amount, change: t.change ?? 0 })),
    bodyHash: receipt.bodyHash,
    receivedAt: receipt.receivedAt,
    partition: receipt.partition,
    offset: receipt.offset,
  };
}

export interface JournalRecord {
  transactionId: string;
  bodyHash: Buffer;
  partition: number;
  offset: string;
  receivedAt: Date;
}

/** The journal rows of these ids, by id (absent ids were never acknowledged, or were pruned). */
export async function findTransactions(db: Queryable, transactionIds: string[]): Promise<Map<string, JournalRecord>> {
  if (transactionIds.length === 0) return new Map();
  const { rows } = await db.query<{ transaction_id: string; body_hash: Buffer; kafka_partition: number; kafka_offset: string; received_at: Date }>(
    `SELECT transaction_id, body_hash, kafka_partition, kafka_offset, received_at
     FROM ingest_transactions WHERE transaction_id = ANY($1::uuid[])`,
    [transactionIds],
  );
  return new Map(
    rows.map((r) => [
      r.transaction_id,
      { transactionId: r.transaction_id, bodyHash: r.body_hash, partition: r.kafka_partition, offset: r.kafka_offset, receivedAt: r.received_at },
    ]),
  );
}

/**
 * Records acknowledged transactions. An id already recorded keeps its first
 * receipt (ON CONFLICT DO NOTHING): a retried copy produced after a crash or
 * a timeout never replaces the receipt the terminal may already hold.
 */
export async function recordTransactions(db: Queryable, entries: JournalEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO ingest_transactions
       (transaction_id, store_id, terminal_id, sequence_number, business_day, body_hash, kafka_partition, kafka_offset, received_at, type, training, tenders)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::date[], $6::bytea[], $7::int[], $8::bigint[], $9::timestamptz[],
       $10::text[], $11::boolean[], $12::jsonb[])
     ON CONFLICT (transaction_id) DO NOTHING`,
    [
      entries.map((e) => e.transactionId),
      entries.map((e) => e.storeId),
      entries.map((e) => e.terminalId),
      entries.map((e) => e.sequenceNumber),
      entries.map((e) => e.businessDay),
      entries.map((e) => e.bodyHash),
      entries.map((e) => e.partition),
      entries.map((e) => e.offset),
      entries.map((e) => e.receivedAt),
      entries.map((e) => e.type),
      entries.map((e) => e.trainingMode),
      entries.map((e) => JSON.stringify(e.tenders)),
    ],
  );
}

/**
 * The next offset after the highest one recorded, per partition of the POS
 * topic: where the broker's log may hold receipts the journal lacks (the
 * journal is written after the answer, in log order). A whole-table scan,
 * once per start (no index on the offset: it would cost every capture a
 * second index write to save a start a few hundred milliseconds).
 */
export async function journalEnds(db: Queryable): Promise<Map<number, string>> {
  const { rows } = await db.query<{ kafka_partition: number; next: string }>(
    'SELECT kafka_partition, max(kafka_offset) + 1 AS next FROM ingest_transactions GROUP BY kafka_partition',
  );
  return new Map(rows.map((r) => [r.kafka_partition, String(r.next)]));
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

/** The highest sequence number ingest has accepted from each of a store's terminals (a till resumes its numbering after it). */
export async function lastSequenceNumbers(db: Queryable, storeId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ terminal_id: string; last: string }>(
    'SELECT terminal_id, max(sequence_number) AS last FROM ingest_transactions WHERE store_id = $1 GROUP BY terminal_id',
    [storeId],
  );
  return Object.fromEntries(rows.map((r) => [r.terminal_id, Number(r.last)]));
}
