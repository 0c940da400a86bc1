import { repeatEvery } from '@tillstream/consumer-service';
import { advisorySessionUnlock, tryAdvisorySessionLock, type Pool, type PoolClient } from '@tillstream/db';
import type { Logger } from '@tillstream/observability';

/**
 * HQ's database grows predictably (docs/hq-storage.md): the upkeep that one
 * HQ process at a time runs (a session advisory lock; another process finds
 * it taken and skips its round).
 *
 * - hq_transactions and hq_sales_aggregates: the monthly partitions of this
 *   month and `partitionsAhead` months after it exist; partitions that ended
 *   more than `retentionMonths` months before this month began are dropped
 *   (a DROP TABLE, never a big DELETE), with what the DEFAULT partitions hold
 *   from before then (hq_maintain_partitions in the migration).
 * - The manifests and replay requests of those dropped days go with them: a
 *   manifest left behind would be verified against transactions HQ no longer
 *   keeps, and HQ would ask the store to replay a day long gone.
 * - hq_inventory_alerts older than the same cutoff.
 * - hq_batches applied more than `batchRetentionDays` ago, and replay
 *   requests answered that long ago. The horizon is at least the stores'
 *   outbox retention (sync's SYNC_RETENTION_DAYS, 35 days), so a batch a
 *   store can still re-send is recognised as applied and answered with its
 *   stored result.
 *
 * Kept: hq_store_health, hq_inventory_levels (one row per store or per
 * store and SKU: bounded), hq_catalog_versions and acks, hq_quarantine (the
 * audit of every poison record, small), consumer offsets.
 */
export interface StorageSettings {
  /** HQ_RETENTION_MONTHS: full months kept before the current one. */
  retentionMonths: number;
  /** HQ_PARTITIONS_AHEAD: months after the current one whose partitions exist in advance. */
  partitionsAhead: number;
  /** HQ_BATCH_RETENTION_DAYS: applied batches (and answered replay requests) are recognised this long. */
  batchRetentionDays: number;
}

export interface StorageReport {
  /** Another HQ process held the upkeep: this one did nothing. */
  skipped: boolean;
  created: string[];
  dropped: string[];
  /** Rows deleted, by table. */
  pruned: { hq_batches: number; hq_batch_claims: number; hq_replay_requests: number; hq_manifests: number; hq_inventory_alerts: number; hq_lossprevention_alerts: number };
}

/** Rows a pruning DELETE removes per statement: short statements, no long lock or transaction. */
const CHUNK = 5000;

/** One round of upkeep. `now` is the clock (a test moves it); partitions follow its UTC date. */
export async function maintainStorage(pool: Pool, settings: StorageSettings, now: Date = new Date()): Promise<StorageReport> {
  const report: StorageReport = { skipped: false, created: [], dropped: [], pruned: { hq_batches: 0, hq_batch_claims: 0, hq_replay_requests: 0, hq_manifests: 0, hq_inventory_alerts: 0, hq_lossprevention_alerts: 0 } };
  const client = await pool.connect();
  let broken = false;
  try {
    if (!(await tryAdvisorySessionLock(client, 'hqStorage'))) return { ...report, skipped: true };
    try {
      await run(client, settings, now, report);
    } finally {
      await advisorySessionUnlock(client, 'hqStorage').catch(() => {
        broken = true; // closing the connection releases the lock
      });
    }
    return report;
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

async function run(client: PoolClient, settings: StorageSettings, now: Date, report: StorageReport): Promise<void> {
  const today = now.toISOString().slice(0, 10);
  const { rows } = await client.query<{ action: 'created' | 'dropped'; partition: string }>('SELECT action, partition FROM hq_maintain_partitions($1, $2, $3::date)', [
    settings.partitionsAhead,
    settings.retentionMonths,
    today,
  ]);
  for (const r of rows) (r.action === 'created' ? report.created : report.dropped).push(r.partition);
  // The first day kept: the first of the month `retentionMonths` months before today's (as hq_maintain_partitions computes it).
  const cutoff = `(date_trunc('month', $1::date) - make_interval(months => $2::int))::date`;
  const days = [today, settings.retentionMonths];
  report.pruned.hq_manifests = await prune(client, `SELECT ctid FROM hq_manifests WHERE business_day < ${cutoff}`, 'hq_manifests', days);
  report.pruned.hq_replay_requests = await prune(client, `SELECT ctid FROM hq_replay_requests WHERE business_day < ${cutoff}`, 'hq_replay_requests', days);
  report.pruned.hq_inventory_alerts = await prune(client, `SELECT ctid FROM hq_inventory_alerts WHERE at < ${cutoff}`, 'hq_inventory_alerts', days);
  report.pruned.hq_lossprevention_alerts = await prune(client, `SELECT ctid FROM hq_lossprevention_alerts WHERE business_day < ${cutoff}`, 'hq_lossprevention_alerts', days);
  const horizon = [now.toISOString(), settings.batchRetentionDays];
  report.pruned.hq_batches = await prune(client, `SELECT ctid FROM hq_batches WHERE applied_at < $1::timestamptz - make_interval(days => $2::int)`, 'hq_batches', horizon);
  // A claim left by an API process that crashed mid-batch, for a batch its store never sent again: past the same horizon
  // a re-sent batch would not be recognised as applied either, so the claim protects nothing.
  report.pruned.hq_batch_claims = await prune(
    client,
    `SELECT ctid FROM hq_batch_claims WHERE claimed_until < $1::timestamptz - make_interval(days => $2::int)`,
    'hq_batch_claims',
    horizon,
  );
  report.pruned.hq_replay_requests += await prune(
    client,
    `SELECT ctid FROM hq_replay_requests WHERE answered_at < $1::timestamptz - make_interval(days => $2::int)`,
    'hq_replay_requests',
    horizon,
  );
}

/** Deletes the rows `select` finds (their ctids), CHUNK at a time, each chunk its own statement. Returns how many. */
async function prune(client: PoolClient, select: string, table: string, params: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await client.query(`DELETE FROM ${table} WHERE ctid = ANY(ARRAY(${select} LIMIT ${CHUNK}))`, params);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < CHUNK) return total;
  }
}

/** Runs the upkeep every `intervalMs` (the first round at once), logging what it changed. */
export function startStorageUpkeep(pool: Pool, settings: StorageSettings, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  return repeatEvery(
    intervalMs,
    async () => {
      const report = await maintainStorage(pool, settings);
      const pruned = Object.values(report.pruned).some((n) => n > 0);
      if (report.created.length > 0 || report.dropped.length > 0 || pruned) logger.info(report, 'HQ storage upkeep');
    },
    (err) => logger.warn({ err }, 'HQ storage upkeep failed; retrying at the next round'),
  );
}
