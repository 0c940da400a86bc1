import { describe, expect, it } from 'vitest';
import { forecastDemand, ForecastDemandV1, ForecastTop, type ForecastDemand } from '@tillstream/contracts';
import { testServicePool } from '@tillstream/consumer-service/testing';
import { tryAdvisorySessionLock, type Pool } from '@tillstream/db';
import { addDays, weekday } from '@tillstream/forecast';
import { makeTransaction, readRecords, testDatabase, waitFor, type TestDatabase } from '@tillstream/testing';
import type { TrendsContext } from './facts.ts';
import { DEFAULT_FORECAST_POLICY, localHour, runForecasts } from './forecasts.ts';
import { today } from './queries.ts';
import { testTrends } from './testing.ts';
import { addToWindows, sumWindows, type Contribution } from './windows.ts';

const ctx: TrendsContext = { storeId: 'S001', timeZone: 'Europe/London' };

/** A sale of `units` of a SKU at a local hour of a day, as the consumer would add it to the windows. */
const sale = (day: string, hour: number, sku: string, units: number): Contribution => ({
  sign: 1,
  type: 'SALE',
  businessDay: day,
  occurredAtMs: Date.parse(localHour(day, hour, ctx.timeZone)),
  terminalId: 'T01',
  lines: [{ sku, category: 'bakery', unitsMilli: units * 1000, gross: units * 100, discount: 0, net: units * 100, tax: 0 }],
  tenders: [{ type: 'CASH', amount: units * 100 }],
});

async function book(pool: Pool, contributions: Contribution[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await addToWindows(client, sumWindows(contributions, ctx.timeZone));
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** Bread by weekday (Sunday first), at 10:00 and 15:00; cake every 4th day at 11:00. */
const BREAD = [12, 8, 8, 8, 8, 10, 20];

/** 10 weeks up to yesterday; the store closed 10 days ago (no sales at all). */
async function plantHistory(db: TestDatabase, yesterday: string): Promise<string> {
  const closed = addDays(yesterday, -10);
  const sales: Contribution[] = [];
  for (let k = 69; k >= 0; k--) {
    const day = addDays(yesterday, -k);
    if (day === closed) continue;
    const bread = BREAD[weekday(day)]! + (k % 3) - 1;
    sales.push(sale(day, 10, 'BREAD', Math.ceil(bread * 0.7)), sale(day, 15, 'BREAD', bread - Math.ceil(bread * 0.7)));
    if (k % 4 === 0) sales.push(sale(day, 11, 'CAKE', 1));
  }
  await book(db.pool, sales);
  return closed;
}

describe('demand forecasts in the store', () => {
  it('uses no window after the day before the forecast: huge sales planted from that day on change nothing; one process at a time', async () => {
    const db = await testDatabase({ target: 'store' });
    const pool = testServicePool(db, 'trends');
    const now = new Date();
    const yesterday = addDays(today(ctx.timeZone, now), -1);
    await plantHistory(db, yesterday);
    const read = async () => (await db.pool.query<{ sku: string; record: ForecastDemand }>('SELECT sku, record FROM sales_forecasts ORDER BY sku')).rows;

    expect(await runForecasts(pool, ctx, DEFAULT_FORECAST_POLICY, now)).toEqual({ ran: true, skus: 2, dataThrough: yesterday });
    const before = await read();
    expect(before.map((r) => r.sku)).toEqual(['BREAD', 'CAKE']);

    // Today (still filling) and later days: a huge amount of every SKU, and a SKU first sold today.
    const after = [0, 1, 3].flatMap((k) => [sale(addDays(yesterday, 1 + k), 12, 'BREAD', 5000), sale(addDays(yesterday, 1 + k), 13, 'CAKE', 5000), sale(addDays(yesterday, 1 + k), 9, 'NEW', 5000)]);
    await book(db.pool, after);
    expect(await runForecasts(pool, ctx, DEFAULT_FORECAST_POLICY, now)).toEqual({ ran: true, skus: 2, dataThrough: yesterday });
    expect(await read()).toEqual(before);

    // Another trends process holds the forecasting lock: this one skips the round.
    const other = await db.pool.connect();
    try {
      expect(await tryAdvisorySessionLock(other, 'trendsForecast')).toBe(true);
      expect(await runForecasts(pool, ctx, DEFAULT_FORECAST_POLICY, now)).toMatchObject({ ran: false });
    } finally {
      other.release(true);
    }
  });

  it('forecasts every SKU from its windows: stored, published on forecast.demand.v1 and served at /v1/forecast', async () => {
    const db = await testDatabase({ target: 'store' });
    const yesterday = addDays(today(ctx.timeZone), -1);
    await plantHistory(db, yesterday);
    const trends = await testTrends({}, { db });

    // The first round runs as the service starts (nothing to catch up on).
    let bread: ForecastDemand | undefined;
    await waitFor(
      async () => {
        const res = await trends.get('/v1/forecast/skus/BREAD');
        if (res.status !== 200) return false;
        bread = ForecastDemandV1.parse(await res.json());
        return true;
      },
      { timeoutMs: 30_000, message: "BREAD's forecast" },
    );
    const f = bread!;
    expect(f).toMatchObject({ storeId: 'S001', sku: 'BREAD', dataThrough: yesterday, intervalLevel: 0.8, historyDays: 70 });
    expect(f.daily.map((d) => d.businessDay)).toEqual([1, 2, 3, 4, 5, 6, 7].map((k) => addDays(yesterday, k)));
    // The weekly shape: Saturday well above Monday; the error is the chosen method's backtest (units/day).
    const on = (w: number) => f.daily.find((d) => weekday(d.businessDay) === w)!;
    expect(on(6).mean).toBeGreaterThan(on(1).mean * 1.5);
    expect(f.error.folds).toBe(6);
    expect(f.error.dailyRmse).toBeGreaterThan(0);
    expect(f.error.dailyRmse).toBeLessThan(5);
    // Hourly: the SKU's own hours (10:00 and 15:00, London time with its offset), summing to the day.
    const firstDay = f.hourly.filter((h) => h.windowStart.startsWith(f.daily[0]!.businessDay));
    expect(new Set(firstDay.filter((h) => h.mean > 0.2 * f.daily[0]!.mean).map((h) => h.windowStart.slice(11, 13)))).toEqual(new Set(['10', '15']));
    expect(firstDay.reduce((t, h) => t + h.mean, 0)).toBeCloseTo(f.daily[0]!.mean, 1);
    expect(firstDay[0]!.windowStart).toMatch(/T\d\d:00:00[+-]\d\d:\d\d$/);

    const top = ForecastTop.parse(await (await trends.get('/v1/forecast/top?limit=5')).json());
    expect(top.items.map((i) => i.sku)).toEqual(['BREAD', 'CAKE']);
    expect(top.items[0]!.next7Days.mean).toBeCloseTo(f.daily.reduce((t, d) => t + d.mean, 0), 2);
    expect((await trends.get('/v1/forecast/skus/NOPE')).status).toBe(404);
    expect((await trends.get('/v1/forecast/top?limit=0')).status).toBe(400);
    // Guarded like /v1/sales: no token, no forecast.
    expect((await fetch(`${trends.url}/v1/forecast/top`)).status).toBe(401);

    // Published through the outbox, keyed store|sku, each record valid against the contract.
    const records = await readRecords(trends.kafka.kafka, `${trends.kafka.prefix}${forecastDemand.name}`, { atLeast: 2 });
    const byKey = new Map(records.map((r) => [r.key, forecastDemand.envelope.parse(JSON.parse(r.value)).data]));
    expect([...byKey.keys()].sort()).toEqual(['S001|BREAD', 'S001|CAKE']);
    expect(byKey.get('S001|BREAD')).toEqual(f);
  });

  it('forecasts again once a backlog of past days has been booked (a catch-up), without waiting for the hour, nor for the least gap after a round that found nothing', async () => {
    // Ten minutes between two rounds: the first round found nothing to forecast, so the backlog's does not wait for them.
    const trends = await testTrends({ FORECAST_MIN_GAP_MS: '600000' });
    const yesterday = addDays(today(ctx.timeZone), -1);
    // The first round finds nothing to forecast; then a terminal's backlog of the last 3 weeks arrives.
    await waitFor(() => trends.logs.some((l) => l.includes('demand forecasts made')), { timeoutMs: 30_000, message: 'the first round' });
    expect((await trends.get('/v1/forecast/skus/SCONE')).status).toBe(404);
    const backlog = Array.from({ length: 21 }, (_, k) => addDays(yesterday, -k)).map((day, k) =>
      makeTransaction([{ sku: 'SCONE', quantity: 2 + (k % 3) }], { occurredAt: localHour(day, 9, ctx.timeZone), businessDay: day, sequenceNumber: k + 1 }),
    );
    await trends.publish(backlog);
    await trends.caughtUp();
    let forecast: ForecastDemand | undefined;
    await waitFor(
      async () => {
        const res = await trends.get('/v1/forecast/skus/SCONE');
        if (res.status === 200) forecast = ForecastDemandV1.parse(await res.json());
        return forecast !== undefined;
      },
      { timeoutMs: 30_000, message: "SCONE's forecast after the catch-up" },
    );
    expect(forecast).toMatchObject({ sku: 'SCONE', dataThrough: yesterday, historyDays: 21 });
    expect(forecast!.daily[0]!.mean).toBeGreaterThan(1.5);
    expect(forecast!.daily[0]!.mean).toBeLessThan(4.5);
  });
});
