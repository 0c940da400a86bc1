import {
  hqInventoryAlerts,
  hqInventoryLevels,
  hqInventoryReplenishment,
  hqLossPreventionAlerts,
  hqSalesAggregates,
  hqTransactions,
  type AnyTopicSpec,
  type BatchResult,
  type SyncBatch,
  type SyncStream,
  type TopicSpec,
} from '@tillstream/contracts';
import { randomUUID } from 'node:crypto';
import { bookHqQuarantine, requestHash, withTransaction, type Pool, type PoolClient, type Queryable } from '@tillstream/db';
import { HttpProblem, pointer } from '@tillstream/http';
import { HEADER, type OutgoingEvent, type RecordReceipt, type SendOptions, type TypedProducer } from '@tillstream/kafka';

/** Where each uploaded stream goes in HQ's cluster (quarantine entries are booked straight into hq_quarantine). */
const TOPIC_OF: Record<Exclude<SyncStream, 'quarantine'>, AnyTopicSpec> = {
  transaction: hqTransactions,
  aggregate: hqSalesAggregates,
  level: hqInventoryLevels,
  alert: hqInventoryAlerts,
  replenishment: hqInventoryReplenishment,
  lossprevention: hqLossPreventionAlerts,
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

/** Where the API writes accepted records: one producer, or several sharing the load ({@link ProducerSet}). */
export type BatchProducer = Pick<TypedProducer, 'send'>;

/**
 * Applies a store's upload batch once per (store, batch id), without holding
 * a database connection while it is produced:
 *
 * 1. a short transaction claims the key in hq_batch_claims (a live claim of
 *    a concurrent copy: 409) and looks the batch up in hq_batches (the same
 *    body: its stored result, 200 replayed; another body: 422);
 * 2. the records are written to HQ's topics (acks=all), no connection held;
 * 3. a second transaction records the batch with its result, books its
 *    quarantine entries, answers its replay request and drops the claim.
 *
 * A crash between 2 and 3 leaves the records on HQ's topics without the
 * batch row and a claim that lapses after `leaseMs`: the store re-sends, the
 * records are written again, and HQ's views, keyed by each record's own
 * identity, count them once. A produce that fails drops the claim at once.
 */
export async function applyBatch(pool: Pool, producer: BatchProducer, storeId: string, batch: SyncBatch, options: { leaseMs?: number } = {}): Promise<AppliedBatch> {
  const foreign = batch.records.findIndex((r) => r.data.storeId !== storeId);
  if (foreign >= 0) {
    throw new HttpProblem('FORBIDDEN', `record ${foreign} belongs to store ${batch.records[foreign]!.data.storeId}; a store uploads only its own data`, {
      errors: [{ pointer: pointer(['records', foreign, 'data', 'storeId']), message: `must be ${storeId}` }],
    });
  }
  const hash = requestHash(JSON.stringify(batch.records), String(batch.replayOf ?? ''));
  const claimId = randomUUID();
  const earlier = await withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `INSERT INTO hq_batch_claims AS c (store_id, batch_id, claim_id, body_hash, claimed_until)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000))
       ON CONFLICT (store_id, batch_id) DO UPDATE SET claim_id = EXCLUDED.claim_id, body_hash = EXCLUDED.body_hash, claimed_until = EXCLUDED.claimed_until
       WHERE c.claimed_until < now()`,
      [storeId, batch.batchId, claimId, hash, options.leaseMs ?? 60_000],
    );
    if (rowCount === 0) throw inFlight();
    // Read after the claim: a copy that finished meanwhile committed its batch row with the deletion of its claim.
    const stored = await storedBatch(client, storeId, batch.batchId);
    if (!stored) return undefined;
    await client.query('DELETE FROM hq_batch_claims WHERE store_id = $1 AND batch_id = $2 AND claim_id = $3', [storeId, batch.batchId, claimId]);
    return replay(client, storeId, batch, hash, stored);
  });
  if (earlier) return earlier;
  try {
    await produce(producer, storeId, batch);
  } catch (err) {
    await pool.query('DELETE FROM hq_batch_claims WHERE store_id = $1 AND batch_id = $2 AND claim_id = $3', [storeId, batch.batchId, claimId]).catch(() => undefined);
    throw err;
  }
  return withTransaction(pool, async (client) => {
    await client.query('DELETE FROM hq_batch_claims WHERE store_id = $1 AND batch_id = $2 AND claim_id = $3', [storeId, batch.batchId, claimId]);
    const result: BatchResult = { batchId: batch.batchId, storeId, records: batch.records.length, appliedAt: new Date().toISOString() };
    const { rowCount } = await client.query(
      'INSERT INTO hq_batches (store_id, batch_id, body_hash, records, result) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, batch_id) DO NOTHING',
      [storeId, batch.batchId, hash, batch.records.length, JSON.stringify(result)],
    );
    // Our claim lapsed and another copy recorded the batch first: its result stands.
    if (rowCount === 0) return replay(client, storeId, batch, hash, (await storedBatch(client, storeId, batch.batchId))!);
    await record(client, storeId, batch);
    return { result, replayed: false };
  });
}

const inFlight = () => new HttpProblem('IDEMPOTENCY_IN_FLIGHT', 'this batch is being applied; retry shortly', { retryAfterSeconds: 1 });

async function storedBatch(db: Queryable, storeId: string, batchId: string): Promise<{ body_hash: Buffer; result: BatchResult } | undefined> {
  const { rows } = await db.query<{ body_hash: Buffer; result: BatchResult }>('SELECT body_hash, result FROM hq_batches WHERE store_id = $1 AND batch_id = $2', [storeId, batchId]);
  return rows[0];
}

async function replay(db: Queryable, storeId: string, batch: SyncBatch, hash: Buffer, stored: { body_hash: Buffer; result: BatchResult }): Promise<AppliedBatch> {
  if (!stored.body_hash.equals(hash)) throw new HttpProblem('IDEMPOTENCY_KEY_REUSED', `batch ${batch.batchId} was applied with a different body`);
  await touchStore(db, storeId, batch.backlog, true);
  return { result: stored.result, replayed: true };
}

async function produce(producer: BatchProducer, storeId: string, batch: SyncBatch): Promise<void> {
  for (const stream of Object.keys(TOPIC_OF) as Array<keyof typeof TOPIC_OF>) {
    // A transaction's request id (from the store's ingest) rides on as a header, for HQ's view consumer to log and keep.
    const events = batch.records
      .filter((r) => r.stream === stream)
      .map((r) => ({ storeId, data: r.data, ...(r.stream === 'transaction' && r.requestId ? { headers: { [HEADER.requestId]: r.requestId } } : {}) }));
    if (events.length > 0) await producer.send(TOPIC_OF[stream], events, { dataValidated: true });
  }
}

/** What a batch changes in HQ's database besides its row, in the transaction that records it. */
async function record(client: PoolClient, storeId: string, batch: SyncBatch): Promise<void> {
  // The latest state of each entry, in the batch's own transaction: applied once with the batch. The days they name are verified again.
  const quarantine = batch.records.flatMap((r) => (r.stream === 'quarantine' ? [r.data] : []));
  await bookHqQuarantine(client, quarantine);
  const days = [...new Set(quarantine.flatMap((e) => (e.businessDay ? [e.businessDay] : [])))];
  if (days.length > 0) {
    await client.query("UPDATE hq_manifests SET status = 'pending', check_offsets = NULL WHERE store_id = $1 AND business_day = ANY($2::date[])", [storeId, days]);
  }
  if (batch.replayOf !== undefined) await answerReplay(client, storeId, batch.replayOf, batch.records.length);
  await touchStore(client, storeId, batch.backlog, true);
}

/**
 * Several idempotent producers, each with its one request in flight (the
 * only setting under which kafkajs keeps a producer's order and de-duplicates
 * its retries), so that many batches produce at once. A batch goes whole
 * through one of them (the least busy): its records keep their order. Two
 * batches have no order between them to keep: HQ's views take a transaction
 * or an alert once, an aggregate only to a higher revision, a level only to
 * a later movement, whatever order they arrive in.
 */
export class ProducerSet implements BatchProducer {
  private readonly busy: number[];
  private readonly connected: Array<Promise<void> | undefined>;

  /** `producers[0]` is connected by its owner (the service runtime); the others on first use, and disconnected by stop(). */
  constructor(private readonly producers: readonly TypedProducer[]) {
    if (producers.length === 0) throw new Error('a producer set needs a producer');
    this.busy = producers.map(() => 0);
    this.connected = producers.map((_, i) => (i === 0 ? Promise.resolve() : undefined));
  }

  async send<Data>(spec: TopicSpec<Data>, events: readonly OutgoingEvent<Data>[], options?: SendOptions): Promise<RecordReceipt[]> {
    const i = this.busy.indexOf(Math.min(...this.busy));
    this.busy[i]!++;
    try {
      const connecting = (this.connected[i] ??= this.producers[i]!.connect().catch((err: unknown) => {
        this.connected[i] = undefined;
        throw err;
      }));
      await connecting;
      return await this.producers[i]!.send(spec, events, options);
    } finally {
      this.busy[i]!--;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.producers.slice(1).map((p, i) => (this.connected[i + 1] ? p.disconnect().catch(() => undefined) : Promise.resolve())));
  }
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
