import {
  buildManifest,
  compareManifests,
  hqTransactions,
  topicName,
  type DayManifest,
  type ManifestComparison,
  type ManifestResult,
  type ReconciliationStatus,
  type ReplayRequest,
  type TenderType,
  type TransactionType,
} from '@tillstream/contracts';
import { repeatEvery } from '@tillstream/consumer-service';
import { loadConsumerOffset, openQuarantinedTransactions, withTransaction, type Pool, type Queryable } from '@tillstream/db';
import { topicOffsets, type Kafka } from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';
import { touchStore } from './batches.ts';

/**
 * Completeness (ARCHITECTURE.md invariant 5). A store sends a manifest per
 * business day once everything it holds for that day was acknowledged; HQ
 * verifies it against its own transaction view, but only once its
 * transaction consumer has booked every record that was on
 * hq.transactions.v1 when verification was scheduled, so a batch still in
 * flight inside HQ is never mistaken for a gap. Gaps become replay requests
 * the store answers automatically; verified days are verified again after a
 * while, which catches data HQ lost since. A day with an open quarantine
 * entry naming one of its transactions is never complete (`mismatch` when
 * the counts agree, `gaps` when HQ misses it), with the ids in its details;
 * a quarantine entry booked or resolved sends its day back to verification.
 */

/** Stores (or refreshes) a day's manifest; an identical manifest keeps its verdict. */
export async function receiveManifest(pool: Pool, manifest: DayManifest): Promise<ManifestResult> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ status: ReconciliationStatus }>(
      `INSERT INTO hq_manifests AS m (store_id, business_day, manifest, received_at, status)
       VALUES ($1, $2, $3, now(), 'pending')
       ON CONFLICT (store_id, business_day) DO UPDATE SET manifest = EXCLUDED.manifest, received_at = now(),
         status = CASE WHEN m.manifest = EXCLUDED.manifest THEN m.status ELSE 'pending' END,
         check_offsets = CASE WHEN m.manifest = EXCLUDED.manifest THEN m.check_offsets END
       RETURNING status`,
      [manifest.storeId, manifest.businessDay, JSON.stringify(manifest)],
    );
    await touchStore(client, manifest.storeId, undefined, false);
    return {
      storeId: manifest.storeId,
      businessDay: manifest.businessDay,
      status: rows[0]!.status,
      replayRequests: await openReplayRequests(client, manifest.storeId, manifest.businessDay),
    };
  });
}

export async function openReplayRequests(db: Queryable, storeId: string, businessDay?: string): Promise<ReplayRequest[]> {
  const { rows } = await db.query<{ request_id: string; business_day: string; terminal_id: string; from_seq: string; to_seq: string }>(
    `SELECT request_id, to_char(business_day, 'YYYY-MM-DD') AS business_day, terminal_id, from_seq, to_seq FROM hq_replay_requests
     WHERE store_id = $1 AND answered_at IS NULL AND ($2::date IS NULL OR business_day = $2) ORDER BY request_id LIMIT 1000`,
    [storeId, businessDay ?? null],
  );
  return rows.map((r) => ({ requestId: Number(r.request_id), businessDay: r.business_day, terminalId: r.terminal_id, from: Number(r.from_seq), to: Number(r.to_seq) }));
}

/** HQ's own manifest of a store's day, from its transaction view, by the same rule the store uses. */
export async function hqManifest(db: Queryable, storeId: string, businessDay: string): Promise<DayManifest> {
  const { rows } = await db.query<{ terminal_id: string; sequence_number: string; type: TransactionType; training: boolean; tenders: Array<{ type: TenderType; amount: number; change: number }> }>(
    'SELECT terminal_id, sequence_number, type, training, tenders FROM hq_transactions WHERE store_id = $1 AND business_day = $2',
    [storeId, businessDay],
  );
  return buildManifest(
    storeId,
    businessDay,
    rows.map((r) => ({ terminalId: r.terminal_id, sequenceNumber: Number(r.sequence_number), type: r.type, trainingMode: r.training, tenders: r.tenders })),
  );
}

export interface ReconcilerOptions {
  pool: Pool;
  kafka: Kafka;
  logger: Logger;
  topicPrefix: string;
  /** The transaction consumer's group: its stored offsets say what HQ has booked. */
  transactionsGroup: string;
  intervalMs: number;
  reverifyAfterMs: number;
}

export class Reconciler {
  private loop: { stop(): Promise<void> } | undefined;
  private readonly topic: string;

  constructor(private readonly options: ReconcilerOptions) {
    this.topic = topicName(options.topicPrefix, hqTransactions);
  }

  start(): void {
    this.loop = repeatEvery(this.options.intervalMs, () => this.round(), (err) => this.options.logger.warn({ err }, 'reconciliation round failed; retrying'));
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
  }

  /** One pass: schedule re-verifications, snapshot offsets for new ones, verify those HQ has caught up on. */
  async round(): Promise<void> {
    const { pool } = this.options;
    await pool.query(
      `UPDATE hq_manifests SET status = 'pending', check_offsets = NULL
       WHERE status <> 'pending' AND verified_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [this.options.reverifyAfterMs],
    );
    const { rows: unscheduled } = await pool.query("SELECT 1 FROM hq_manifests WHERE status = 'pending' AND check_offsets IS NULL LIMIT 1");
    if (unscheduled.length > 0) {
      const ends = Object.fromEntries((await topicOffsets(this.options.kafka, this.topic)).map((p) => [p.partition, p.high]));
      await pool.query("UPDATE hq_manifests SET check_offsets = $1 WHERE status = 'pending' AND check_offsets IS NULL", [JSON.stringify(ends)]);
    }
    const { rows: pending } = await pool.query<{ store_id: string; business_day: string; manifest: DayManifest; check_offsets: Record<string, string> }>(
      `SELECT store_id, to_char(business_day, 'YYYY-MM-DD') AS business_day, manifest, check_offsets FROM hq_manifests
       WHERE status = 'pending' AND check_offsets IS NOT NULL ORDER BY received_at LIMIT 200`,
    );
    const booked = new Map<string, bigint>();
    for (const row of pending) {
      if (!(await this.caughtUp(row.check_offsets, booked))) continue;
      await this.verify(row.store_id, row.business_day, row.manifest);
    }
  }

  private async caughtUp(ends: Record<string, string>, booked: Map<string, bigint>): Promise<boolean> {
    for (const [partition, high] of Object.entries(ends)) {
      let at = booked.get(partition);
      if (at === undefined) {
        at = BigInt((await loadConsumerOffset(this.options.pool, { groupId: this.options.transactionsGroup, topic: this.topic, partition: Number(partition) })) ?? '0');
        booked.set(partition, at);
      }
      if (at < BigInt(high)) return false;
    }
    return true;
  }

  private async verify(storeId: string, businessDay: string, manifest: DayManifest): Promise<void> {
    await withTransaction(this.options.pool, async (client) => {
      const compared = compareManifests(manifest, await hqManifest(client, storeId, businessDay));
      // A sale acknowledged but set aside anywhere (a store consumer's dead letter, an upload HQ refused, HQ's own dead letter)
      // is not booked everywhere, even when every count agrees: the day is not complete, and the ids are named.
      const quarantined = await openQuarantinedTransactions(client, storeId, businessDay);
      const comparison: ManifestComparison =
        quarantined.length === 0 ? compared : { ...compared, quarantined, status: compared.status === 'complete' ? 'mismatch' : compared.status };
      for (const range of comparison.missing) {
        await client.query(
          `INSERT INTO hq_replay_requests (store_id, business_day, terminal_id, from_seq, to_seq) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (store_id, business_day, terminal_id, from_seq, to_seq) WHERE answered_at IS NULL DO NOTHING`,
          [storeId, businessDay, range.terminalId, range.from, range.to],
        );
      }
      await client.query(
        `UPDATE hq_manifests SET status = $3, details = $4, verified_at = now()
         WHERE store_id = $1 AND business_day = $2 AND status = 'pending' AND manifest = $5`,
        [storeId, businessDay, comparison.status, JSON.stringify(comparison), JSON.stringify(manifest)],
      );
      if (comparison.status !== 'complete') {
        this.options.logger.warn(
          { storeId, businessDay, status: comparison.status, missing: comparison.missing.length, differences: comparison.differences, quarantined: comparison.quarantined },
          'store day does not reconcile',
        );
      }
    });
  }
}
