import { advisoryXactLock } from './locks.ts';
import type { PoolClient } from './pool.ts';

/**
 * The store's HQ backlog (migrations/store/*_sync.sql), written by the sync
 * consumers and by anything else whose record must reach HQ (quarantine
 * entries). Writers and sync's batch cutter share one advisory lock: ids
 * below the cutter's view are all committed, so a batch's range never gains a
 * row after it was cut (LOCK_NAMESPACE.syncOutbox).
 */

export interface SyncOutboxRow {
  stream: string;
  /** The record's identity within its stream: appending it again changes nothing. */
  key: string;
  data: unknown;
  businessDay?: string;
  terminalId?: string;
  sequenceNumber?: number;
  /** For transactions: the request that brought it in at ingest (uploaded with it, for HQ's logs). */
  requestId?: string | undefined;
  /** When it was written (default the database's now()): the clock batch cutting goes by (sync's benchmark injects it). */
  createdAt?: Date | undefined;
}

/** Appends records to the sync outbox in the caller's transaction, in order; a known (stream, key) is skipped. */
export async function appendSyncOutbox(client: PoolClient, rows: readonly SyncOutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await advisoryXactLock(client, 'syncOutbox');
  // append_sync_outbox (migrations/store/*_service-roles.sql): writers other than sync may append, never read.
  await client.query(
    'SELECT append_sync_outbox($1::jsonb)',
    [
      JSON.stringify(
        rows.map((r) => ({
          stream: r.stream,
          record_key: r.key,
          data: r.data,
          business_day: r.businessDay ?? null,
          terminal_id: r.terminalId ?? null,
          sequence_number: r.sequenceNumber ?? null,
          request_id: r.requestId ?? null,
          created_at: r.createdAt?.toISOString() ?? null,
        })),
      ),
    ],
  );
}
