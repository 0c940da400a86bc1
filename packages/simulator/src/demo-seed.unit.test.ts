import { describe, expect, it } from 'vitest';
import { PosTransactionV1 } from '@tillstream/contracts';
import { deliveredDaily, deliverySchedule, demoCatalog, demoHistory, itemSettings, openingStock, type DemoDelivery } from './demo-seed.ts';

const DAY = 86_400_000;

describe('demo history (the bakery log in the recent past)', () => {
  const now = new Date('2026-11-26T14:30:00Z'); // a Thursday
  const weeks = demoHistory({ storeId: 'S001', timeZone: 'Europe/London', weeks: 8, now });
  const all = weeks.flatMap((w) => w.transactions);

  it('covers the 8 weeks before this one and this week up to now, weekday for weekday with the log', () => {
    expect(weeks.map((w) => w.monday)).toEqual(Array.from({ length: 9 }, (_, i) => new Date(Date.parse('2026-09-28') + i * 7 * DAY).toISOString().slice(0, 10)));
    expect(all.length).toBeGreaterThan(3000);
    expect(Math.max(...all.map((tx) => Date.parse(tx.occurredAt)))).toBeLessThanOrEqual(now.getTime());
    expect(all.some((tx) => tx.businessDay === '2026-11-26')).toBe(true);
    // Every day of the history is a trading day (closed days of the log show the week before's).
    const days = new Set(all.map((tx) => tx.businessDay));
    expect(days.size).toBe(8 * 7 + 4);
    for (const day of days) expect(all.filter((tx) => tx.businessDay === day).length, day).toBeGreaterThanOrEqual(day === '2026-11-26' ? 1 : 10);
    // Nine weeks at any date: none of them shows a closed day.
    for (let week = 0; week < 22; week++) {
      const txs = demoHistory({ storeId: 'S001', timeZone: 'UTC', weeks: 0, now: new Date(now.getTime() - week * 7 * DAY + 12 * 3600_000) }).flatMap((w) => w.transactions);
      const perDay = new Map<string, number>();
      for (const tx of txs) perDay.set(tx.businessDay, (perDay.get(tx.businessDay) ?? 0) + 1);
      expect(Math.min(...perDay.values()), JSON.stringify([...perDay])).toBeGreaterThanOrEqual(10);
    }
    // Saturdays are the bakery's busiest day, as in the log.
    const perWeekday = new Array<number>(7).fill(0);
    for (const tx of all) perWeekday[new Date(tx.businessDay).getUTCDay()]! += 1;
    expect(perWeekday.indexOf(Math.max(...perWeekday))).toBe(6);
  });

  it('is valid POS input, one terminal sequence per till, ids unique', () => {
    for (const tx of all.slice(0, 500)) expect(PosTransactionV1.safeParse(tx).error).toBeUndefined();
    expect(new Set(all.map((tx) => tx.transactionId)).size).toBe(all.length);
    expect(new Set(all.map((tx) => `${tx.terminalId}:${tx.sequenceNumber}`)).size).toBe(all.length);
    expect(new Set(all.map((tx) => tx.terminalId))).toEqual(new Set(['T01', 'T02']));
    // Numbered by day (days since 2000 x 1,000,000 + n): a day's numbers never depend on when the demo ran, and stay below the live tills' (+10,000).
    for (const tx of all) {
      expect(Math.floor(tx.sequenceNumber / 1_000_000)).toBe((Date.parse(tx.businessDay) - Date.UTC(2000, 0, 1)) / DAY);
      expect(tx.sequenceNumber % 1_000_000).toBeLessThan(1000);
    }
  });

  it('gives a day the same transactions (ids and bodies) whenever the demo runs: a restart, or a run a week later, doubles nothing', () => {
    const later = demoHistory({ storeId: 'S001', timeZone: 'Europe/London', weeks: 8, now: new Date(now.getTime() + 9 * DAY) });
    const byId = new Map(later.flatMap((w) => w.transactions).map((tx) => [tx.transactionId, tx]));
    const overlap = all.filter((tx) => tx.businessDay >= later[0]!.monday);
    expect(overlap.length).toBeGreaterThan(2000);
    for (const tx of overlap) expect(byId.get(tx.transactionId)).toEqual(tx);
    // A restart later the same day: the morning's transactions are the same, the afternoon's follow.
    const evening = demoHistory({ storeId: 'S001', timeZone: 'Europe/London', weeks: 0, now: new Date(now.getTime() + 3 * 3600_000) }).flatMap((w) => w.transactions);
    const eveningById = new Map(evening.map((tx) => [tx.transactionId, tx]));
    const today = all.filter((tx) => tx.businessDay === '2026-11-26');
    expect(evening.filter((tx) => tx.businessDay === '2026-11-26').length).toBeGreaterThan(today.length);
    for (const tx of today) expect(eveningById.get(tx.transactionId)).toEqual(tx);
    // The weekly deliveries too: a week's whole demand, whatever day it is asked for.
    const week = weeks.find((w) => w.monday === '2026-11-23')!;
    expect(later.find((w) => w.monday === '2026-11-23')!.demand).toEqual(week.demand);
    // Another store's copy of a day is its own transactions.
    const other = demoHistory({ storeId: 'S002', timeZone: 'Europe/London', weeks: 0, now });
    expect(other.flatMap((w) => w.transactions).some((tx) => byId.has(tx.transactionId))).toBe(false);
  });

  it("delivers each day's bake and each week's other goods before they are sold: stock never falls below the opening level, nothing NEGATIVE", () => {
    const catalog = demoCatalog();
    const level = new Map(catalog.map((item) => [item.sku, openingStock(item)]));
    const deliveries: DemoDelivery[] = [];
    for (const week of weeks) {
      for (const delivery of deliverySchedule(week, catalog, '2026-11-26')) {
        deliveries.push(delivery);
        for (const line of delivery.lines) level.set(line.sku, level.get(line.sku)! + line.quantity);
      }
      for (const tx of week.transactions) for (const line of tx.lines ?? []) level.set(line.sku, level.get(line.sku)! - line.quantity);
      // At the end of each week (or now): every item at or above its opening level.
      for (const item of catalog) expect(level.get(item.sku), `${item.sku} in the week of ${week.monday}`).toBeGreaterThanOrEqual(openingStock(item));
    }
    // A delivery every morning up to today (the bake), none after it.
    expect(deliveries.map((d) => d.day)).toEqual(Array.from({ length: 8 * 7 + 4 }, (_, i) => new Date(Date.parse('2026-09-28') + i * DAY).toISOString().slice(0, 10)));
    const byDay = new Map(deliveries.map((d) => [d.day, d]));
    for (const item of catalog) {
      const s = itemSettings(item);
      expect(s.maximum).toBeGreaterThan(s.reorderPoint);
      expect(openingStock(item)).toBeGreaterThan(s.reorderPoint);
      // Suggested orders follow the forecast (inventory's replenishment.ts); the fixed reorder point drives alerts and restocking.
      expect(s.reorderMode).toBe('FORECAST');
      // The bake comes daily (review period 1), the rest weekly on Monday (review period 7).
      expect(s.reviewPeriodDays).toBe(deliveredDaily(item) ? 1 : 7);
      const days = deliveries.filter((d) => d.lines.some((l) => l.sku === item.sku)).map((d) => new Date(d.day).getUTCDay());
      if (!deliveredDaily(item)) expect(new Set(days), item.sku).toEqual(new Set(days.length ? [1] : []));
    }
    expect(catalog.filter(deliveredDaily).length).toBeGreaterThan(5);
    // The same week's deliveries whenever asked (a restart, a later run): same keys (days), same bodies.
    const later = demoHistory({ storeId: 'S001', timeZone: 'Europe/London', weeks: 8, now: new Date(now.getTime() + 9 * DAY) });
    for (const delivery of deliverySchedule(later.find((w) => w.monday === '2026-11-23')!, catalog, '2026-11-26')) expect(byDay.get(delivery.day)).toEqual(delivery);
  });

  it('opens every item one unit above its reorder point, not days of stock above it', () => {
    for (const item of demoCatalog()) expect(openingStock(item)).toBe(itemSettings(item).reorderPoint + 1);
    for (const item of demoCatalog().filter(deliveredDaily)) expect(itemSettings(item).reorderPoint).toBe(itemSettings(item).packSize);
  });
});
