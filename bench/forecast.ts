import { addDays, dailySeries, forecastSku, METHODS, seasonalScale, storeWeekdayProfile, tuneProfile, type ForecastOptions, type ProfileSettings, type Series } from '@tillstream/forecast';
import { createPool } from '@tillstream/db';
import { readBakeryCsv } from '@tillstream/simulator';
import { DEFAULT_FORECAST_POLICY, runForecasts } from '@tillstream/trends';
import { table } from './harness.ts';
import { benchLogger, scratchDatabase } from './store-data.ts';

/**
 * The forecasting module (packages/forecast, as the trends service runs it)
 * on the bakery's real log: a rolling-origin backtest. Each origin trains on
 * the days before it only (the weekday profile's settings picked on every
 * item's backtest before the origin, pooled, as the service does over its
 * SKUs; then the method picked per SKU by its own backtest on those days) and
 * forecasts the next 7; origins step a week, from the 8th
 * week on. Beside it, in the same run, the two baselines (seasonal naive:
 * same weekday last week; the mean of the last 4 same weekdays) and each
 * method alone. Daily WAPE (sum |error| / sum units) and MASE (|error| over
 * the training part's mean |same weekday last week difference|, averaged
 * per SKU, then over SKUs) on the top 20 items by units; closed days (the
 * store sold nothing) are missing, not 0, and are never scored. The top 20
 * are picked on the whole log (which SKUs are scored, not how they are
 * forecast).
 */

const TOP = 20;
const H = 7;
const FIRST_ORIGIN = 56;

interface Tally {
  abs: number;
  actual: number;
  scaled: number;
  n: number;
}

const tally = (): Tally => ({ abs: 0, actual: 0, scaled: 0, n: 0 });

/**
 * Bounds, not forecasters: each sees the future. For a scored day, the mean
 * (or median) of the SKU's units on every other scored day of the same
 * weekday (leave-one-out over the 15 evaluated weeks), and the in-sample
 * weekday mean (that day included). They show how much of the error is the
 * day-to-day noise of small counts that no weekday-level forecast removes.
 */
const ORACLES = ['ORACLE_LOO_MEAN', 'ORACLE_LOO_MEDIAN', 'ORACLE_IN_SAMPLE_MEAN'] as const;
type Oracle = (typeof ORACLES)[number];
const isOracle = (c: string): c is Oracle => (ORACLES as readonly string[]).includes(c);

function oracle(kind: Oracle, y: Series, scored: readonly number[], day: number): number {
  const same = scored.filter((k) => k % 7 === day % 7 && (kind === 'ORACLE_IN_SAMPLE_MEAN' || k !== day)).flatMap((k) => (y[k] === null || y[k] === undefined ? [] : [y[k]]));
  if (same.length === 0) return 0;
  if (kind !== 'ORACLE_LOO_MEDIAN') return same.reduce((a, b) => a + b, 0) / same.length;
  same.sort((a, b) => a - b);
  const mid = same.length >> 1;
  return same.length % 2 ? same[mid]! : (same[mid - 1]! + same[mid]!) / 2;
}

export interface ForecastEvaluation {
  /** Per competitor: overall WAPE and mean per-SKU MASE, and per SKU. */
  overall: Record<string, { wape: number; mase: number }>;
  perSku: Array<{ sku: string; units: number; chosen: Record<string, number>; wape: Record<string, number>; mase: Record<string, number> }>;
  origins: number;
  days: number;
}

export function evaluateBakery(options: ForecastOptions & { tune?: boolean } = {}): ForecastEvaluation {
  const rows = readBakeryCsv();
  const open = new Set(rows.map((r) => r.date));
  const units = new Map<string, Map<string, number>>();
  const store = new Map<string, number>();
  for (const r of rows) {
    if (r.item === 'NONE') continue;
    let m = units.get(r.item);
    if (!m) units.set(r.item, (m = new Map<string, number>()));
    m.set(r.date, (m.get(r.date) ?? 0) + 1);
    store.set(r.date, (store.get(r.date) ?? 0) + 1);
  }
  const days = [...open].sort();
  const from = days[0]!;
  const through = days[days.length - 1]!;
  const totals = [...units].map(([item, m]) => [item, [...m.values()].reduce((a, b) => a + b, 0)] as const).sort((a, b) => b[1] - a[1]);
  const top = totals.slice(0, TOP);
  const storeSeries = dailySeries(from, through, open, store);
  const competitors = ['CHOSEN', 'SEASONAL_NAIVE', 'WEEKDAY_MEAN_4', 'MSTL_ETS', 'WEEKDAY_PROFILE', 'CROSTON_SBA', 'TSB', ...ORACLES] as const;
  const overall = new Map<string, Tally>(competitors.map((c) => [c, tally()]));
  const perSku: ForecastEvaluation['perSku'] = [];
  let origins = 0;
  // With `tune`: the profile settings per origin, picked on every item's days before it (as the service does over its SKUs).
  const tuned = new Map<number, ProfileSettings>();
  const settingsAt = (o: number): ProfileSettings | undefined => {
    if (!options.tune) return undefined;
    let t = tuned.get(o);
    if (!t) {
      const all = [...units.values()].map((m) => {
        const s = dailySeries(from, through, open, m);
        return { y: s.values.slice(0, o), ctx: { firstWeekday: s.firstWeekday, storeProfile: storeWeekdayProfile(storeSeries.values.slice(0, o), s.firstWeekday) } };
      });
      tuned.set(o, (t = tuneProfile(all, options)));
    }
    return t;
  };
  for (const [item, sold] of top) {
    const series = dailySeries(from, through, open, units.get(item)!);
    const y = series.values;
    const mine = new Map<string, Tally>(competitors.map((c) => [c, tally()]));
    const chosen: Record<string, number> = {};
    let count = 0;
    const scored: number[] = [];
    for (let o = FIRST_ORIGIN; o + H <= y.length; o += 7) for (let j = 0; j < H; j++) scored.push(o + j);
    for (let o = FIRST_ORIGIN; o + H <= y.length; o += 7) {
      count++;
      const train: Series = y.slice(0, o);
      const ctx = { firstWeekday: series.firstWeekday, storeProfile: storeWeekdayProfile(storeSeries.values.slice(0, o), series.firstWeekday) };
      const profile = settingsAt(o);
      const made = forecastSku(train, ctx, { ...options, ...(profile ? { profile } : {}) });
      chosen[made.method] = (chosen[made.method] ?? 0) + 1;
      const scale = seasonalScale(train) ?? 1;
      const forecasts: Record<string, number[]> = { CHOSEN: made.daily.map((d) => d.mean) };
      for (const c of competitors) if (c !== 'CHOSEN' && !isOracle(c)) forecasts[c] = METHODS[c](train, H, ctx);
      for (const c of ORACLES) forecasts[c] = Array.from({ length: H }, (_, j) => oracle(c, y, scored, o + j));
      for (const c of competitors) {
        for (let j = 0; j < H; j++) {
          const actual = y[o + j];
          if (actual === null || actual === undefined) continue;
          const e = Math.abs(forecasts[c]![j]! - actual);
          for (const t of [mine.get(c)!, overall.get(c)!]) {
            t.abs += e;
            t.actual += actual;
            t.scaled += e / scale;
            t.n++;
          }
        }
      }
    }
    origins = count;
    const wape: Record<string, number> = {};
    const mase: Record<string, number> = {};
    for (const [c, t] of mine) {
      wape[c] = t.abs / t.actual;
      mase[c] = t.scaled / t.n;
    }
    perSku.push({ sku: item, units: sold, chosen, wape, mase });
  }
  const result: ForecastEvaluation['overall'] = {};
  for (const [c, t] of overall) result[c] = { wape: t.abs / t.actual, mase: perSku.reduce((s, p) => s + p.mase[c]!, 0) / perSku.length };
  return { overall: result, perSku, origins, days: addDays(through, 1) > from ? storeSeries.days.length : 0 };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * The trends service's forecasting round (runForecasts: read the windows,
 * forecast, store and put in the outbox) on 2,000 SKUs with 26 weeks of day
 * windows and 8 weeks of hourly ones, planted straight into a scratch store
 * database: 400 SKUs selling every day with a weekly shape, 1,600 slow
 * movers. CPU is this process's (user + system) over the round; PostgreSQL's
 * is not counted.
 */
async function workerCpu(skus = 2000): Promise<string> {
  const db = await scratchDatabase('forecast');
  const pool = createPool({ connectionString: db.url, logger: benchLogger, applicationName: 'bench-forecast', max: 2 });
  try {
    const yesterday = addDays(new Date().toISOString().slice(0, 10), -1);
    await pool.query('SELECT setseed(0.42)');
    await pool.query(
      `INSERT INTO sales_aggregates (granularity, dimension, member, window_start, units, transactions)
       SELECT 'day', 'sku', 'SKU' || lpad(s::text, 5, '0'), d, u, u FROM (
         SELECT s, d, CASE WHEN s <= $2 / 5
           THEN round((3 + s % 37) * (CASE extract(dow FROM d) WHEN 6 THEN 1.8 WHEN 0 THEN 1.3 ELSE 0.8 END) * (0.6 + random() * 0.8))
           ELSE CASE WHEN random() < 0.05 + (s % 10) * 0.05 THEN 1 + floor(random() * 3) ELSE 0 END END AS u
         FROM generate_series(1, $2::int) s, generate_series($1::date - 181, $1::date, interval '1 day') d
       ) x WHERE u > 0`,
      [yesterday, skus],
    );
    await pool.query(
      `INSERT INTO sales_aggregates (granularity, dimension, member, window_start, units, transactions)
       SELECT 'day', 'store', 'all', window_start, sum(units), count(*) FROM sales_aggregates WHERE granularity = 'day' AND dimension = 'sku' GROUP BY window_start`,
    );
    await pool.query(
      `INSERT INTO sales_aggregates (granularity, dimension, member, window_start, units, transactions)
       SELECT '1h', 'sku', member, window_start + make_interval(hours => 8 + (hashtext(member) & 7) + h), units / 2, 1
       FROM sales_aggregates, generate_series(0, 1) h WHERE granularity = 'day' AND dimension = 'sku' AND window_start > $1::date - 56`,
      [yesterday],
    );
    await pool.query(
      `INSERT INTO sales_aggregates (granularity, dimension, member, window_start, units, transactions)
       SELECT '1h', 'store', 'all', window_start, sum(units), count(*) FROM sales_aggregates WHERE granularity = '1h' AND dimension = 'sku' GROUP BY window_start`,
    );
    const ctx = { storeId: 'S001', timeZone: 'UTC' };
    const rounds: Array<Record<string, string | number>> = [];
    for (let n = 1; n <= 2; n++) {
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      const round = await runForecasts(pool, ctx, DEFAULT_FORECAST_POLICY);
      const used = process.cpuUsage(cpu);
      rounds.push({ round: n, skus: round.skus, 'wall s': ((performance.now() - t0) / 1000).toFixed(1), 'CPU s (trends process)': ((used.user + used.system) / 1e6).toFixed(1), 'CPU ms per SKU': ((used.user + used.system) / 1000 / round.skus).toFixed(2) });
    }
    return `forecasting worker, ${skus} SKUs (${skus / 5} daily sellers, ${(skus * 4) / 5} slow movers), 182 days of day windows, ${DEFAULT_FORECAST_POLICY.folds} backtest folds per SKU (loaded machine):\n\n${table(rounds)}`;
  } finally {
    await pool.end();
    await db.drop();
  }
}

export async function forecastBench(): Promise<string> {
  return `${await accuracy()}\n\n${await workerCpu(Number(process.env.BENCH_FORECAST_SKUS ?? 2000))}`;
}

function accuracy(): Promise<string> {
  const started = process.cpuUsage();
  const t0 = performance.now();
  const ev = evaluateBakery({ tune: true });
  const cpu = process.cpuUsage(started);
  const o = ev.overall;
  const better = Math.min(o.SEASONAL_NAIVE!.wape, o.WEEKDAY_MEAN_4!.wape);
  const gain = 1 - o.CHOSEN!.wape / better;
  const lines = [
    `bakery log: ${ev.days} calendar days, top ${TOP} items, ${ev.origins} origins (train on the days before, forecast 7, step 7), closed days not scored`,
    '',
    table(
      ev.perSku.map((p) => ({
        item: p.sku,
        units: p.units,
        'picked (origins)': Object.entries(p.chosen).map(([m, n]) => `${m} ${n}`).join(', '),
        'WAPE chosen': pct(p.wape.CHOSEN!),
        'WAPE snaive': pct(p.wape.SEASONAL_NAIVE!),
        'WAPE mean4': pct(p.wape.WEEKDAY_MEAN_4!),
        'MASE chosen': p.mase.CHOSEN!.toFixed(2),
        'MASE snaive': p.mase.SEASONAL_NAIVE!.toFixed(2),
        'MASE mean4': p.mase.WEEKDAY_MEAN_4!.toFixed(2),
      })),
    ),
    '',
    table(
      Object.entries(o).map(([method, v]) => ({
        method: method === 'CHOSEN' ? 'chosen per SKU (forecastSku)' : isOracle(method) ? `${method} (sees the future: a bound)` : `${method} alone`,
        'overall daily WAPE': pct(v.wape),
        'mean MASE': v.mase.toFixed(3),
      })),
    ),
    '',
    `chosen vs the better baseline (${o.SEASONAL_NAIVE!.wape <= o.WEEKDAY_MEAN_4!.wape ? 'seasonal naive' : '4-week weekday mean'}, ${pct(better)}): ${pct(gain)} better; target >= 10%: ${gain >= 0.1 ? 'MET' : 'NOT MET'}`,
    `the target's WAPE (${pct(better * 0.9)}) against the oracles that see the future: leave-one-out weekday mean ${pct(o.ORACLE_LOO_MEAN!.wape)}, median ${pct(o.ORACLE_LOO_MEDIAN!.wape)}, in-sample weekday mean ${pct(o.ORACLE_IN_SAMPLE_MEAN!.wape)}`,
    `(${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU, loaded machine)`,
  ];
  return Promise.resolve(lines.join('\n'));
}
