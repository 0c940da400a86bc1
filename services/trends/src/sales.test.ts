import { describe, expect, it } from 'vitest';
import { salesAggregates, salesAnomalies, type PosTransactionInput } from '@tillstream/contracts';
import { makeTransaction, readRecords, waitFor } from '@tillstream/testing';
import { testTrends, type TestTrends } from './testing.ts';

interface Summary {
  businessDay: string;
  figures: { units: number; gross: number; discounts: number; net: number; tax: number; transactions: number; items: number; returns: number; returnsUnits: number; returnsAmount: number };
  basket: { items: number; value: number };
  revision: number;
  byTender: { member: string; net: number; transactions: number }[];
  byCategory: { member: string; units: number; net: number }[];
  byTerminal: { member: string; transactions: number }[];
}

async function json<T>(trends: TestTrends, path: string): Promise<T> {
  const res = await trends.get(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}
const summary = (trends: TestTrends, day: string) => json<Summary>(trends, `/v1/sales/summary?businessDay=${day}`);

const at = (occurredAt: string, lines: Parameters<typeof makeTransaction>[0], overrides: Partial<PosTransactionInput> = {}) =>
  makeTransaction(lines, { occurredAt, businessDay: occurredAt.slice(0, 10), ...overrides });

describe('sales windows from the POS topic', () => {
  it('sums a day by store, category, terminal and tender, with returns netted, voids and training excluded', async () => {
    const trends = await testTrends();
    const day = '2026-07-01';
    const sale = at(`${day}T09:07:30+01:00`, [{ sku: 'BREAD', quantity: 2, unitPrice: 300, category: 'bread', taxAmount: 0 }, { sku: 'TEA', quantity: 1, unitPrice: 250, category: 'drinks', discount: 50, taxAmount: 40 }]);
    const other = at(`${day}T10:15:00+01:00`, [{ sku: 'BREAD', quantity: 1, unitPrice: 300, category: 'bread' }], { terminalId: 'T02' });
    const ret = at(`${day}T11:00:00+01:00`, [{ sku: 'BREAD', quantity: 1, unitPrice: 300, category: 'bread' }], { type: 'RETURN', original: { transactionId: sale.transactionId, terminalId: 'T01' } });
    const training = at(`${day}T11:30:00+01:00`, [{ sku: 'BREAD', quantity: 9, unitPrice: 300, category: 'bread' }], { trainingMode: true });
    const voidedLater = at(`${day}T12:00:00+01:00`, [{ sku: 'CAKE', quantity: 3, unitPrice: 400, category: 'pastry' }]);
    const voidFirst = at(`${day}T12:01:00+01:00`, [], { type: 'POST_VOID', original: { transactionId: voidedLater.transactionId, terminalId: 'T01' } });
    await trends.publish([voidFirst, sale, other, sale, ret, training]);
    await trends.caughtUp();
    await trends.publish([voidedLater]); // the void arrived first: the sale never counts
    await trends.caughtUp();
    // A sale counted in an earlier batch, voided later: its stored contribution comes off again.
    const counted = at(`${day}T12:30:00+01:00`, [{ sku: 'PIE', quantity: 2, unitPrice: 350, category: 'deli' }], { terminalId: 'T03' });
    await trends.publish([counted]);
    await trends.caughtUp();
    expect((await summary(trends, day)).figures.transactions).toBe(3);
    await trends.publish([at(`${day}T12:31:00+01:00`, [], { type: 'POST_VOID', terminalId: 'T03', original: { transactionId: counted.transactionId, terminalId: 'T03' } })]);
    await trends.caughtUp();

    const s = await summary(trends, day);
    // sale: 600 + 200 net (250 - 50 discount), other: 300, return: -300.
    expect(s.figures).toEqual({ units: 3, gross: 1150 - 300 + 0, discounts: 50, net: 800, tax: 40, transactions: 2, items: 4, returns: 1, returnsUnits: 1, returnsAmount: 300 });
    expect(s.basket).toEqual({ items: 2, value: 550 });
    expect(s.byTerminal.map((t) => [t.member, t.transactions])).toEqual([['T01', 1], ['T02', 1], ['T03', 0]]);
    expect(s.byCategory.map((c) => [c.member, c.units, c.net]).sort()).toEqual([['bread', 2, 600], ['deli', 0, 0], ['drinks', 1, 200], ['pastry', 0, 0]]);
    // Tenders net of change: the sale's 840 in cash, the other 300, the refund -300.
    expect(s.byTender.map((t) => [t.member, t.net, t.transactions])).toEqual([['CASH', 840, 2]]);
  });

  it('puts each sale in the 5-minute and hourly windows of its local time, in the store time zone', async () => {
    const trends = await testTrends();
    // 09:07:30 in London in July is 08:07:30Z; 23:58 on 1 July London is already 2 July in UTC... it is not: 22:58Z.
    await trends.publish([at('2026-07-01T09:07:30+01:00', [{ sku: 'BUN', quantity: 2 }]), at('2026-07-01T08:04:59Z', [{ sku: 'BUN', quantity: 1 }]), at('2026-07-01T23:58:00+01:00', [{ sku: 'BUN', quantity: 5 }])]);
    await trends.caughtUp();
    type Series = { points: { windowStart: string; units: number; transactions: number }[] };
    const fiveMin = await json<Series>(trends, '/v1/sales/timeseries?granularity=5m&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z&sku=BUN');
    expect(fiveMin.points.map((p) => [p.windowStart, p.units])).toEqual([
      ['2026-07-01T08:00:00.000Z', 1],
      ['2026-07-01T08:05:00.000Z', 2],
      ['2026-07-01T22:55:00.000Z', 5],
    ]);
    // A range between window starts holds the windows that start in it: from 09:01 local (08:01Z), 09:00's is out; up to
    // 22:55Z exclusive, 23:55 local's is out, and in once the range reaches past its start.
    const edges = (to: string) => json<Series>(trends, `/v1/sales/timeseries?granularity=5m&from=2026-07-01T08:01:00Z&to=${to}&sku=BUN`);
    expect((await edges('2026-07-01T22:55:00Z')).points.map((p) => [p.windowStart, p.units])).toEqual([['2026-07-01T08:05:00.000Z', 2]]);
    expect((await edges('2026-07-01T22:55:00.001Z')).points.map((p) => [p.windowStart, p.units])).toEqual([
      ['2026-07-01T08:05:00.000Z', 2],
      ['2026-07-01T22:55:00.000Z', 5],
    ]);
    const hourly = await json<Series>(trends, '/v1/sales/timeseries?granularity=1h&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z');
    expect(hourly.points.map((p) => [p.windowStart, p.units, p.transactions])).toEqual([
      ['2026-07-01T08:00:00.000Z', 3, 2],
      ['2026-07-01T22:00:00.000Z', 5, 1],
    ]);
  });

  it('restates a day when its backlog arrives late, with a higher revision, and publishes the restatement', async () => {
    const trends = await testTrends();
    await trends.publish([at('2026-03-02T10:00:00Z', [{ sku: 'MILK', quantity: 1 }]), at('2026-03-03T10:00:00Z', [{ sku: 'MILK', quantity: 1 }])]);
    await trends.caughtUp();
    expect((await summary(trends, '2026-03-01')).revision).toBe(0);

    // A terminal that was offline on the 1st uploads its day afterwards, in two goes.
    await trends.publish([at('2026-03-01T09:00:00Z', [{ sku: 'MILK', quantity: 4, unitPrice: 100 }])]);
    await trends.caughtUp();
    const first = await summary(trends, '2026-03-01');
    expect(first.figures).toMatchObject({ units: 4, net: 400, transactions: 1 });
    await trends.publish([at('2026-03-01T17:00:00Z', [{ sku: 'MILK', quantity: 2, unitPrice: 100 }])]);
    await trends.caughtUp();
    const second = await summary(trends, '2026-03-01');
    expect(second.figures).toMatchObject({ units: 6, net: 600, transactions: 2 });
    expect(second.revision).toBeGreaterThan(first.revision);

    // Restatements between two publishing rounds are published once, at the latest revision.
    const storeDay = await waitFor(
      async () => {
        const records = await readRecords(trends.kafka.kafka, `${trends.kafka.prefix}${salesAggregates.name}`);
        const mine = records
          .filter((r) => r.key === 'S001|day|2026-03-01T00:00:00.000Z|store|all')
          .map((r) => (JSON.parse(r.value) as { data: { revision: number; figures: { net: number } } }).data);
        return mine.at(-1)?.revision === 2 ? mine : undefined;
      },
      { message: 'revision 2 of 2026-03-01 on sales.aggregates.v1' },
    );
    expect(storeDay.map((r) => r.revision)).toEqual([...storeDay.map((r) => r.revision)].sort((a, b) => a - b));
    expect(storeDay.at(-1)!.figures.net).toBe(600);
  });

  it('ranks top sellers by units and by revenue for a day and the last 7 days', async () => {
    const trends = await testTrends();
    await trends.publish([
      at('2026-05-10T10:00:00Z', [{ sku: 'CHEAP', quantity: 10, unitPrice: 50 }, { sku: 'DEAR', quantity: 1, unitPrice: 5000 }]),
      at('2026-05-10T11:00:00Z', [{ sku: 'MID', quantity: 3, unitPrice: 400 }]),
      at('2026-05-05T11:00:00Z', [{ sku: 'MID', quantity: 30, unitPrice: 400 }]),
      at('2026-04-20T11:00:00Z', [{ sku: 'OLD', quantity: 99, unitPrice: 400 }]),
    ]);
    await trends.caughtUp();
    type Top = { items: { sku: string; units: number; revenue: number }[] };
    const byUnits = await json<Top>(trends, '/v1/sales/top?businessDay=2026-05-10&by=units');
    expect(byUnits.items.map((i) => [i.sku, i.units])).toEqual([['CHEAP', 10], ['MID', 3], ['DEAR', 1]]);
    const byRevenue = await json<Top>(trends, '/v1/sales/top?businessDay=2026-05-10&by=revenue&limit=2');
    expect(byRevenue.items.map((i) => [i.sku, i.revenue])).toEqual([['DEAR', 5000], ['MID', 1200]]);
    const week = await json<Top>(trends, '/v1/sales/top?window=7d&businessDay=2026-05-10&by=units&limit=1');
    expect(week.items).toEqual([{ sku: 'MID', units: 33, revenue: 13200, transactions: 2 }]);
    // Today and the last hour: this test's sales are long past.
    expect((await json<Top>(trends, '/v1/sales/top?window=1h')).items).toEqual([]);
  });

  it('measures velocity now against the same hour in the previous four weeks', async () => {
    const trends = await testTrends({ STORE_TIME_ZONE: 'UTC' });
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const week = 7 * 86_400_000;
    const hourStart = Math.floor(now / 3600_000) * 3600_000;
    await trends.publish([
      at(iso(now - 60_000), [{ sku: 'ICE', quantity: 12 }]),
      ...[1, 2, 3, 4].map((k) => at(iso(hourStart - k * week + 60_000), [{ sku: 'ICE', quantity: 2 * k }])),
    ]);
    await trends.caughtUp();
    const v = await json<{ unitsLastHour: number; baselineUnitsPerHour: number; ratio: number }>(trends, '/v1/sales/velocity?sku=ICE');
    expect(v.unitsLastHour).toBe(12);
    expect(v.baselineUnitsPerHour).toBe(5); // (2 + 4 + 6 + 8) / 4
    expect(v.ratio).toBe(2.4);
  });

  it('finds an hour far from its robust baseline and publishes it once', async () => {
    const trends = await testTrends({ STORE_TIME_ZONE: 'UTC' });
    const week = 7 * 86_400_000;
    const hour = Date.parse('2026-06-29T10:00:00Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    // Eight ordinary Mondays at 10:00 (about 10 croissants), then one with 60.
    const history = [10, 12, 9, 11, 10, 13, 8, 10].map((units, k) => at(iso(hour - (8 - k) * week + 600_000), [{ sku: 'CROISSANT', quantity: units, unitPrice: 150 }, { sku: 'COFFEE', quantity: 10, unitPrice: 250 }]));
    const spike = at(iso(hour + 900_000), [{ sku: 'CROISSANT', quantity: 60, unitPrice: 150 }, { sku: 'COFFEE', quantity: 10, unitPrice: 250 }]);
    // Event time moves past 11:00 once a later sale is booked.
    const later = at(iso(hour + 2 * 3600_000), [{ sku: 'COFFEE', quantity: 1, unitPrice: 250 }]);
    await trends.publish(history);
    await trends.caughtUp();
    await trends.publish([spike]);
    await trends.caughtUp();
    await trends.publish([later]);
    await trends.caughtUp();

    const { anomalies } = await json<{ anomalies: { kind: string; member: string; windowStart: string; observed: number; baselineMedian: number; direction: string; score: number }[] }>(trends, '/v1/sales/anomalies');
    const croissant = anomalies.find((a) => a.kind === 'SKU_UNITS' && a.member === 'CROISSANT');
    expect(croissant).toMatchObject({ windowStart: '2026-06-29T10:00:00.000Z', observed: 60, baselineMedian: 10, direction: 'HIGH' });
    expect(croissant!.score).toBeGreaterThan(3.5);
    expect(anomalies.some((a) => a.member === 'COFFEE')).toBe(false); // coffee sold as always
    expect(anomalies.find((a) => a.kind === 'STORE_REVENUE')).toMatchObject({ direction: 'HIGH' });

    await trends.publish([at(iso(hour + 3 * 3600_000), [{ sku: 'COFFEE', quantity: 1 }])]);
    await trends.caughtUp();
    const published = await readRecords(trends.kafka.kafka, `${trends.kafka.prefix}${salesAnomalies.name}`, { atLeast: 2 });
    expect(published.map((r) => (JSON.parse(r.value) as { data: { member: string } }).data.member).sort()).toEqual(['CROISSANT', 'all']);
  });

  it('refuses malformed queries with 400 and names the parameter', async () => {
    const trends = await testTrends();
    for (const path of [
      '/v1/sales/summary?businessDay=yesterday',
      '/v1/sales/timeseries?granularity=1d&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z',
      '/v1/sales/timeseries?granularity=5m&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
      '/v1/sales/timeseries?granularity=5m&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z',
      '/v1/sales/top?window=forever',
      '/v1/sales/top?by=smiles',
      '/v1/sales/anomalies?limit=0',
    ]) {
      const res = await trends.get(path);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { code: string; errors: { pointer: string }[] };
      expect(body.code).toBe('BAD_QUERY');
      expect(body.errors[0]!.pointer).toMatch(/^\/query\//);
    }
  });
});
