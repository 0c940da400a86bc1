import { forecastDemand, type ForecastDemand, type ForecastTopItem } from '@tillstream/contracts';
import { advisorySessionUnlock, tryAdvisorySessionLock, writeOutbox, type Pool, type Queryable } from '@tillstream/db';
import { addDays, bestProfile, dailySeries, forecastSku, hourly, hourShares, PROFILE_GRID, profileGridErrors, storeWeekdayProfile, weekday, type ProfileSettings } from '@tillstream/forecast';
import { OUTBOX_PUBLISHER, type TrendsContext } from './facts.ts';
import { today } from './queries.ts';
import { wallClock } from './windows.ts';

/**
 * The store's demand forecasts (issue 18): every SKU that sold in the last
 * `historyDays` is forecast from trends' own windows by packages/forecast
 * (the method picked per SKU by its backtest), stored in sales_forecasts and
 * published on forecast.demand.v1 through the event outbox. Only days before
 * today (in the store's time zone) are read: today's windows are still
 * filling, and nothing after the forecast's `dataThrough` is ever used.
 * Closed days (no store window) are missing, not 0. Hourly forecasts spread
 * each day by the SKU's hour-of-week shares over the last `profileWeeks`
 * weeks, shrunk toward the store's (packages/forecast hourShares).
 *
 * One trends process at a time forecasts (a session advisory lock,
 * LOCK_NAMESPACE.trendsForecast): a second process finds it held and skips.
 */

export interface ForecastPolicy {
  /** Days of history read (and a SKU must have sold in); default 182. */
  historyDays: number;
  /** Backtest folds per SKU; default 6. */
  folds: number;
  /** Coverage of the prediction intervals; default 0.8. */
  level: number;
  /** Weeks of hourly windows the hour-of-week profiles are made from; default 8. */
  profileWeeks: number;
}

export const DEFAULT_FORECAST_POLICY: ForecastPolicy = { historyDays: 182, folds: 6, level: 0.8, profileWeeks: 8 };

export interface ForecastRun {
  /** False when another process held the lock (nothing done). */
  ran: boolean;
  skus: number;
  dataThrough: string;
}

const num = (s: string) => Number(s);

/** A local wall-clock hour of a day as RFC 3339 with the zone's offset then (a skipped DST hour takes the offset after it). */
export function localHour(day: string, hour: number, timeZone: string, wall = wallClock(timeZone)): string {
  const local = Date.parse(`${day}T${String(hour).padStart(2, '0')}:00:00Z`);
  let utc = local - (wall(local) - local);
  utc = local - (wall(utc) - utc);
  const offsetMin = Math.round((wall(utc) - utc) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${day}T${String(hour).padStart(2, '0')}:00:00${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** What the forecasts are made from: day windows through `dataThrough`, hourly ones before the day after it. */
export async function readHistory(db: Queryable, dataThrough: string, policy: ForecastPolicy) {
  const from = addDays(dataThrough, 1 - policy.historyDays);
  const { rows: days } = await db.query<{ dimension: string; member: string; day: string; units: string; transactions: number }>(
    `SELECT dimension, member, to_char(window_start, 'YYYY-MM-DD') AS day, units, transactions FROM sales_aggregates
     WHERE granularity = 'day' AND dimension IN ('store', 'sku') AND window_start >= $1::date AND window_start <= $2::date
     ORDER BY dimension, member, window_start`,
    [from, dataThrough],
  );
  const { rows: hours } = await db.query<{ dimension: string; member: string; dow: number; hour: number; units: string }>(
    `SELECT dimension, member, extract(dow FROM window_start)::int AS dow, extract(hour FROM window_start)::int AS hour, sum(units) AS units FROM sales_aggregates
     WHERE granularity = '1h' AND dimension IN ('store', 'sku') AND window_start >= $1::date AND window_start < $2::date + 1
     GROUP BY 1, 2, 3, 4`,
    [addDays(dataThrough, 1 - policy.profileWeeks * 7), dataThrough],
  );
  const open = new Set<string>();
  const store = new Map<string, number>();
  const skus = new Map<string, Map<string, number>>();
  for (const r of days) {
    if (r.dimension === 'store') {
      // A day the store sold something (every sale of it post-voided leaves a window with no transactions: closed).
      if (r.transactions > 0) open.add(r.day);
      store.set(r.day, num(r.units));
      continue;
    }
    let m = skus.get(r.member);
    if (!m) skus.set(r.member, (m = new Map<string, number>()));
    m.set(r.day, num(r.units));
  }
  const week = () => Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  const storeHours = week();
  const skuHours = new Map<string, number[][]>();
  for (const r of hours) {
    let grid = storeHours;
    if (r.dimension === 'sku') {
      grid = skuHours.get(r.member) ?? week();
      skuHours.set(r.member, grid);
    }
    grid[r.dow]![r.hour]! += num(r.units);
  }
  return { from, open, store, skus, storeHours, skuHours };
}

/** SKUs forecast between two yields to the event loop (a SKU takes ~14 ms of CPU: the consumer and the API wait at most ~0.3 s). */
const SKUS_PER_SLICE = 20;

/**
 * Forecasts every SKU that sold in the history (pure given the windows read;
 * `dataThrough` is the last day they cover): first the weekday profile
 * method's settings for the store, from all SKUs' backtests together
 * (packages/forecast tuneProfile), then each SKU's method and forecast.
 * CPU-bound (~14 ms a SKU on a loaded 2-core machine, BENCHMARKS.md): it
 * yields to the event loop every SKUS_PER_SLICE SKUs so the consumer and the
 * API go on meanwhile.
 */
export async function makeForecasts(history: Awaited<ReturnType<typeof readHistory>>, ctx: TrendsContext, dataThrough: string, issuedAt: string, policy: ForecastPolicy): Promise<ForecastDemand[]> {
  const wall = wallClock(ctx.timeZone);
  const storeSeries = dailySeries(history.from, dataThrough, history.open, history.store);
  const pause = () => new Promise<void>((resolve) => setImmediate(resolve));
  const skus: Array<{ sku: string; series: ReturnType<typeof dailySeries>; storeProfile: number[] }> = [];
  for (const [sku, units] of history.skus) {
    const sold = [...units].filter(([day, u]) => u > 0 && history.open.has(day)).map(([day]) => day);
    if (sold.length === 0) continue;
    // From the SKU's first sale: before it the SKU was not on sale, which is no evidence of zero demand.
    const first = sold.reduce((a, b) => (a < b ? a : b));
    const series = dailySeries(first, dataThrough, history.open, units);
    const offset = storeSeries.days.indexOf(first);
    skus.push({ sku, series, storeProfile: storeWeekdayProfile(storeSeries.values.slice(offset), series.firstWeekday) });
  }
  // The weekday profile method's settings for this store, from every SKU's backtest together (packages/forecast tuneProfile).
  const options = { folds: policy.folds, level: policy.level };
  const errors = PROFILE_GRID.map(() => 0);
  for (let n = 0; n < skus.length; n++) {
    if (n % (SKUS_PER_SLICE * 10) === SKUS_PER_SLICE * 10 - 1) await pause();
    const { series, storeProfile } = skus[n]!;
    profileGridErrors(series.values, { firstWeekday: series.firstWeekday, storeProfile }, options).forEach((e, k) => (errors[k]! += e));
  }
  const profile: ProfileSettings = bestProfile(errors);
  const out: ForecastDemand[] = [];
  for (let n = 0; n < skus.length; n++) {
    if (n % SKUS_PER_SLICE === SKUS_PER_SLICE - 1) await pause();
    const { sku, series, storeProfile } = skus[n]!;
    const made = forecastSku(series.values, { firstWeekday: series.firstWeekday, storeProfile }, { ...options, profile });
    const shares = hourShares(history.skuHours.get(sku) ?? [], history.storeHours);
    const daily = made.daily.map((d, k) => ({ businessDay: addDays(dataThrough, k + 1), ...d }));
    out.push({
      storeId: ctx.storeId,
      sku,
      method: made.method,
      intervalLevel: policy.level,
      issuedAt,
      dataThrough,
      historyDays: series.values.length,
      daily,
      hourly: daily.flatMap((d) => hourly(d, shares[weekday(d.businessDay)]!).map(({ hour, ...p }) => ({ windowStart: localHour(d.businessDay, hour, ctx.timeZone, wall), ...p }))),
      error: made.error,
    });
  }
  return out;
}

/**
 * One forecasting round: under the lock, reads the windows, forecasts,
 * and in one transaction stores every SKU's forecast and puts it in the
 * outbox. Returns what it did (ran: false when another process holds the lock).
 */
export async function runForecasts(pool: Pool, ctx: TrendsContext, policy: ForecastPolicy = DEFAULT_FORECAST_POLICY, now = new Date()): Promise<ForecastRun> {
  const dataThrough = addDays(today(ctx.timeZone, now), -1);
  const client = await pool.connect();
  try {
    if (!(await tryAdvisorySessionLock(client, 'trendsForecast'))) return { ran: false, skus: 0, dataThrough };
    try {
      const history = await readHistory(client, dataThrough, policy);
      const forecasts = await makeForecasts(history, ctx, dataThrough, now.toISOString(), policy);
      await client.query('BEGIN');
      try {
        if (forecasts.length > 0) {
          await client.query(
            `INSERT INTO sales_forecasts (sku, method, issued_at, data_through, next7_units, record)
             SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::date[], $5::numeric[], $6::jsonb[])
             ON CONFLICT (sku) DO UPDATE SET method = EXCLUDED.method, issued_at = EXCLUDED.issued_at, data_through = EXCLUDED.data_through,
               next7_units = EXCLUDED.next7_units, record = EXCLUDED.record`,
            [
              forecasts.map((f) => f.sku),
              forecasts.map((f) => f.method),
              forecasts.map((f) => f.issuedAt),
              forecasts.map((f) => f.dataThrough),
              forecasts.map((f) => f.daily.reduce((t, d) => t + d.mean, 0).toFixed(3)),
              forecasts.map((f) => JSON.stringify(f)),
            ],
          );
        }
        await writeOutbox(client, OUTBOX_PUBLISHER, forecasts.map((data) => ({ topic: forecastDemand.name, data })));
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      return { ran: true, skus: forecasts.length, dataThrough };
    } finally {
      await advisorySessionUnlock(client, 'trendsForecast');
    }
  } finally {
    client.release();
  }
}

/** A SKU's latest forecast, or undefined. */
export async function skuForecast(db: Queryable, sku: string): Promise<ForecastDemand | undefined> {
  const { rows } = await db.query<{ record: ForecastDemand }>('SELECT record FROM sales_forecasts WHERE sku = $1', [sku]);
  return rows[0]?.record;
}

/** The SKUs with the most forecast units over their next 7 days. */
export async function topForecasts(db: Queryable, limit: number): Promise<ForecastTopItem[]> {
  const { rows } = await db.query<{ record: ForecastDemand }>('SELECT record FROM sales_forecasts ORDER BY next7_units DESC, sku LIMIT $1', [limit]);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return rows.map(({ record: f }) => ({
    sku: f.sku,
    method: f.method,
    next7Days: {
      mean: r3(f.daily.reduce((t, d) => t + d.mean, 0)),
      lower: r3(f.daily.reduce((t, d) => t + d.lower, 0)),
      upper: r3(f.daily.reduce((t, d) => t + d.upper, 0)),
    },
    dailyRmse: f.error.dailyRmse,
    dataThrough: f.dataThrough,
    issuedAt: f.issuedAt,
  }));
}
