import { createHash } from 'node:crypto';
import { buildManifest, type DayManifest, type PosTransaction } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';

/** The store's manifest of a business day, from its journal (the outbox's transactions), by the rule HQ uses too. */
export async function storeManifest(db: Queryable, storeId: string, businessDay: string): Promise<DayManifest> {
  const { rows } = await db.query<{ terminal_id: string; sequence_number: string; type: PosTransaction['type']; training: boolean; tenders: PosTransaction['tenders'] }>(
    `SELECT terminal_id, sequence_number, data->>'type' AS type, (data->>'trainingMode')::boolean AS training, data->'tenders' AS tenders
     FROM sync_outbox WHERE stream = 'transaction' AND business_day = $1`,
    [businessDay],
  );
  return buildManifest(
    storeId,
    businessDay,
    rows.map((r) => ({ terminalId: r.terminal_id, sequenceNumber: Number(r.sequence_number), type: r.type, trainingMode: r.training, tenders: r.tenders })),
  );
}

export function manifestDigest(manifest: DayManifest): string {
  return createHash('sha256').update(JSON.stringify(manifest)).digest('base64url');
}

/**
 * Business days whose manifest is due: they have transactions that HQ has
 * all acknowledged (every outbox record of the day is at or below
 * `ackedThrough`), within the last `days` days of activity, and their last
 * manifest changed, was not verified complete, or is older than `refreshMs`.
 */
export async function dueManifestDays(db: Queryable, options: { ackedThrough: string; days: number; refreshMs: number }): Promise<string[]> {
  const { rows } = await db.query<{ business_day: string }>(
    `WITH days AS (
       SELECT business_day, max(id) AS last_id, count(*) AS n FROM sync_outbox
       WHERE stream = 'transaction' AND business_day >= (SELECT max(business_day) FROM sync_outbox WHERE stream = 'transaction') - $2::int
       GROUP BY business_day
     )
     SELECT to_char(d.business_day, 'YYYY-MM-DD') AS business_day FROM days d LEFT JOIN sync_manifests m USING (business_day)
     WHERE d.last_id <= $1
       AND (m.business_day IS NULL OR m.transactions <> d.n OR m.status <> 'complete'
            OR m.sent_at < now() - make_interval(secs => $3::double precision / 1000))
     ORDER BY d.business_day`,
    [options.ackedThrough, options.days, options.refreshMs],
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
