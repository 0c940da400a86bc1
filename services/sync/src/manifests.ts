import { createHash } from 'node:crypto';
import { buildManifest, type DayManifest, type ManifestTransaction, type PosTransaction } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';

/**
 * The store's manifest of a business day, by the rule HQ uses too, from
 * ingest's journal: what terminals were told is captured, not what the
 * consumers (sync among them) managed to book. A sale acknowledged and then
 * dead-lettered anywhere is in it, so HQ can never call its day complete
 * without it. Journal rows older than the columns a manifest needs (type,
 * training, tenders) are completed from the sync outbox.
 */
export async function storeManifest(db: Queryable, storeId: string, businessDay: string): Promise<DayManifest> {
  const { rows } = await db.query<{ terminal_id: string; sequence_number: string; type: PosTransaction['type']; training: boolean | null; tenders: ManifestTransaction['tenders'] }>(
    `SELECT j.terminal_id, j.sequence_number, coalesce(j.type, o.data->>'type') AS type,
       coalesce(j.training, (o.data->>'trainingMode')::boolean) AS training, coalesce(j.tenders, o.data->'tenders', '[]') AS tenders
     FROM ingest_transactions j
     LEFT JOIN sync_outbox o ON j.type IS NULL AND o.stream = 'transaction' AND o.record_key = j.transaction_id::text
     WHERE j.store_id = $1 AND j.business_day = $2`,
    [storeId, businessDay],
  );
  return buildManifest(
    storeId,
    businessDay,
    rows.map((r) => ({ terminalId: r.terminal_id, sequenceNumber: Number(r.sequence_number), type: r.type, trainingMode: r.training ?? false, tenders: r.tenders })),
  );
}

export function manifestDigest(manifest: DayManifest): string {
  return createHash('sha256').update(JSON.stringify(manifest)).digest('base64url');
}

/** Where sync's consumer of the POS topic is (its offsets are stored with its effects). */
export interface PosConsumer {
  groupId: string;
  /** The POS topic as deployed. */
  topic: string;
}

/**
 * Business days whose manifest is due: days of the journal (within the last
 * `days` days of activity) that sync's POS consumer has read past (every
 * journal row of the day is below its stored offset: booked into the outbox,
 * or quarantined) and whose outbox transactions HQ has all acknowledged
 * (at or below `ackedThrough`), and whose last manifest changed, was not
 * verified complete, or is older than `refreshMs`.
 */
export async function dueManifestDays(
  db: Queryable,
  options: { storeId: string; posConsumer: PosConsumer; ackedThrough: string; days: number; refreshMs: number },
): Promise<string[]> {
  const { rows } = await db.query<{ business_day: string }>(
    `WITH days AS (
       SELECT business_day, count(*) AS n FROM ingest_transactions
       WHERE store_id = $4 AND business_day >= (SELECT max(business_day) FROM ingest_transactions WHERE store_id = $4) - $2::int
       GROUP BY business_day
     )
     SELECT to_char(d.business_day, 'YYYY-MM-DD') AS business_day FROM days d LEFT JOIN sync_manifests m USING (business_day)
     WHERE NOT EXISTS (SELECT 1 FROM sync_outbox o WHERE o.stream = 'transaction' AND o.business_day = d.business_day AND o.id > $1)
       AND NOT EXISTS (
         SELECT 1 FROM ingest_transactions j
         LEFT JOIN consumer_offsets c ON c.group_id = $5 AND c.topic = $6 AND c.partition = j.kafka_partition
         WHERE j.store_id = $4 AND j.business_day = d.business_day AND j.kafka_offset >= coalesce(c.next_offset, 0))
       AND (m.business_day IS NULL OR m.transactions <> d.n OR m.status <> 'complete'
            OR m.sent_at < now() - make_interval(secs => $3::double precision / 1000))
     ORDER BY d.business_day`,
    [options.ackedThrough, options.days, options.refreshMs, options.storeId, options.posConsumer.groupId, options.posConsumer.topic],
  );
  return rows.map((r) => r.business_day);
}

export async function recordManifest(db: Queryable, manifest: DayManifest, status: string): Promise<void> {
  await db.query(
    `INSERT INTO sync_manifests (business_day, digest, sent_at, status, transactions) VALUES ($1, $2, now(), $3, $4)
     ON CONFLICT (business_day) DO UPDATE SET digest = EXCLUDED.digest, sent_at = now(), status = EXCLUDED.status, transactions = EXCLUDED.transactions`,
    [manifest.businessDay, manifestDigest(manifest), status, manifest.transactions],
  );
}
