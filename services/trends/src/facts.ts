import {
  decimalToMilli,
  milliToDecimal,
  milliToQuantity,
  salesAggregates,
  toMilli,
  type Dimension,
  type Granularity,
  type PosTransaction,
  type SalesAggregate,
} from '@tillstream/contracts';
import type { Pool, PoolClient } from '@tillstream/db';
import type { OutboxSource } from '@tillstream/kafka';
import { addToWindows, wallClock, type Contribution } from './windows.ts';

/**
 * The trends service's write path (tables: packages/db/migrations/store/*_trends.sql).
 *
 * A transaction is recorded once (retried copies change nothing) with its
 * counting lines and tenders, signed (a return's are negative). Its
 * contribution is then added to every window it belongs to: 5-minute and
 * hourly windows of occurredAt in the store's time zone, and its business
 * day; by store, SKU, category, terminal and tender. A post-void subtracts
 * its original's contribution, now or when the original arrives. Each
 * touched window's revision goes up and its new figures go to the outbox
 * for sales.aggregates.v1. Late transactions simply restate old windows.
 */

export interface TrendsContext {
  storeId: string;
  timeZone: string;
}

/** This service's name in the event outbox. */
export const OUTBOX_PUBLISHER = 'trends';

export interface PosRecord {
  tx: PosTransaction;
  partition: number;
  offset: string;
}

export interface Recorded {
  /** Transactions recorded for the first time. */
  booked: number;
  /** How many windows were touched, by granularity. */
  windows: Record<Granularity, number>;
  /** Latest occurredAt among the counted transactions, as local wall-clock ms, for anomaly detection. */
  latestWall: number | undefined;
}

export async function recordSales(client: PoolClient, records: readonly PosRecord[], ctx: TrendsContext): Promise<Recorded> {
  const firstCopies = new Map<string, PosRecord>();
  for (const r of records) if (!firstCopies.has(r.tx.transactionId)) firstCopies.set(r.tx.transactionId, r);
  const unique = [...firstCopies.values()];
  const { rows: inserted } = await client.query<{ transaction_id: string }>(
    `INSERT INTO sales_transactions (transaction_id, type, training, business_day, occurred_at, terminal_id, kafka_partition, kafka_offset)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::date[], $5::timestamptz[], $6::text[], $7::int[], $8::bigint[])
     ON CONFLICT (transaction_id) DO NOTHING
     RETURNING transaction_id`,
    [
      unique.map((r) => r.tx.transactionId),
      unique.map((r) => r.tx.type),
      unique.map((r) => r.tx.trainingMode),
      unique.map((r) => r.tx.businessDay),
      unique.map((r) => r.tx.occurredAt),
      unique.map((r) => r.tx.terminalId),
      unique.map((r) => r.partition),
      unique.map((r) => r.offset),
    ],
  );
  const isNew = new Set(inserted.map((r) => r.transaction_id));
  const fresh = unique.filter((r) => isNew.has(r.tx.transactionId) && !r.tx.trainingMode).map((r) => r.tx);
  const counted = fresh.filter((tx) => tx.type === 'SALE' || tx.type === 'RETURN');

  const lines = { tx: [] as string[], no: [] as number[], sku: [] as string[], category: [] as string[], units: [] as string[], gross: [] as number[], discount: [] as number[], net: [] as number[], tax: [] as number[] };
  const tenders = { tx: [] as string[], position: [] as number[], type: [] as string[], amount: [] as number[] };
  const signedOf = new Map<string, Contribution>();
  for (const tx of counted) {
    const sign = tx.type === 'RETURN' ? -1 : 1;
    const contribution: Contribution = { sign: 1, type: tx.type as Contribution['type'], businessDay: tx.businessDay, occurredAtMs: Date.parse(tx.occurredAt), terminalId: tx.terminalId, lines: [], tenders: [] };
    signedOf.set(tx.transactionId, contribution);
    for (const line of tx.lines) {
      if (line.voided) continue;
      contribution.lines.push({
        sku: line.sku,
        category: line.category,
        unitsMilli: sign * toMilli(line.quantity),
        gross: sign * (line.extendedAmount + line.discount),
        discount: sign * line.discount,
        net: sign * line.extendedAmount,
        tax: sign * line.taxAmount,
      });
      lines.tx.push(tx.transactionId);
      lines.no.push(line.lineNumber);
      lines.sku.push(line.sku);
      lines.category.push(line.category);
      lines.units.push(milliToDecimal(sign * toMilli(line.quantity)));
      lines.gross.push(sign * (line.extendedAmount + line.discount));
      lines.discount.push(sign * line.discount);
      lines.net.push(sign * line.extendedAmount);
      lines.tax.push(sign * line.taxAmount);
    }
    tx.tenders.forEach((t, i) => {
      contribution.tenders.push({ type: t.type, amount: sign * (t.amount - t.change) });
      tenders.tx.push(tx.transactionId);
      tenders.position.push(i + 1);
      tenders.type.push(t.type);
      tenders.amount.push(sign * (t.amount - t.change));
    });
  }
  if (lines.tx.length > 0) {
    await client.query(
      `INSERT INTO sales_lines (transaction_id, line_number, sku, category, units, gross, discount, net, tax)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::numeric[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
       ON CONFLICT DO NOTHING`,
      [lines.tx, lines.no, lines.sku, lines.category, lines.units, lines.gross, lines.discount, lines.net, lines.tax],
    );
  }
  if (tenders.tx.length > 0) {
    await client.query(
      `INSERT INTO sales_tenders (transaction_id, position, type, amount)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`,
      [tenders.tx, tenders.position, tenders.type, tenders.amount],
    );
  }

  const voids = fresh.filter((tx) => tx.type === 'POST_VOID' && tx.original);
  if (voids.length > 0) {
    await client.query(
      `INSERT INTO sales_voids (original_transaction_id, void_transaction_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT (original_transaction_id) DO NOTHING`,
      [voids.map((v) => v.original!.transactionId), voids.map((v) => v.transactionId)],
    );
  }
  // Originals whose void is waiting and which are now known: their contribution comes off.
  const { rows: voided } = await client.query<{ original_transaction_id: string }>(
    `UPDATE sales_voids v SET applied_at = now()
     WHERE v.applied_at IS NULL AND EXISTS (SELECT 1 FROM sales_transactions t WHERE t.transaction_id = v.original_transaction_id)
     RETURNING v.original_transaction_id`,
  );

  const contributions: Contribution[] = [...signedOf.values()];
  if (voided.length > 0) contributions.push(...(await storedContributions(client, voided.map((v) => v.original_transaction_id), -1)));
  const windows = await addToWindows(client, contributions, ctx.timeZone);
  const latest = Math.max(...[...signedOf.values()].map((c) => c.occurredAtMs));
  const latestWall = signedOf.size > 0 ? wallClock(ctx.timeZone)(latest) : undefined;
  return { booked: isNew.size, windows, latestWall };
}

interface AggregateRow {
  granularity: Granularity;
  dimension: Dimension;
  member: string;
  window_start_utc: Date;
  business_day: string | null;
  units: string;
  gross: string;
  discounts: string;
  net: string;
  tax: string;
  transactions: number;
  items: string;
  returns: number;
  returns_units: string;
  returns_amount: string;
  revision: number;
  updated_at: Date;
}

/** Columns of sales_aggregates as toAggregate reads them; `timeZone` is the query parameter holding the store's zone ("$1"). */
export const aggregateColumns = (timeZone: string) => `granularity, dimension, member, (window_start AT TIME ZONE ${timeZone}) AS window_start_utc,
  CASE WHEN granularity = 'day' THEN to_char(window_start, 'YYYY-MM-DD') END AS business_day,
  units, gross, discounts, net, tax, transactions, items, returns, returns_units, returns_amount, revision, updated_at`;

const qty = (s: string) => milliToQuantity(decimalToMilli(s));

export function toAggregate(storeId: string, r: AggregateRow): SalesAggregate {
  return {
    storeId,
    granularity: r.granularity,
    windowStart: r.window_start_utc.toISOString(),
    businessDay: r.business_day,
    dimension: r.dimension,
    member: r.member,
    figures: {
      units: qty(r.units),
      gross: Number(r.gross),
      discounts: Number(r.discounts),
      net: Number(r.net),
      tax: Number(r.tax),
      transactions: r.transactions,
      items: qty(r.items),
      returns: r.returns,
      returnsUnits: qty(r.returns_units),
      returnsAmount: Number(r.returns_amount),
    },
    revision: r.revision,
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Contributions of transactions already recorded (originals being voided), read back from their stored lines and tenders. */
async function storedContributions(client: PoolClient, ids: string[], sign: 1 | -1): Promise<Contribution[]> {
  const { rows: txs } = await client.query<{ transaction_id: string; type: 'SALE' | 'RETURN'; business_day: string; occurred_at: Date; terminal_id: string }>(
    `SELECT transaction_id, type, to_char(business_day, 'YYYY-MM-DD') AS business_day, occurred_at, terminal_id FROM sales_transactions
     WHERE transaction_id = ANY($1::uuid[]) AND type IN ('SALE', 'RETURN') AND NOT training`,
    [ids],
  );
  if (txs.length === 0) return [];
  const found = txs.map((t) => t.transaction_id);
  const { rows: lines } = await client.query<{ transaction_id: string; sku: string; category: string; units: string; gross: string; discount: string; net: string; tax: string }>(
    'SELECT transaction_id, sku, category, units, gross, discount, net, tax FROM sales_lines WHERE transaction_id = ANY($1::uuid[]) ORDER BY transaction_id, line_number',
    [found],
  );
  const { rows: tenders } = await client.query<{ transaction_id: string; type: string; amount: string }>(
    'SELECT transaction_id, type, amount FROM sales_tenders WHERE transaction_id = ANY($1::uuid[]) ORDER BY transaction_id, position',
    [found],
  );
  return txs.map((t) => ({
    sign,
    type: t.type,
    businessDay: t.business_day,
    occurredAtMs: t.occurred_at.getTime(),
    terminalId: t.terminal_id,
    lines: lines
      .filter((l) => l.transaction_id === t.transaction_id)
      .map((l) => ({ sku: l.sku, category: l.category, unitsMilli: decimalToMilli(l.units), gross: Number(l.gross), discount: Number(l.discount), net: Number(l.net), tax: Number(l.tax) })),
    tenders: tenders.filter((x) => x.transaction_id === t.transaction_id).map((x) => ({ type: x.type, amount: Number(x.amount) })),
  }));
}

/**
 * sales.aggregates.v1 straight from the windows: those restated since they
 * were last published, each at its latest revision (oldest change first).
 */
export function aggregatesOutbox(pool: Pool, ctx: TrendsContext): OutboxSource {
  return {
    read: async (limit) => {
      const { rows } = await pool.query<AggregateRow & { window_local: string }>(
        `SELECT ${aggregateColumns('$1')}, to_char(window_start, 'YYYY-MM-DD HH24:MI:SS') AS window_local
         FROM (SELECT * FROM sales_aggregates_unpublished LIMIT $2) AS u JOIN sales_aggregates a USING (granularity, dimension, member, window_start)`,
        [ctx.timeZone, limit],
      );
      return rows.map((r) => ({
        id: JSON.stringify([r.granularity, r.dimension, r.member, r.window_local, r.revision]),
        topic: salesAggregates.name,
        data: toAggregate(ctx.storeId, r),
      }));
    },
    // Records the acknowledged revisions, and unlists each window unless it was restated meanwhile
    // (the UPDATE waits for a consumer transaction holding the row, then sees its new revision).
    acknowledge: async (items) => {
      // In the consumer's lock order (granularity, dimension, member, window): with the unnest driving the
      // join, rows are locked in that order too, so the two do not deadlock (if a plan ever differs, a
      // deadlock is a transient error both sides retry).
      const keys = items
        .map((i) => JSON.parse(i.id) as [string, string, string, string, number])
        .sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] !== b[1] ? (a[1] < b[1] ? -1 : 1) : a[2] !== b[2] ? (a[2] < b[2] ? -1 : 1) : a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0));
      await pool.query(
        `WITH acked AS (
           UPDATE sales_aggregates a SET published_revision = GREATEST(a.published_revision, u.revision)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamp[], $5::int[]) AS u(granularity, dimension, member, window_start, revision)
           WHERE a.granularity = u.granularity AND a.dimension = u.dimension AND a.member = u.member AND a.window_start = u.window_start
           RETURNING a.granularity, a.dimension, a.member, a.window_start, a.revision, a.published_revision
         )
         DELETE FROM sales_aggregates_unpublished d USING acked
         WHERE d.granularity = acked.granularity AND d.dimension = acked.dimension AND d.member = acked.member
           AND d.window_start = acked.window_start AND acked.revision <= acked.published_revision`,
        [keys.map((k) => k[0]), keys.map((k) => k[1]), keys.map((k) => k[2]), keys.map((k) => k[3]), keys.map((k) => k[4])],
      );
    },
    backlog: async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM sales_aggregates_unpublished')).rows[0]?.n ?? 0),
  };
}
