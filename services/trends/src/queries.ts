import type { Dimension, Granularity, SalesAggregate, SalesAnomaly, SalesFigures, TopSeller } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';
import { aggregateColumns, toAggregate, type TrendsContext } from './facts.ts';

/** Read side of the sales windows for the store API. */


type Row = Parameters<typeof toAggregate>[1];

export const ZERO: SalesFigures = { units: 0, gross: 0, discounts: 0, net: 0, tax: 0, transactions: 0, items: 0, returns: 0, returnsUnits: 0, returnsAmount: 0 };

/** Basket size and value, derived from the sums. */
export function basket(f: SalesFigures): { items: number; value: number } {
  if (f.transactions === 0) return { items: 0, value: 0 };
  return { items: Math.round((f.items / f.transactions) * 100) / 100, value: Math.round((f.net + f.returnsAmount) / f.transactions) };
}

/** Today's business day in the store's time zone (calendar date of now there). */
export function today(timeZone: string, now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

export async function daySummary(db: Queryable, ctx: TrendsContext, businessDay: string) {
  const { rows } = await db.query<Row>(
    `SELECT ${aggregateColumns('$1')} FROM sales_aggregates WHERE granularity = 'day' AND window_start = $2::date::timestamp AND dimension <> 'sku' ORDER BY dimension, member`,
    [ctx.timeZone, businessDay],
  );
  const all = rows.map((r) => toAggregate(ctx.storeId, r));
  const store = all.find((a) => a.dimension === 'store');
  const by = (dimension: Dimension) =>
    all.filter((a) => a.dimension === dimension).map((a) => ({ member: a.member, ...a.figures, revision: a.revision }));
  const figures = store?.figures ?? ZERO;
  return {
    storeId: ctx.storeId,
    businessDay,
    figures,
    basket: basket(figures),
    revision: store?.revision ?? 0,
    updatedAt: store?.updatedAt ?? null,
    byTender: by('tender'),
    byCategory: by('category'),
    byTerminal: by('terminal'),
  };
}

export async function timeseries(
  db: Queryable,
  ctx: TrendsContext,
  q: { granularity: Exclude<Granularity, 'day'>; from: string; to: string; sku?: string | undefined; category?: string | undefined },
): Promise<SalesAggregate[]> {
  const [dimension, member] = q.sku ? ['sku', q.sku] : q.category ? ['category', q.category] : ['store', 'all'];
  // The windows' key leads with the window, then the member (migrations/store/*_trends-windows-one-index.sql): one
  // lookup per window start in the range (at most MAX_TIMESERIES_POINTS), not a scan of every member's windows in it.
  // OFFSET 0 keeps it a lookup per window, whatever the planner guesses without statistics.
  const { rows } = await db.query<Row>(
    `SELECT ${aggregateColumns('$1')}
     FROM generate_series(date_bin($7::interval, $5::timestamptz AT TIME ZONE $1, timestamp '2000-01-01'), $6::timestamptz AT TIME ZONE $1, $7::interval) AS w(start)
     CROSS JOIN LATERAL (
       SELECT * FROM sales_aggregates a WHERE a.granularity = $2 AND a.dimension = $3 AND a.window_start = w.start AND a.member = $4 OFFSET 0
     ) a
     WHERE w.start >= ($5::timestamptz AT TIME ZONE $1) AND w.start < ($6::timestamptz AT TIME ZONE $1)
     ORDER BY w.start`,
    [ctx.timeZone, q.granularity, dimension, member, q.from, q.to, q.granularity === '5m' ? '5 minutes' : '1 hour'],
  );
  return rows.map((r) => toAggregate(ctx.storeId, r));
}

/**
 * Top sellers by units or revenue (net, minor units) over: a business day,
 * the last 7 business days up to it, or the last hour (twelve 5-minute
 * windows up to now).
 */
export async function topSellers(db: Queryable, ctx: TrendsContext, q: { window: 'day' | '7d' | '1h'; businessDay: string; by: 'units' | 'revenue'; limit: number; now?: Date }): Promise<TopSeller[]> {
  const order = q.by === 'units' ? 'units' : 'revenue';
  // $1 is the limit; the range's own parameters follow.
  const [range, params] =
    q.window === '1h'
      ? [`granularity = '5m' AND window_start > (($2::timestamptz - interval '1 hour') AT TIME ZONE $3) AND window_start <= ($2::timestamptz AT TIME ZONE $3)`, [(q.now ?? new Date()).toISOString(), ctx.timeZone]]
      : q.window === 'day'
        ? [`granularity = 'day' AND window_start = $2::date::timestamp`, [q.businessDay]]
        : [`granularity = 'day' AND window_start > $2::date::timestamp - interval '7 days' AND window_start <= $2::date::timestamp`, [q.businessDay]];
  const { rows } = await db.query<{ member: string; units: string; revenue: string; transactions: string }>(
    `SELECT member, sum(units) AS units, sum(net) AS revenue, sum(transactions) AS transactions FROM sales_aggregates
     WHERE dimension = 'sku' AND ${range}
     GROUP BY member ORDER BY ${order} DESC, member LIMIT $1`,
    [q.limit, ...params],
  );
  return rows.map((r) => ({ sku: r.member, units: Number(r.units), revenue: Number(r.revenue), transactions: Number(r.transactions) }));
}

/**
 * Units sold in the last 60 minutes against the average of the same hour of
 * the week over the previous 4 weeks (a week without sales in that hour
 * counts 0). Per SKU, or for the whole store.
 */
export async function velocity(db: Queryable, ctx: TrendsContext, q: { sku?: string | undefined; now?: Date }) {
  const [dimension, member] = q.sku ? ['sku', q.sku] : ['store', 'all'];
  const now = (q.now ?? new Date()).toISOString();
  const { rows } = await db.query<{ current: string | null; baseline: string | null }>(
    `SELECT
       (SELECT sum(units) FROM sales_aggregates WHERE granularity = '5m' AND dimension = $2 AND member = $3
          AND window_start > (($4::timestamptz - interval '1 hour') AT TIME ZONE $1) AND window_start <= ($4::timestamptz AT TIME ZONE $1)) AS current,
       (SELECT sum(units) / 4 FROM sales_aggregates WHERE granularity = '1h' AND dimension = $2 AND member = $3
          AND window_start = ANY (SELECT date_trunc('hour', $4::timestamptz AT TIME ZONE $1) - k * interval '7 days' FROM generate_series(1, 4) AS k)) AS baseline`,
    [ctx.timeZone, dimension, member, now],
  );
  const current = Number(rows[0]?.current ?? 0);
  const baseline = Number(rows[0]?.baseline ?? 0);
  return { sku: q.sku ?? null, unitsLastHour: current, baselineUnitsPerHour: baseline, ratio: baseline > 0 ? Math.round((current / baseline) * 100) / 100 : null, at: now };
}

export async function listAnomalies(db: Queryable, ctx: TrendsContext, q: { limit: number; since?: string | undefined }): Promise<SalesAnomaly[]> {
  const { rows } = await db.query<{
    anomaly_id: string;
    kind: SalesAnomaly['kind'];
    member: string;
    window_start: Date;
    observed: number;
    baseline_median: number;
    baseline_spread: number;
    score: number;
    direction: SalesAnomaly['direction'];
    baseline_windows: number;
    detected_at: Date;
  }>(
    `SELECT * FROM sales_anomalies WHERE ($2::timestamptz IS NULL OR window_start >= $2::timestamptz) ORDER BY window_start DESC, abs(score) DESC LIMIT $1`,
    [q.limit, q.since ?? null],
  );
  return rows.map((r) => ({
    anomalyId: r.anomaly_id,
    storeId: ctx.storeId,
    kind: r.kind,
    member: r.member,
    windowStart: r.window_start.toISOString(),
    observed: r.observed,
    baselineMedian: r.baseline_median,
    baselineSpread: r.baseline_spread,
    score: r.score,
    direction: r.direction,
    baselineWindows: r.baseline_windows,
    detectedAt: r.detected_at.toISOString(),
  }));
}
