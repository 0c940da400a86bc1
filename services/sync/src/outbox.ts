import type { InventoryAlert, InventoryLevel, PosTransaction, SalesAggregate, SyncRecord } from '@tillstream/contracts';
import { appendSyncOutbox, SYNC_OUTBOX_LOCK, type PoolClient, type Queryable } from '@tillstream/db';

/**
 * The store's HQ backlog (migrations/store/*_sync.sql). Each sync consumer
 * appends what it consumed here, in the transaction that stores its offset;
 * the record's identity within its stream is unique, so a re-published event
 * is not uploaded twice. Writers and the batch cutter share one advisory
 * lock (appendSyncOutbox in @tillstream/db, which quarantine entries use too).
 */
const OUTBOX_LOCK = SYNC_OUTBOX_LOCK;
const append = appendSyncOutbox;

/** The identity of each stream's records, and what a manifest or replay selects a transaction by. */
export const appendOutbox = {
  transactions: (client: PoolClient, txs: readonly PosTransaction[]) =>
    append(
      client,
      txs.map((tx) => ({ stream: 'transaction', key: tx.transactionId, data: tx, businessDay: tx.businessDay, terminalId: tx.terminalId, sequenceNumber: tx.sequenceNumber })),
    ),
  aggregates: (client: PoolClient, aggregates: readonly SalesAggregate[]) =>
    append(
      client,
      aggregates.map((a) => ({ stream: 'aggregate', key: `${a.granularity}|${a.windowStart}|${a.dimension}|${a.member}#${a.revision}`, data: a })),
    ),
  levels: (client: PoolClient, levels: readonly InventoryLevel[]) =>
    append(
      client,
      levels.map((l) => ({ stream: 'level', key: `${l.sku}#${l.lastMovement?.id ?? ''}#${l.updatedAt}`, data: l })),
    ),
  alerts: (client: PoolClient, alerts: readonly InventoryAlert[]) => append(client, alerts.map((a) => ({ stream: 'alert', key: a.alertId, data: a }))),
};

export interface Batch {
  batchId: string;
  firstId: string;
  lastId: string;
  records: number;
}

/**
 * Cuts the outbox records not in a batch yet into batches of at most
 * `size` records (consecutive id ranges). Deterministic ids
 * ("<store>-<first>-<last>"): a batch is the same batch however often it is
 * enqueued or sent.
 */
export async function cutBatches(client: PoolClient, storeId: string, size: number): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [OUTBOX_LOCK]);
  const { rows } = await client.query<{ n: string }>(
    `WITH next AS (
       SELECT id, created_at, (row_number() OVER (ORDER BY id) - 1) / $2 AS chunk
       FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)
     ), cut AS (
       INSERT INTO sync_batches (batch_id, first_id, last_id, records, oldest_at)
       SELECT $1 || '-' || min(id) || '-' || max(id), min(id), max(id), count(*), min(created_at) FROM next GROUP BY chunk
       RETURNING 1
     )
     SELECT count(*) AS n FROM cut`,
    [storeId, size],
  );
  return Number(rows[0]?.n ?? 0);
}

export async function unackedBatches(db: Queryable, limit = 10_000): Promise<Batch[]> {
  const { rows } = await db.query<{ batch_id: string; first_id: string; last_id: string; records: number }>(
    'SELECT batch_id, first_id, last_id, records FROM sync_batches WHERE acked_at IS NULL ORDER BY first_id LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({ batchId: r.batch_id, firstId: r.first_id, lastId: r.last_id, records: r.records }));
}

/**
 * A batch's records as the JSON array the batch body carries, built by
 * PostgreSQL from the stored documents: the store parses and re-serialises
 * nothing on the way to HQ.
 */
export async function batchRecordsJson(db: Queryable, batch: Pick<Batch, 'firstId' | 'lastId'>): Promise<{ json: string; count: number }> {
  const { rows } = await db.query<{ json: string; n: string }>(
    `SELECT coalesce(json_agg(json_build_object('stream', stream, 'key', record_key, 'data', data) ORDER BY id), '[]')::text AS json, count(*) AS n
     FROM sync_outbox WHERE id BETWEEN $1 AND $2`,
    [batch.firstId, batch.lastId],
  );
  return { json: rows[0]!.json, count: Number(rows[0]!.n) };
}

/** The transactions a replay request asks for, as the store holds them. */
export async function journalRange(db: Queryable, range: { businessDay: string; terminalId: string; from: number; to: number }): Promise<SyncRecord[]> {
  const { rows } = await db.query<{ record_key: string; data: PosTransaction }>(
    `SELECT record_key, data FROM sync_outbox
     WHERE stream = 'transaction' AND business_day = $1 AND terminal_id = $2 AND sequence_number BETWEEN $3 AND $4 ORDER BY sequence_number, id`,
    [range.businessDay, range.terminalId, range.from, range.to],
  );
  return rows.map((r) => ({ stream: 'transaction', key: r.record_key, data: r.data }));
}

export interface Backlog {
  records: number;
  oldestAt: string | null;
  batches: number;
}

/** Records HQ has not acknowledged yet (in unacknowledged batches or not cut yet). */
export async function backlog(db: Queryable): Promise<Backlog> {
  const { rows } = await db.query<{ batched: string; batches: string; oldest: Date | null; uncut: string; uncut_oldest: Date | null }>(
    `SELECT coalesce(sum(records), 0) AS batched, count(*) AS batches, min(oldest_at) AS oldest,
       (SELECT count(*) FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)) AS uncut,
       (SELECT min(created_at) FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)) AS uncut_oldest
     FROM sync_batches WHERE acked_at IS NULL`,
  );
  const r = rows[0]!;
  const oldest = [r.oldest, r.uncut_oldest].filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0];
  return { records: Number(r.batched) + Number(r.uncut), oldestAt: oldest?.toISOString() ?? null, batches: Number(r.batches) };
}

/** Every outbox record up to this id is acknowledged by HQ (the manifest of a day is sent only past its records). */
export async function ackedThrough(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ through: string }>(
    `SELECT coalesce((SELECT min(first_id) - 1 FROM sync_batches WHERE acked_at IS NULL), (SELECT max(last_id) FROM sync_batches), 0) AS through`,
  );
  return rows[0]!.through;
}

/** Drops acknowledged records older than the retention (transactions stay that long for replays). */
export async function pruneOutbox(db: Queryable, retentionDays: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sync_outbox WHERE created_at < now() - make_interval(days => $1)
       AND id <= coalesce((SELECT min(first_id) - 1 FROM sync_batches WHERE acked_at IS NULL), (SELECT max(last_id) FROM sync_batches), 0)`,
    [retentionDays],
  );
  // The newest batch stays: its last id is where the next cut starts.
  await db.query(
    `DELETE FROM sync_batches WHERE acked_at < now() - make_interval(days => $1) AND last_id < (SELECT max(last_id) FROM sync_batches)`,
    [retentionDays],
  );
  return rowCount ?? 0;
}
