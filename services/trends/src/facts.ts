import {
  decimalToMilli,
  milliToQuantity,
  salesAggregates,
  salesAggregateKey,
  countingLines,
  countsForSales,
  firstCopies,
  postVoids,
  salesSign,
  toMilli,
  type Dimension,
  type Granularity,
  type PosRecord,
  type PosTransaction,
  type SalesAggregate,
} from '@tillstream/contracts';
import { HELD_VOID_TABLES, holdVoids, numberArray, releaseVoids, textArray, withTransaction, type Pool, type PoolClient } from '@tillstream/db';
import type { OutboxItem, OutboxSource } from '@tillstream/kafka';
import { addToWindows, compareKeys, sumWindows, wallClock, windowsStatement, type Contribution } from './windows.ts';

/**
 * The trends service's write path (tables: packages/db/migrations/store/*_trends.sql).
 *
 * A transaction is recorded once (retried copies change nothing) with its
 * counting lines and tenders, signed (a return's are negative), by the POS
 * booking rules (@tillstream/contracts pos-rules.ts). Its
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

export interface Recorded {
  /** Transactions recorded for the first time. */
  booked: number;
  /** How many windows were touched, by granularity. */
  windows: Record<Granularity, number>;
  /** Latest occurredAt among the counted transactions, as local wall-clock ms, for anomaly detection. */
  latestWall: number | undefined;
}

/** A contribution as stored in sales_transactions.contribution (migrations/store/*_trends-contributions.sql). */
interface StoredContribution {
  lines: Array<[sku: string, category: string, unitsMilli: number, gross: number, discount: number, net: number, tax: number]>;
  tenders: Array<[type: string, amount: number]>;
}

/** What a SALE or RETURN adds to its windows: its lines that count and its tenders net of change, signed (a return's negative). */
function contributionOf(tx: PosTransaction): Contribution {
  const sign = salesSign(tx);
  const contribution: Contribution = { sign: 1, type: tx.type as Contribution['type'], businessDay: tx.businessDay, occurredAtMs: Date.parse(tx.occurredAt), terminalId: tx.terminalId, lines: [], tenders: [] };
  for (const line of countingLines(tx)) {
    contribution.lines.push({
      sku: line.sku,
      category: line.category,
      unitsMilli: sign * toMilli(line.quantity),
      gross: sign * (line.extendedAmount + line.discount),
      discount: sign * line.discount,
      net: sign * line.extendedAmount,
      tax: sign * line.taxAmount,
    });
  }
  for (const t of tx.tenders) contribution.tenders.push({ type: t.type, amount: sign * (t.amount - t.change) });
  return contribution;
}

const stored = (c: Contribution): StoredContribution => ({
  lines: c.lines.map((l) => [l.sku, l.category, l.unitsMilli, l.gross, l.discount, l.net, l.tax]),
  tenders: c.tenders.map((t) => [t.type, t.amount]),
});

export async function recordSales(client: PoolClient, records: readonly PosRecord[], ctx: TrendsContext): Promise<Recorded> {
  const unique = firstCopies(records);
  const contributionOfId = new Map<string, Contribution>();
  for (const { tx } of unique) if (countsForSales(tx)) contributionOfId.set(tx.transactionId, contributionOf(tx));
  // One row per transaction, its contribution with it (read back only if a post-void takes it off).
  const inserting = client.query<{ transaction_id: string }>(
    `INSERT INTO sales_transactions (transaction_id, type, training, business_day, occurred_at, terminal_id, kafka_partition, kafka_offset, contribution)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::date[], $5::timestamptz[], $6::text[], $7::int[], $8::bigint[], $9::jsonb[])
     ON CONFLICT (transaction_id) DO NOTHING
     RETURNING transaction_id`,
    [
      textArray(unique.map((r) => r.tx.transactionId)),
      textArray(unique.map((r) => r.tx.type)),
      unique.map((r) => r.tx.trainingMode),
      textArray(unique.map((r) => r.tx.businessDay)),
      textArray(unique.map((r) => r.tx.occurredAt)),
      textArray(unique.map((r) => r.tx.terminalId)),
      numberArray(unique.map((r) => r.partition)),
      numberArray(unique.map((r) => r.offset)),
      textArray(unique.map((r) => {
        const c = contributionOfId.get(r.tx.transactionId);
        return c ? JSON.stringify(stored(c)) : null;
      })),
    ],
  );
  // While PostgreSQL inserts, sum the windows and build their statement as if every transaction were new (the usual
  // case); done again below only if some were copies already recorded, or voids take some off.
  let windows = windowsStatement(sumWindows([...contributionOfId.values()], ctx.timeZone));
  const { rows: inserted } = await inserting;
  const isNew = new Set(inserted.map((r) => r.transaction_id));
  // Booked for the first time; the rules (countingLines, postVoids) leave training transactions out.
  const fresh = unique.filter((r) => isNew.has(r.tx.transactionId)).map((r) => r.tx);
  const added = [...contributionOfId].filter(([id]) => isNew.has(id)).map(([, c]) => c);
  if (added.length < contributionOfId.size) windows = windowsStatement(sumWindows(added, ctx.timeZone));

  await holdVoids(client, HELD_VOID_TABLES.trends, postVoids(fresh));
  // Originals whose void was held and which are now known: their contribution comes off.
  const voided = await releaseVoids(client, HELD_VOID_TABLES.trends);
  if (voided.length > 0) {
    windows = windowsStatement(sumWindows([...added, ...(await storedContributions(client, voided.map((v) => v.originalTransactionId), -1))], ctx.timeZone));
  }
  const touched = await addToWindows(client, windows);
  const latest = Math.max(...added.map((c) => c.occurredAtMs));
  const latestWall = added.length > 0 ? wallClock(ctx.timeZone)(latest) : undefined;
  return { booked: isNew.size, windows: touched, latestWall };
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

/** A timestamptz expression as JSON's RFC 3339 UTC form, to the millisecond (truncated), as `Date#toISOString` writes it. */
const isoUtc = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A window's sales.aggregate.v1 data as JSON text, written by PostgreSQL: byte
 * for byte `JSON.stringify(toAggregate(storeId, row))` (aggregates-outbox.test.ts
 * compares them), for the publisher, which then neither parses the row's
 * numbers and timestamps nor builds and serialises an object per window.
 * Quantities are exact (`trim_scale` of the numeric, as `milliToQuantity`
 * writes them); strings are escaped by `to_json` (granularity and dimension
 * are constrained to a few plain words).
 *
 * In two parts: what a slot's windows share, up to `"member":` (`slotJson`:
 * `store` the query's parameter holding the store's id, `s` the
 * sales_aggregate_changes row, `windowStart` its start's `isoUtc` text),
 * written once per slot, and the rest (`windowJson`, `a` the sales_aggregates
 * row).
 */
const slotJson = (store: string, windowStart: string) =>
  `'{"storeId":' || to_json(${store}::text) || ',"granularity":"' || s.granularity || '","windowStart":"' || ${windowStart}
   || '","businessDay":' || CASE WHEN s.granularity = 'day' THEN '"' || to_char(s.window_start, 'YYYY-MM-DD') || '"' ELSE 'null' END
   || ',"dimension":"' || s.dimension || '","member":'`;
const windowJson = `to_json(a.member)
   || ',"figures":{"units":' || trim_scale(a.units) || ',"gross":' || a.gross || ',"discounts":' || a.discounts || ',"net":' || a.net
   || ',"tax":' || a.tax || ',"transactions":' || a.transactions || ',"items":' || trim_scale(a.items) || ',"returns":' || a.returns
   || ',"returnsUnits":' || trim_scale(a.returns_units) || ',"returnsAmount":' || a.returns_amount
   || '},"revision":' || a.revision || ',"updatedAt":"' || ${isoUtc('a.updated_at')} || '"}'`;

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

/** Contributions of transactions already recorded (originals being voided), read back from their rows. */
async function storedContributions(client: PoolClient, ids: string[], sign: 1 | -1): Promise<Contribution[]> {
  const { rows } = await client.query<{ type: 'SALE' | 'RETURN'; business_day: string; occurred_at: Date; terminal_id: string; contribution: StoredContribution }>(
    `SELECT type, to_char(business_day, 'YYYY-MM-DD') AS business_day, occurred_at, terminal_id, contribution FROM sales_transactions
     WHERE transaction_id = ANY($1::uuid[]) AND contribution IS NOT NULL`,
    [ids],
  );
  return rows.map((t) => ({
    sign,
    type: t.type,
    businessDay: t.business_day,
    occurredAtMs: t.occurred_at.getTime(),
    terminalId: t.terminal_id,
    lines: t.contribution.lines.map(([sku, category, unitsMilli, gross, discount, net, tax]) => ({ sku, category, unitsMilli, gross, discount, net, tax })),
    tenders: t.contribution.tenders.map(([type, amount]) => ({ type, amount })),
  }));
}

/** A slot of windows (granularity, dimension, window start) listed as changed, and how often it was changed when read. */
type Slot = [granularity: string, dimension: string, windowLocal: string, changes: string];

/** Windows per publishing round: a catch-up leaves about 1.4 windows per line to publish, and each round costs a few round trips. */
export const AGGREGATES_ROUND = 5000;

/**
 * While catching up (the publisher holds), a slot counts as final once event
 * time (the latest 5-minute window listed) is this far past its start (a
 * 5-minute or hourly slot) or past the next local midnight (a day: restated
 * all day long, and after midnight by a business day that runs past it).
 */
const SETTLED = "interval '2 hours'";

/**
 * A window read for publishing: its record's key and JSON, and its slot as
 * read (the count acknowledge records), without a map from item to slot.
 * Its id (for logs) is written only when asked for.
 */
class WindowItem {
  readonly topic = salesAggregates.name;
  constructor(
    readonly owner: object,
    readonly slot: Slot,
    readonly member: string,
    readonly dataJson: string,
    readonly key: string,
  ) {}

  get id(): string {
    return `${this.slot[0]}/${this.slot[1]}/${this.member}/${this.slot[2]}`;
  }
}

/**
 * sales.aggregates.v1 straight from the windows: the windows of every listed
 * slot (sales_aggregate_changes.changes above published_changes) stamped
 * above the count its slot was published at, each at its latest revision
 * (migrations/store/*_trends-published-by-slot.sql). A round is one query:
 * listed slots in key order, each with its unpublished windows (or none),
 * `limit` windows or a few more to end on a whole slot. Acknowledging a round
 * records, per slot, the count it was read at: one row per slot, nothing
 * written to the windows. With `publishWhileHeld`
 * (PUBLISH_SETTLED_WHILE_CATCHING_UP), while the consumer catches up, slots
 * event time has moved past (SETTLED) are read (readWhileHeld) and published alongside
 * the booking instead of after it; one restated after all is listed again
 * and published again.
 */
export function aggregatesOutbox(pool: Pool, ctx: TrendsContext, options: { publishWhileHeld?: boolean } = {}): OutboxSource {
  /**
   * Every window of these slots stamped at or below the count read reached the broker. A batch that
   * restated a slot since stamped its windows higher: the slot stays listed. Slot rows are locked in
   * key order, as the consumer locks them.
   */
  const published = async (slots: readonly Slot[]) => {
    if (slots.length === 0) return;
    const sorted = [...slots].sort(compareKeys);
    await pool.query(
      `UPDATE sales_aggregate_changes c SET published_changes = GREATEST(c.published_changes, u.changes)
       FROM unnest($1::text[], $2::text[], $3::timestamp[], $4::bigint[]) AS u(granularity, dimension, window_start, changes)
       WHERE c.granularity = u.granularity AND c.dimension = u.dimension AND c.window_start = u.window_start`,
      [sorted.map((k) => k[0]), sorted.map((k) => k[1]), sorted.map((k) => k[2]), sorted.map((k) => k[3])],
    );
  };
  /** A slot (its fields tab-separated: granularity, dimension, local start, count, UTC start), with one of its unpublished windows (null: none left). */
  type Row = { slot: string; member: string | null; data_json: string | null };
  /** Items are this source's only if they carry this (what `after` and acknowledge accept). */
  const owner = {};
  /**
   * Listed slots in key order: `limit` rows of them, or (`slot`) that slot alone; after the slot `after`, or from the first.
   *
   * A round needs only the first listed slots in key order, which the listed index walks in order. Without statistics
   * on the windows (just after a catch-up, or with autovacuum behind), the planner takes each slot for one window and,
   * after a cursor, sorts every listed slot with its windows before the limit: 1 s a round instead of 12 ms on a
   * million lines' windows (BENCHMARKS.md). Sorting is never the plan this query wants, so it is switched off for it.
   *
   * What a slot's windows share (its fields, its start in UTC, the start of their JSON) is written once per slot: the
   * slots' subquery is kept apart (OFFSET 0), not pulled up into a computation per window.
   */
  const query = (settledOnly: boolean, limit: number, slot?: Slot, after?: Slot) =>
    withTransaction(pool, async (client) => {
      await client.query('SET TRANSACTION READ ONLY; SET LOCAL enable_sort = off');
      return client.query<Row>(
      `SELECT s.slot, a.member, s.json || a.json AS data_json
       FROM (
         SELECT s.granularity, s.dimension, s.window_start, s.published_changes,
                s.granularity || E'\t' || s.dimension || E'\t' || to_char(s.window_start, 'YYYY-MM-DD HH24:MI:SS') || E'\t' || s.changes || E'\t' || w.iso AS slot,
                ${slotJson('$2', 'w.iso')} AS json
         FROM sales_aggregate_changes s CROSS JOIN LATERAL (SELECT ${isoUtc('s.window_start AT TIME ZONE $1')} AS iso) w
         WHERE s.changes > s.published_changes
           AND ($4::text IS NULL OR (s.granularity, s.dimension, s.window_start) = ($4::text, $5::text, $6::timestamp))
           AND ($8::text IS NULL OR (s.granularity, s.dimension, s.window_start) > ($8::text, $9::text, $10::timestamp))
           AND (NOT $3::bool OR s.window_start + CASE WHEN s.granularity = 'day' THEN interval '1 day' ELSE interval '0' END
                < (SELECT max(window_start) FROM sales_aggregate_changes WHERE granularity = '5m' AND dimension = 'store') - ${SETTLED})
         ORDER BY s.granularity, s.dimension, s.window_start
         OFFSET 0
       ) s
       LEFT JOIN LATERAL (
         SELECT a.member, ${windowJson} AS json
         FROM sales_aggregates a
         WHERE a.granularity = s.granularity AND a.dimension = s.dimension AND a.window_start = s.window_start AND a.slot_change > s.published_changes
         -- OFFSET 0 keeps this a lookup per slot: pulled up, it became a merge join that walked every window from the start,
         -- published ones included (2.1 s a round instead of 54 ms once 300,000 were published; BENCHMARKS.md).
         OFFSET 0
       ) a ON true
       ORDER BY s.granularity, s.dimension, s.window_start
       LIMIT $7::int`,
      [ctx.timeZone, ctx.storeId, settledOnly, slot?.[0] ?? null, slot?.[1] ?? null, slot?.[2] ?? null, slot ? null : limit, after?.[0] ?? null, after?.[1] ?? null, after?.[2] ?? null],
      );
    });
  const read = async (limit: number, settledOnly: boolean, afterItem?: OutboxItem): Promise<OutboxItem[]> => {
    const after = afterItem && ownSlot(afterItem);
    let { rows } = await query(settledOnly, limit, undefined, after);
    if (rows.length >= limit) {
      // The last slot may be cut short: the round takes it whole (a second query, for that slot alone).
      const last = rows[rows.length - 1]!.slot;
      const whole = await query(settledOnly, 0, slotOf(last).slot);
      rows = [...rows.filter((r) => r.slot !== last), ...whole.rows];
    }
    const items: OutboxItem[] = [];
    const empty: Slot[] = [];
    let current: { text: string; slot: Slot; keyPrefix: string } | undefined;
    for (const r of rows) {
      // Rows come slot by slot: one Slot tuple per slot, shared by its windows' items.
      if (r.slot !== current?.text) current = { text: r.slot, ...slotOf(r.slot) };
      if (r.member === null) {
        // A slot whose windows were all published already (a restatement the last round caught).
        empty.push(current.slot);
        continue;
      }
      items.push(new WindowItem(owner, current.slot, r.member, r.data_json!, current.keyPrefix + r.member));
    }
    await published(empty);
    return items;
  };
  /** A slot as the query writes it, and the start of its windows' keys (salesAggregateKey ends with the member). */
  const slotOf = (text: string) => {
    const [granularity, dimension, windowLocal, changes, windowStart] = text.split('\t') as [Granularity, Dimension, string, string, string];
    return { slot: [granularity, dimension, windowLocal, changes] as Slot, keyPrefix: salesAggregateKey({ storeId: ctx.storeId, granularity, windowStart, dimension, member: '' }) };
  };
  const ownSlot = (item: OutboxItem): Slot => {
    if (!(item instanceof WindowItem) || item.owner !== owner) throw new Error(`outbox item ${item.id} was not read from this source`);
    return item.slot;
  };
  return {
    batchSize: AGGREGATES_ROUND,
    // Written by PostgreSQL from the windows' typed columns (slotJson and windowJson); aggregates-outbox.test.ts parses them with the topic's schema.
    validated: true,
    read: (limit, after) => read(limit, false, after),
    ...(options.publishWhileHeld ? { readWhileHeld: (limit: number, after?: OutboxItem) => read(limit, true, after) } : {}),
    // Records each slot of the round as published up to the count it was read at (rounds hold whole slots).
    acknowledge: async (items) => {
      const slots = new Set<Slot>();
      for (const item of items) slots.add(ownSlot(item));
      await published([...slots]);
    },
    backlog: async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM sales_aggregate_changes c JOIN sales_aggregates a USING (granularity, dimension, window_start)
             WHERE c.changes > c.published_changes AND a.slot_change > c.published_changes`,
          )
        ).rows[0]?.n ?? 0,
      ),
  };
}
