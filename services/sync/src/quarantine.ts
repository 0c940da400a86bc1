import { recordQuarantine, reopenQuarantine, type PoolClient, type Queryable } from '@tillstream/db';
import type { Counter, Logger } from '@tillstream/observability';
import type { RefusedRecord } from './uploader.ts';

/**
 * Upload refusals in the store's quarantine (docs/quarantine.md, issue 13
 * item 6): an outbox record HQ refused on its own gets an entry with source
 * `upload-refused`, in the transaction that sets its batch aside; the entry
 * reaches HQ through the outbox (stream `quarantine`) like every entry.
 * `tillstream dlq replay` marks the entry `replayed` and the sweeper then
 * makes the record eligible for upload again (releaseReplayedRefusals);
 * a `discarded` entry leaves it set aside for good.
 */
export async function quarantineRefused(client: PoolClient, options: { storeId: string; logger: Logger; refused: Counter<'code'> }, refused: RefusedRecord): Promise<void> {
  const { rows } = await client.query<{ stream: string; record_key: string; business_day: string | null }>(
    "SELECT stream, record_key, to_char(business_day, 'YYYY-MM-DD') AS business_day FROM sync_outbox WHERE id = $1",
    [refused.outboxId],
  );
  const record = rows[0];
  options.refused.inc({ code: refused.code });
  // An entry HQ refuses is not quarantined again: its own entry would travel the same way (an HQ without the stream refuses them all).
  if (!record || record.stream === 'quarantine') {
    options.logger.error({ outboxId: refused.outboxId, stream: record?.stream, refusal: refused.refusal }, 'HQ refused a quarantine entry; it stays set aside in the outbox');
    return;
  }
  const entry = await recordQuarantine(client, 'store', options.storeId, {
    source: 'upload-refused',
    service: 'sync',
    outboxId: refused.outboxId,
    code: refused.code,
    message: refused.refusal,
    transactionId: record.stream === 'transaction' ? record.record_key : null,
    businessDay: record.business_day,
  });
  // HQ refused again a record whose entry was replayed: the cause was not fixed after all.
  if (entry.status !== 'open') await reopenQuarantine(client, entry.id, { code: refused.code, message: refused.refusal });
}

/**
 * Records whose upload-refused entry was replayed since they were set aside
 * are uploaded again (their batch is unacknowledged again). A record HQ
 * refuses again is set aside again, later than the replay, so it is not
 * released twice for one replay. Returns how many were released.
 */
export async function releaseReplayedRefusals(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE sync_batches b SET refused_at = NULL, refusal = NULL, last_error = 'released by a quarantine replay'
     FROM quarantine q
     WHERE b.refused_at IS NOT NULL AND q.source = 'upload-refused' AND q.status = 'replayed' AND q.outbox_id = b.first_id AND q.resolved_at > b.refused_at`,
  );
  return rowCount ?? 0;
}
