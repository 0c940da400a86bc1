import {
  hqInventoryAlerts,
  hqInventoryLevels,
  hqSalesAggregates,
  hqTransactions,
  type AnyTopicSpec,
  type BatchResult,
  type SyncBatch,
  type SyncStream,
} from '@tillstream/contracts';
import { bookHqQuarantine, requestHash, runIdempotent, type Pool, type PoolClient, type Queryable } from '@tillstream/db';
import { HttpProblem, pointer } from '@tillstream/http';
import { HEADER, type TypedProducer } from '@tillstream/kafka';

/** Where each uploaded stream goes in HQ's cluster (quarantine entries are booked straight into hq_quarantine). */
const TOPIC_OF: Record<Exclude<SyncStream, 'quarantine'>, AnyTopicSpec> = {
  transaction: hqTransactions,
  aggregate: hqSalesAggregates,
  level: hqInventoryLevels,
  alert: hqInventoryAlerts,
};

export interface AppliedBatch {
  result: BatchResult;
  replayed: boolean;
}

/** Records that a store was heard from, and how far behind its upload says it is. */
export async function touchStore(db: Queryable, storeId: string, backlog: SyncBatch['backlog'] | undefined, batch: boolean): Promise<void> {
  await db.query(
    `INSERT INTO hq_store_health AS h (store_id, last_seen_at, last_batch_at, backlog_records, oldest_unsynced_at)
     VALUES ($1, now(), CASE WHEN $2 THEN now() END, coalesce($3, 0), $4)
     ON CONFLICT (store_id) DO UPDATE SET last_seen_at = now(),
       last_batch_at = CASE WHEN $2 THEN now() ELSE h.last_batch_at END,
       backlog_records = coalesce($3, h.backlog_records),
       oldest_unsynced_at = CASE WHEN $3 IS NULL THEN h.oldest_unsynced_at ELSE $4 END`,
    [storeId, batch, backlog?.records ?? null, backlog?.oldestAt ?? null],
  );
}

/**
 * Applies a store's upload batch once per (store, batch id): writes its
 * records to HQ's topics (acks=all), then records the batch with its result,
 * in one database transaction that holds an advisory lock on the key, so a
 * concurrent copy gets 409, a later copy the stored result (200, replayed),
 * and another body under the same id 422. A crash between the produce and
 * the commit leaves the records on HQ's topics without the batch row: the
 * store re-sends, the records are written again, and HQ's views, keyed by
 * each record's own identity, count them once.
 */
export async function applyBatch(pool: Pool, producer: TypedProducer, storeId: string, batch: SyncBatch): Promise<AppliedBatch> {
  const hash = requestHash(JSON.stringify(batch.records), String(batch.replayOf ?? ''));
  const { result, replayed } = await runIdempotent<BatchResult>(pool, {
    namespace: 'hqBatch',
    key: `${storeId}:${batch.batchId}`,
    hash,
    refuse: {
      inFlight: () => new HttpProblem('IDEMPOTENCY_IN_FLIGHT', 'this batch is being applied; retry shortly', { retryAfterSeconds: 1 }),
      reused: () => new HttpProblem('IDEMPOTENCY_KEY_REUSED', `batch ${batch.batchId} was applied with a different body`),
    },
    find: async (client) => {
      const { rows } = await client.query<{ body_hash: Buffer; result: BatchResult }>('SELECT body_hash, result FROM hq_batches WHERE store_id = $1 AND batch_id = $2', [storeId, batch.batchId]);
      return rows[0] && { hash: rows[0].body_hash, result: rows[0].result };
    },
    onReplay: (client) => touchStore(client, storeId, batch.backlog, true),
    perform: (client) => apply(client, producer, storeId, batch, hash),
  });
  return { result, replayed };
}

async function apply(client: PoolClient, producer: TypedProducer, storeId: string, batch: SyncBatch, hash: Buffer): Promise<BatchResult> {
  const foreign = batch.records.findIndex((r) => r.data.storeId !== storeId);
  if (foreign >= 0) {
    throw new HttpProblem('FORBIDDEN', `record ${foreign} belongs to store ${batch.records[foreign]!.data.storeId}; a store uploads only its own data`, {
      errors: [{ pointer: pointer(['records', foreign, 'data', 'storeId']), message: `must be ${storeId}` }],
    });
  }
  for (const stream of Object.keys(TOPIC_OF) as Array<keyof typeof TOPIC_OF>) {
    // A transaction's request id (from the store's ingest) rides on as a header, for HQ's view consumer to log and keep.
    const events = batch.records
      .filter((r) => r.stream === stream)
      .map((r) => ({ storeId, data: r.data, ...(r.stream === 'transaction' && r.requestId ? { headers: { [HEADER.requestId]: r.requestId } } : {}) }));
    if (events.length > 0) await producer.send(TOPIC_OF[stream], events, { dataValidated: true });
  }
  // The latest state of each entry, in the batch's own transaction: applied once with the batch. The days they name are verified again.
  const quarantine = batch.records.flatMap((r) => (r.stream === 'quarantine' ? [r.data] : []));
  await bookHqQuarantine(client, quarantine);
  const days = [...new Set(quarantine.flatMap((e) => (e.businessDay ? [e.businessDay] : [])))];
  if (days.length > 0) {
    await client.query("UPDATE hq_manifests SET status = 'pending', check_offsets = NULL WHERE store_id = $1 AND business_day = ANY($2::date[])", [storeId, days]);
  }
  const result: BatchResult = { batchId: batch.batchId, storeId, records: batch.records.length, appliedAt: new Date().toISOString() };
  await client.query('INSERT INTO hq_batches (store_id, batch_id, body_hash, records, result) VALUES ($1, $2, $3, $4, $5)', [
    storeId,
    batch.batchId,
    hash,
    batch.records.length,
    JSON.stringify(result),
  ]);
  if (batch.replayOf !== undefined) await answerReplay(client, storeId, batch.replayOf, batch.records.length);
  await touchStore(client, storeId, batch.backlog, true);
  return result;
}

/** A replay arrived: the request is answered, and its day's manifest is verified again once HQ's consumer has booked it. */
async function answerReplay(db: Queryable, storeId: string, requestId: number, records: number): Promise<void> {
  const { rows } = await db.query<{ business_day: string }>(
    `UPDATE hq_replay_requests SET answered_at = now(), records = $3 WHERE request_id = $1 AND store_id = $2 AND answered_at IS NULL
     RETURNING to_char(business_day, 'YYYY-MM-DD') AS business_day`,
    [requestId, storeId, records],
  );
  const day = rows[0]?.business_day;
  if (day) await db.query("UPDATE hq_manifests SET status = 'pending', check_offsets = NULL WHERE store_id = $1 AND business_day = $2", [storeId, day]);
}
