import { syncRecordKey, type HqReads, type InventoryAlert, type InventoryLevel, type LossPreventionAlert, type PosTransaction, type ReplenishmentSuggestion, type SalesAggregate, type SyncRecord } from '@tillstream/contracts';
import { advisoryXactLock, appendSyncOutbox, type PoolClient, type Queryable } from '@tillstream/db';

/**
 * The store's HQ backlog (migrations/store/*_sync.sql). Each sync consumer
 * appends what it consumed here, in the transaction that stores its offset;
 * the record's identity within its stream is unique, so a re-published event
 * is not uploaded twice. Writers and the batch cutter share one advisory
 * lock (appendSyncOutbox in @tillstream/db, which quarantine entries use too).
 */
const append = appendSyncOutbox;

/** How the sync consumers write: today's outbox rows, or windows and levels coalesced first. */
export interface OutboxWriterOptions {
  /**
   * Windows and levels wait in sync_pending for newer revisions (the batch
   * cutter moves them to the outbox once they waited SYNC_COALESCE_MS);
   * false: every revision goes into the outbox at once (SYNC_COALESCE_MS=0).
   */
  coalesce?: boolean;
  /** The clock of the writes (sync's benchmark plays a store-day on its own); default the database's now(). */
  now?: () => Date;
}

/** The key of an aggregate's window and member, whatever its revision. */
export const aggregateKey = (a: SalesAggregate) => `${a.granularity}|${a.windowStart}|${a.dimension}|${a.member}`;

/** A pending row: the revisionless key, the outbox key of this revision, and what orders revisions. */
interface Pending {
  stream: 'aggregate' | 'level' | 'replenishment';
  record_key: string;
  outbox_key: string;
  data: unknown;
  revision: string;
  revised_at: string;
}

/** Later revision of the same key: (revision, updatedAt) in that order, as sync_pending and HQ's views compare them. */
const newer = (a: Pending, b: Pending) => BigInt(a.revision) > BigInt(b.revision) || (a.revision === b.revision && Date.parse(a.revised_at) > Date.parse(b.revised_at));

/**
 * Each key's latest revision waits in sync_pending: an append replaces the
 * waiting revision with a newer one and leaves an older one out (a replayed
 * event changes nothing, even after its key's last revision left for HQ);
 * `since` is kept from the first revision that started waiting, so a key
 * revised all the time still leaves once per interval.
 */
async function stage(client: PoolClient, rows: readonly Pending[], at: Date | undefined): Promise<void> {
  if (rows.length === 0) return;
  const latest = new Map<string, Pending>();
  for (const r of rows) {
    const seen = latest.get(r.record_key);
    if (!seen || newer(r, seen)) latest.set(r.record_key, r);
  }
  await advisoryXactLock(client, 'syncOutbox');
  await client.query(
    `INSERT INTO sync_pending AS p (stream, record_key, outbox_key, data, revision, revised_at, since, updated_at)
     SELECT stream, record_key, outbox_key, data, revision, revised_at, coalesce($2::timestamptz, now()), coalesce($2::timestamptz, now())
     FROM jsonb_to_recordset($1::jsonb) AS r(stream text, record_key text, outbox_key text, data jsonb, revision bigint, revised_at timestamptz)
     ON CONFLICT (stream, record_key) DO UPDATE SET outbox_key = EXCLUDED.outbox_key, data = EXCLUDED.data, revision = EXCLUDED.revision,
       revised_at = EXCLUDED.revised_at, since = coalesce(p.since, EXCLUDED.since), updated_at = EXCLUDED.updated_at
     WHERE (p.revision, p.revised_at) < (EXCLUDED.revision, EXCLUDED.revised_at)`,
    [JSON.stringify([...latest.values()]), at?.toISOString() ?? null],
  );
}

/** What HQ last declared it reads (sync_hq_reads), or undefined before its first declaration: then every window goes up. */
export async function hqReads(db: Queryable): Promise<HqReads | undefined> {
  const { rows } = await db.query<{ granularities: HqReads['granularities']; dimensions: HqReads['dimensions'] | null }>('SELECT granularities, dimensions FROM sync_hq_reads');
  const r = rows[0];
  return r && { granularities: r.granularities, ...(r.dimensions ? { dimensions: r.dimensions } : {}) };
}

/** Keeps HQ's declaration of what it reads (it holds across restarts and HQ outages); returns whether it changed. */
export async function saveHqReads(db: Queryable, reads: HqReads): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO sync_hq_reads (version, granularities, dimensions) VALUES (1, $1, $2)
     ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, granularities = EXCLUDED.granularities, dimensions = EXCLUDED.dimensions, received_at = now()
     WHERE (sync_hq_reads.granularities, sync_hq_reads.dimensions) IS DISTINCT FROM (EXCLUDED.granularities, EXCLUDED.dimensions)`,
    [[...reads.granularities].sort(), reads.dimensions ? [...reads.dimensions].sort() : null],
  );
  return (rowCount ?? 0) > 0;
}

/** The identity of each stream's records, and what a manifest or replay selects a transaction by. */
export function outboxWriters(options: OutboxWriterOptions = {}) {
  const at = () => options.now?.();
  return {
    /** `requestIds[i]`: the request that brought `txs[i]` in at ingest (its POS record's header), if any. */
    transactions: (client: PoolClient, txs: readonly PosTransaction[], requestIds: ReadonlyArray<string | undefined> = []) => {
      const createdAt = at();
      return append(
        client,
        txs.map((tx, i) => ({
          stream: 'transaction',
          key: tx.transactionId,
          data: tx,
          businessDay: tx.businessDay,
          terminalId: tx.terminalId,
          sequenceNumber: tx.sequenceNumber,
          requestId: requestIds[i],
          createdAt,
        })),
      );
    },
    /** Only the windows HQ declared it reads, once it declared them (the others are dropped here: they never enter the outbox). */
    aggregates: async (client: PoolClient, aggregates: readonly SalesAggregate[]) => {
      const reads = await hqReads(client);
      const wanted = reads
        ? aggregates.filter((a) => reads.granularities.includes(a.granularity) && (!reads.dimensions || reads.dimensions.includes(a.dimension)))
        : aggregates;
      const createdAt = at();
      if (!options.coalesce) {
        return append(client, wanted.map((a) => ({ stream: 'aggregate', key: `${aggregateKey(a)}#${a.revision}`, data: a, createdAt })));
      }
      return stage(
        client,
        wanted.map((a) => ({ stream: 'aggregate', record_key: aggregateKey(a), outbox_key: `${aggregateKey(a)}#${a.revision}`, data: a, revision: String(a.revision), revised_at: a.updatedAt })),
        createdAt,
      );
    },
    levels: (client: PoolClient, levels: readonly InventoryLevel[]) => {
      const key = (l: InventoryLevel) => `${l.sku}#${l.lastMovement?.id ?? ''}#${l.updatedAt}`;
      const createdAt = at();
      if (!options.coalesce) return append(client, levels.map((l) => ({ stream: 'level', key: key(l), data: l, createdAt })));
      return stage(
        client,
        levels.map((l) => ({ stream: 'level', record_key: l.sku, outbox_key: key(l), data: l, revision: l.lastMovement?.id ?? '-1', revised_at: l.updatedAt })),
        createdAt,
      );
    },
    /** Replenishment suggestions: each SKU's latest waits like a level (its revision: when it was computed). */
    replenishment: (client: PoolClient, suggestions: readonly ReplenishmentSuggestion[]) => {
      const createdAt = at();
      if (!options.coalesce) return append(client, suggestions.map((r) => ({ stream: 'replenishment', key: syncRecordKey.replenishment(r), data: r, createdAt })));
      return stage(
        client,
        suggestions.map((r) => ({ stream: 'replenishment', record_key: r.sku, outbox_key: syncRecordKey.replenishment(r), data: r, revision: String(Date.parse(r.computedAt)), revised_at: r.computedAt })),
        createdAt,
      );
    },
    alerts: (client: PoolClient, alerts: readonly InventoryAlert[]) => {
      const createdAt = at();
      return append(client, alerts.map((a) => ({ stream: 'alert', key: a.alertId, data: a, createdAt })));
    },
    /** Loss-prevention alerts, each once (its alertId). */
    lossPreventionAlerts: (client: PoolClient, alerts: readonly LossPreventionAlert[]) => {
      const createdAt = at();
      return append(client, alerts.map((a) => ({ stream: 'lossprevention', key: a.alertId, data: a, createdAt })));
    },
  };
}

/** Every revision into the outbox at once (SYNC_COALESCE_MS=0: the behaviour before coalescing). */
export const appendOutbox = outboxWriters();

export interface Batch {
  batchId: string;
  firstId: string;
  lastId: string;
  records: number;
}

/** What one batch may carry: records, and bytes of the body HQ reads. */
export interface BatchLimits {
  records: number;
  bytes: number;
}

/** When the cutter cuts (defaults: everything at once, as before coalescing). */
export interface CutOptions {
  /** The cutter's clock (tests, sync's benchmark); default the database's now(). */
  now?: () => Date;
  /** Windows and levels leave sync_pending once they waited this long (SYNC_COALESCE_MS; 0: at the next cut). */
  coalesceMs?: number;
  /** Records not in a batch are cut once there are this many (SYNC_BATCH_MIN_RECORDS)... */
  minRecords?: number;
  /** ...or once the oldest of them waited this long (SYNC_BATCH_MAX_DELAY_MS). */
  maxDelayMs?: number;
}

/**
 * Moves each window and level that has waited `coalesceMs` in sync_pending
 * into the outbox, at its latest revision, dated now (it then waits for a
 * batch like any record: keys coming due one by one all day would otherwise
 * each start a batch of their own), and marks it moved: a row in the outbox,
 * in a batch or not, is never changed; the key's next revision waits anew.
 * Runs under the outbox lock, before the cut.
 */
async function movePendingDue(client: PoolClient, now: string | null, coalesceMs: number): Promise<void> {
  await client.query(
    `WITH due AS (
       SELECT stream, record_key, since FROM sync_pending
       WHERE since IS NOT NULL AND since <= coalesce($1::timestamptz, now()) - make_interval(secs => $2::float8 / 1000)
       FOR UPDATE
     ), moved AS (
       UPDATE sync_pending p SET since = NULL FROM due WHERE p.stream = due.stream AND p.record_key = due.record_key
       RETURNING p.stream, p.outbox_key, p.data, due.since
     )
     INSERT INTO sync_outbox (stream, record_key, data, created_at)
     SELECT stream, outbox_key, data, coalesce($1::timestamptz, now()) FROM moved ORDER BY since, stream, outbox_key
     ON CONFLICT (stream, record_key) DO NOTHING`,
    [now, coalesceMs],
  );
}

/**
 * Cuts the outbox records not in a batch yet into batches of consecutive id
 * ranges, each of at most `limits.records` records and `limits.bytes` bytes
 * of records (`sync_outbox.bytes`), in one statement. A batch is where a
 * count chunk (`records` at a time), a byte chunk (records starting within
 * the same 3/4 of `bytes`) and a stretch between large records (over 1/4 of
 * `bytes`, which get a batch each) all agree: the first two bound its count
 * and, since its other records are under 1/4 each, its bytes. A record
 * larger than `bytes` alone is refused by HQ and set aside by the uploader.
 * Deterministic ids ("<store>-<first>-<last>"): a batch is the same batch
 * however often it is enqueued or sent. Fewer, larger batches: nothing is
 * cut until `minRecords` records wait or the oldest waited `maxDelayMs`
 * (HQ's cost per record is about 3x lower in batches of thousands than of
 * tens); windows and levels due in sync_pending are moved in first.
 */
export async function cutBatches(client: PoolClient, storeId: string, limits: BatchLimits, options: CutOptions = {}): Promise<number> {
  await advisoryXactLock(client, 'syncOutbox');
  const now = options.now?.().toISOString() ?? null;
  await movePendingDue(client, now, options.coalesceMs ?? 0);
  const { rows: due } = await client.query<{ due: boolean }>(
    `SELECT count(*) > 0 AND (count(*) >= $1 OR min(created_at) <= coalesce($2::timestamptz, now()) - make_interval(secs => $3::float8 / 1000)) AS due
     FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)`,
    [Math.min(options.minRecords ?? 1, limits.records), now, options.maxDelayMs ?? 0],
  );
  if (!due[0]?.due) return 0;
  const large = Math.max(1, Math.floor(limits.bytes / 4));
  const span = Math.max(1, limits.bytes - large);
  const { rows } = await client.query<{ n: string }>(
    `WITH next AS (
       SELECT id, created_at, bytes,
         row_number() OVER w - 1 AS n,
         sum(bytes) OVER w - bytes AS before,
         count(*) FILTER (WHERE bytes > $3) OVER w AS larges
       FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)
       WINDOW w AS (ORDER BY id ROWS UNBOUNDED PRECEDING)
     ), keyed AS (
       SELECT id, created_at, CASE WHEN bytes > $3 THEN 'L' || id ELSE (n / $2) || ':' || (before / $4) || ':' || larges END AS chunk FROM next
     ), cut AS (
       INSERT INTO sync_batches (batch_id, first_id, last_id, records, oldest_at)
       SELECT $1 || '-' || min(id) || '-' || max(id), min(id), max(id), count(*), min(created_at) FROM keyed GROUP BY chunk
       RETURNING 1
     )
     SELECT count(*) AS n FROM cut`,
    [storeId, limits.records, large, span],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * HQ refused this batch for what it carries (a non-retriable 4xx): a batch
 * of several records is replaced by its two halves, each uploaded (and, if
 * refused, halved) in turn, so the records HQ refuses end up alone and
 * everything around them is delivered; a batch of one record is set aside
 * (refused_at, with HQ's refusal). Returns what was done, or undefined if
 * the batch was acknowledged, refused or split meanwhile.
 */
export async function splitRefusedBatch(client: PoolClient, storeId: string, batchId: string, refusal: string): Promise<'split' | 'set-aside' | undefined> {
  await advisoryXactLock(client, 'syncOutbox');
  const { rows } = await client.query<{ first_id: string; last_id: string; oldest_at: Date }>(
    'SELECT first_id, last_id, oldest_at FROM sync_batches WHERE batch_id = $1 AND acked_at IS NULL AND refused_at IS NULL FOR UPDATE',
    [batchId],
  );
  const batch = rows[0];
  if (!batch) return undefined;
  const { rows: ids } = await client.query<{ id: string }>('SELECT id FROM sync_outbox WHERE id BETWEEN $1 AND $2 ORDER BY id', [batch.first_id, batch.last_id]);
  if (ids.length <= 1) {
    await client.query('UPDATE sync_batches SET refused_at = now(), refusal = $2, last_error = $2 WHERE batch_id = $1', [batchId, refusal]);
    return 'set-aside';
  }
  const half = Math.ceil(ids.length / 2);
  const halves = [ids.slice(0, half), ids.slice(half)].map((part) => ({ first: part[0]!.id, last: part[part.length - 1]!.id, records: part.length }));
  await client.query('DELETE FROM sync_batches WHERE batch_id = $1', [batchId]);
  for (const h of halves) {
    await client.query('INSERT INTO sync_batches (batch_id, first_id, last_id, records, oldest_at, split_of, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      `${storeId}-${h.first}-${h.last}`,
      h.first,
      h.last,
      h.records,
      batch.oldest_at,
      batchId,
      `half of ${batchId}, which HQ refused: ${refusal}`,
    ]);
  }
  return 'split';
}

export async function unackedBatches(db: Queryable, limit = 10_000): Promise<Batch[]> {
  const { rows } = await db.query<{ batch_id: string; first_id: string; last_id: string; records: number }>(
    'SELECT batch_id, first_id, last_id, records FROM sync_batches WHERE acked_at IS NULL AND refused_at IS NULL ORDER BY first_id LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({ batchId: r.batch_id, firstId: r.first_id, lastId: r.last_id, records: r.records }));
}

/** An outbox row as a SyncRecord; `requestId` only where there is one (an upload without it is what HQ took before). */
const RECORD_JSON = `CASE WHEN request_id IS NULL THEN json_build_object('stream', stream, 'key', record_key, 'data', data)
  ELSE json_build_object('stream', stream, 'key', record_key, 'data', data, 'requestId', request_id) END`;

/**
 * A batch's records as the JSON array the batch body carries, built by
 * PostgreSQL from the stored documents: the store parses and re-serialises
 * nothing on the way to HQ.
 */
export async function batchRecordsJson(db: Queryable, batch: Pick<Batch, 'firstId' | 'lastId'>): Promise<{ json: string; count: number }> {
  const { rows } = await db.query<{ json: string; n: string }>(
    `SELECT coalesce(json_agg(${RECORD_JSON} ORDER BY id), '[]')::text AS json, count(*) AS n
     FROM sync_outbox WHERE id BETWEEN $1 AND $2`,
    [batch.firstId, batch.lastId],
  );
  return { json: rows[0]!.json, count: Number(rows[0]!.n) };
}

/** The transactions a replay request asks for, as the store holds them (but those HQ refused: they wait in quarantine). */
export async function journalRange(db: Queryable, range: { businessDay: string; terminalId: string; from: number; to: number }): Promise<SyncRecord[]> {
  const { rows } = await db.query<{ record_key: string; data: PosTransaction; request_id: string | null }>(
    `SELECT record_key, data, request_id FROM sync_outbox
     WHERE stream = 'transaction' AND business_day = $1 AND terminal_id = $2 AND sequence_number BETWEEN $3 AND $4
       AND NOT EXISTS (SELECT 1 FROM sync_batches b WHERE b.refused_at IS NOT NULL AND sync_outbox.id BETWEEN b.first_id AND b.last_id)
     ORDER BY sequence_number, id`,
    [range.businessDay, range.terminalId, range.from, range.to],
  );
  return rows.map((r) => ({ stream: 'transaction', key: r.record_key, data: r.data, ...(r.request_id === null ? {} : { requestId: r.request_id }) }));
}

export interface Backlog {
  records: number;
  oldestAt: string | null;
  batches: number;
}

/** Records HQ has not acknowledged yet (in unacknowledged batches or not cut yet); records HQ refused are in quarantine, not here. */
export async function backlog(db: Queryable): Promise<Backlog> {
  const { rows } = await db.query<{ batched: string; batches: string; oldest: Date | null; uncut: string; uncut_oldest: Date | null }>(
    `SELECT coalesce(sum(records), 0) AS batched, count(*) AS batches, min(oldest_at) AS oldest,
       (SELECT count(*) FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)) AS uncut,
       (SELECT min(created_at) FROM sync_outbox WHERE id > coalesce((SELECT max(last_id) FROM sync_batches), 0)) AS uncut_oldest
     FROM sync_batches WHERE acked_at IS NULL AND refused_at IS NULL`,
  );
  const r = rows[0]!;
  const oldest = [r.oldest, r.uncut_oldest].filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0];
  return { records: Number(r.batched) + Number(r.uncut), oldestAt: oldest?.toISOString() ?? null, batches: Number(r.batches) };
}

/**
 * Every outbox record up to this id is acknowledged by HQ or was refused by
 * it and set aside (the manifest of a day is sent only past its records: a
 * refused record holds up no manifest, HQ's reconciliation names it missing).
 */
export async function ackedThrough(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ through: string }>(
    `SELECT coalesce((SELECT min(first_id) - 1 FROM sync_batches WHERE acked_at IS NULL AND refused_at IS NULL), (SELECT max(last_id) FROM sync_batches), 0) AS through`,
  );
  return rows[0]!.through;
}

/** Drops acknowledged records older than the retention (transactions stay that long for replays). */
export async function pruneOutbox(db: Queryable, retentionDays: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sync_outbox o WHERE created_at < now() - make_interval(days => $1)
       AND id <= coalesce((SELECT min(first_id) - 1 FROM sync_batches WHERE acked_at IS NULL AND refused_at IS NULL), (SELECT max(last_id) FROM sync_batches), 0)
       AND NOT EXISTS (SELECT 1 FROM sync_batches b WHERE b.refused_at IS NOT NULL AND o.id BETWEEN b.first_id AND b.last_id)`,
    [retentionDays],
  );
  // The newest batch stays: its last id is where the next cut starts.
  await db.query(
    `DELETE FROM sync_batches WHERE acked_at < now() - make_interval(days => $1) AND refused_at IS NULL AND last_id < (SELECT max(last_id) FROM sync_batches)`,
    [retentionDays],
  );
  return rowCount ?? 0;
}
