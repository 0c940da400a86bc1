import {
  compareManifests,
  hqTransactions,
  topicName,
  type DayManifest,
  type ManifestComparison,
  type ManifestResult,
  type ReconciliationStatus,
  type ReplayRequest,
  type TenderType,
} from '@tillstream/contracts';
import { repeatEvery } from '@tillstream/consumer-service';
import { openQuarantinedTransactions, withTransaction, type Pool, type Queryable } from '@tillstream/db';
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

/**
 * HQ's own manifest of a store's day, computed in SQL from its transaction
 * view by the rule buildManifest applies to the store's journal (the result
 * is the manifest, never the rows): each terminal's held sequence numbers as
 * ranges (gaps and islands), the transactions counted, the money by tender
 * type (amount - change; sales +, returns -, training and the rest nothing).
 */
export async function hqManifest(db: Queryable, storeId: string, businessDay: string): Promise<DayManifest> {
  const { rows } = await db.query<{ transactions: number; ranges: Array<{ terminal: string; from: string; to: string }> | null; tenders: Record<string, string> | null }>(
    `WITH day AS (
       SELECT terminal_id, sequence_number, type, training, tenders FROM hq_transactions WHERE store_id = $1 AND business_day = $2
     ), held AS (
       SELECT terminal_id, sequence_number, sequence_number - row_number() OVER (PARTITION BY terminal_id ORDER BY sequence_number) AS island
       FROM (SELECT DISTINCT terminal_id, sequence_number FROM day) d
     ), ranges AS (
       SELECT terminal_id, min(sequence_number) AS from_seq, max(sequence_number) AS to_seq FROM held GROUP BY terminal_id, island
     ), money AS (
       SELECT t->>'type' AS tender, sum(CASE WHEN d.type = 'RETURN' THEN -1 ELSE 1 END * ((t->>'amount')::bigint - coalesce((t->>'change')::bigint, 0))) AS amount
       FROM day d CROSS JOIN LATERAL jsonb_array_elements(d.tenders) t
       WHERE NOT d.training AND d.type IN ('SALE', 'RETURN') GROUP BY 1
     )
     SELECT (SELECT count(*)::int FROM day) AS transactions,
       (SELECT jsonb_agg(jsonb_build_object('terminal', terminal_id, 'from', from_seq, 'to', to_seq) ORDER BY terminal_id COLLATE "C", from_seq) FROM ranges) AS ranges,
       (SELECT jsonb_object_agg(tender, amount::text) FROM money) AS tenders`,
    [storeId, businessDay],
  );
  const row = rows[0]!;
  const byTerminal = new Map<string, Array<{ from: number; to: number }>>();
  for (const r of row.ranges ?? []) {
    let held = byTerminal.get(r.terminal);
    if (!held) byTerminal.set(r.terminal, (held = []));
    held.push({ from: Number(r.from), to: Number(r.to) });
  }
  const terminals = [...byTerminal.entries()].map(([terminalId, held]) => ({
    terminalId,
    first: held[0]!.from,
    last: held[held.length - 1]!.to,
    count: held.reduce((n, r) => n + r.to - r.from + 1, 0),
    gaps: held.slice(1).map((r, i) => ({ from: held[i]!.to + 1, to: r.from - 1 })),
  }));
  const tenders: DayManifest['tenders'] = {};
  for (const [type, amount] of Object.entries(row.tenders ?? {})) tenders[type as TenderType] = Number(amount);
  return { storeId, businessDay, transactions: row.transactions, terminals, tenders };
}

export interface ReconcilerOptions {
  pool: Pool;
  kafka: Kafka;
  logger: Logger;
  topicPrefix: string;
  /** The transaction consumer's group: its stored offsets say what HQ has booked. */
  transactionsGroup: string;
  intervalMs: number;
  /** A verified day at most `recentDays` old is verified again this long after. */
  reverifyAfterMs: number;
  /** Days this recent (business_day >= today - recentDays) are re-verified every `reverifyAfterMs`; default 7. */
  recentDays?: number;
  /** Older verified days are verified again this long after (the slow sweep); default 7 days. */
  reverifyOldAfterMs?: number;
  /** Manifests claimed and verified per round; default 200. */
  batch?: number;
  /** How long the verification log is kept; default 7 days. */
  logDays?: number;
  /** Who verifies, in hq_verifications ("host:pid"). */
  verifier?: string;
}

interface Claimed {
  store_id: string;
  business_day: string;
  manifest: DayManifest;
}

/**
 * Verifies store days, alone or beside other reconcilers against one
 * database: each manifest is claimed with FOR UPDATE SKIP LOCKED in the
 * transaction that verifies it, so no day is verified by two at once (each
 * verification is logged in hq_verifications, inside that lock).
 *
 * What is verified: a day whose manifest is pending, because it is new or
 * changed, a quarantine entry naming it was booked or resolved, or a replay
 * for it arrived; a verified recent day (the last `recentDays`) every
 * `reverifyAfterMs`, which catches data HQ lost since; an older day only by
 * the slow sweep, every `reverifyOldAfterMs` (a database restored from a
 * backup is the only way it loses data, and the sweep costs one verification
 * per day per week: ~52,000 a day for 1,000 stores and a year of history).
 */
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
    const batch = this.options.batch ?? 200;
    // Rows another reconciler is verifying are skipped, never waited for (and are verified now anyway).
    await pool.query(
      `UPDATE hq_manifests m SET status = 'pending', check_offsets = NULL
       FROM (SELECT store_id, business_day FROM hq_manifests
             WHERE status <> 'pending' AND (
               (business_day >= current_date - $1::int AND verified_at < now() - make_interval(secs => $2::double precision / 1000))
               OR verified_at < now() - make_interval(secs => $3::double precision / 1000))
             LIMIT $4 FOR UPDATE SKIP LOCKED) due
       WHERE m.store_id = due.store_id AND m.business_day = due.business_day`,
      [this.options.recentDays ?? 7, this.options.reverifyAfterMs, this.options.reverifyOldAfterMs ?? 7 * 86_400_000, batch * 10],
    );
    const { rows: unscheduled } = await pool.query("SELECT 1 FROM hq_manifests WHERE status = 'pending' AND check_offsets IS NULL LIMIT 1");
    if (unscheduled.length > 0) {
      const ends = Object.fromEntries((await topicOffsets(this.options.kafka, this.topic)).map((p) => [p.partition, p.high]));
      await pool.query(
        `UPDATE hq_manifests m SET check_offsets = $1
         FROM (SELECT store_id, business_day FROM hq_manifests WHERE status = 'pending' AND check_offsets IS NULL FOR UPDATE SKIP LOCKED) s
         WHERE m.store_id = s.store_id AND m.business_day = s.business_day`,
        [JSON.stringify(ends)],
      );
    }
    for (let i = 0; i < batch; i++) {
      if (!(await this.verifyNext())) break;
    }
    await pool.query('DELETE FROM hq_verifications WHERE ended_at < now() - make_interval(days => $1::int)', [this.options.logDays ?? 7]);
  }

  /**
   * Claims one pending manifest whose check offsets the transaction consumer
   * has booked (FOR UPDATE SKIP LOCKED: one another reconciler holds is
   * passed over) and verifies it in the same transaction; false when there
   * is none to claim.
   */
  private async verifyNext(): Promise<boolean> {
    return withTransaction(this.options.pool, async (client) => {
      const { rows } = await client.query<Claimed & { started_at: Date }>(
        `SELECT store_id, to_char(business_day, 'YYYY-MM-DD') AS business_day, manifest, clock_timestamp() AS started_at FROM hq_manifests m
         WHERE status = 'pending' AND check_offsets IS NOT NULL
           AND NOT EXISTS (
             SELECT 1 FROM jsonb_each_text(m.check_offsets) e
             LEFT JOIN consumer_offsets o ON o.group_id = $1 AND o.topic = $2 AND o.partition = e.key::int
             WHERE coalesce(o.next_offset, 0) < e.value::bigint)
         ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [this.options.transactionsGroup, this.topic],
      );
      const claimed = rows[0];
      if (!claimed) return false;
      const status = await this.verify(client, claimed.store_id, claimed.business_day, claimed.manifest);
      await client.query(
        `INSERT INTO hq_verifications (store_id, business_day, verifier, started_at, ended_at, status) VALUES ($1, $2, $3, $4, clock_timestamp(), $5)`,
        [claimed.store_id, claimed.business_day, this.options.verifier ?? 'reconciler', claimed.started_at, status],
      );
      return true;
    });
  }

  private async verify(client: Queryable, storeId: string, businessDay: string, manifest: DayManifest): Promise<ManifestComparison['status']> {
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
    return comparison.status;
  }
}
