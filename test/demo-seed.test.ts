import { describe, expect, it } from 'vitest';
import { issueTerminalToken } from '@tillstream/db';
import { testIngest } from '@tillstream/ingest/testing';
import { testInventory } from '@tillstream/inventory/testing';
import { DemoBackOffice, deliverySchedule, demoCatalog, demoHistory, itemSettings, openingStock, seedStore, type SeedProgress } from '@tillstream/simulator';
import { makeTransaction } from '@tillstream/testing';
import { testTrends } from '@tillstream/trends/testing';

interface Item {
  sku: string;
  onHand: number;
  state: string;
  settings: { reorderPoint: number | null };
}

/**
 * The demo's seeding against the real store services (ingest, inventory,
 * trends on one store database and topic prefix): the history arrives
 * through ingest and is booked by both consumers, the deliveries keep every
 * item above its reorder point, and a second run (a restarted demo) books
 * and counts nothing twice.
 */
describe('demo seeding (packages/simulator demo-seed.ts)', () => {
  it('seeds a store through its APIs, a second run changes nothing, and the back office delivers before a sale would empty a shelf', async () => {
    const trends = await testTrends({ STORE_ID: 'S001', STORE_TIME_ZONE: 'UTC' });
    const inventory = await testInventory({ STORE_ID: 'S001', TRENDS_URL: trends.url, SYNC_URL: 'http://127.0.0.1:1' }, { kafka: trends.kafka, db: trends.db });
    // The history reaches up to 13 days back (a Sunday, one week): ingest's default 35-day window takes it.
    const ingest = await testIngest({}, { db: trends.db, kafka: trends.kafka });
    const options = {
      storeId: 'S001',
      timeZone: 'UTC',
      ingestUrl: ingest.url,
      storeApiUrl: inventory.url,
      managerToken: inventory.tokens['store-manager'],
      terminalTokens: { T01: ingest.token, T02: await issueTerminalToken(trends.db.pool, { storeId: 'S001', terminalId: 'T02' }) },
      weeks: 1,
    };
    const steps: SeedProgress[] = [];
    const now = new Date();
    const first = await seedStore({ ...options, now, onProgress: (p) => steps.push(p) });
    expect(first.transactions).toBeGreaterThan(200);
    expect(first.tally).toMatchObject({ accepted: first.transactions, replayed: 0, rejected: {}, abandoned: 0, viaBatch: first.transactions });
    // The opening delivery and one every morning up to today (the bake; the weekly goods come with Monday's).
    const catalog = demoCatalog();
    const today = now.toISOString().slice(0, 10);
    const deliveries = 1 + demoHistory({ storeId: 'S001', timeZone: 'UTC', weeks: 1, now }).reduce((n, week) => n + deliverySchedule(week, catalog, today).length, 0);
    expect(deliveries).toBeGreaterThanOrEqual(1 + 8);
    expect(first.deliveries).toEqual({ booked: deliveries, replayed: 0 });
    expect(first.settingsChanged).toBe(catalog.length);
    expect(steps.map((s) => s.step)).toEqual(['opening delivery', `item settings (${catalog.length} changed)`, expect.stringMatching(/^week of .* \(1\/2\)/), expect.stringMatching(/^week of .* \(2\/2\)/)]);
    expect(steps.at(-1)!.transactions).toBe(first.transactions);

    await trends.caughtUp(120_000);
    await inventory.caughtUp(120_000);
    const items = async () => ((await (await inventory.get('/v1/inventory/items?limit=500')).json()) as { items: Item[] }).items;
    const before = await items();
    expect(before).toHaveLength(catalog.length);
    for (const item of catalog) {
      const held = before.find((i) => i.sku === item.sku)!;
      // Each week's delivery came before its sales: nothing is under the opening level, so nothing is LOW, OUT or NEGATIVE.
      expect(held.onHand, item.sku).toBeGreaterThanOrEqual(openingStock(item));
      expect(held.state, item.sku).toBe('OK');
    }
    const daySales = async (day: string) => ((await (await trends.get(`/v1/sales/summary?businessDay=${day}`)).json()) as { figures: { transactions: number } }).figures.transactions;
    for (const [day, sales] of first.perDay) expect(await daySales(day), day).toBe(sales);

    // A restarted demo: ingest already has every transaction (200), inventory every delivery, the settings are set.
    const second = await seedStore({ ...options, now: new Date(Math.max(now.getTime(), Math.min(Date.now(), Date.parse(`${today}T23:59:59Z`)))) });
    expect(second.transactions).toBeGreaterThanOrEqual(first.transactions);
    expect(second.tally).toMatchObject({ accepted: second.transactions - first.transactions, replayed: first.transactions, rejected: {}, abandoned: 0 });
    expect(second.deliveries).toEqual({ booked: 0, replayed: deliveries });
    expect(second.settingsChanged).toBe(0);
    await trends.caughtUp(60_000);
    await inventory.caughtUp(60_000);
    if (second.transactions === first.transactions) {
      expect((await items()).map((i) => [i.sku, i.onHand])).toEqual(before.map((i) => [i.sku, i.onHand]));
      for (const [day, sales] of first.perDay) expect(await daySales(day), day).toBe(sales);
    }

    // The seeding's own sum of what it delivered and sold is what inventory booked.
    expect(Object.fromEntries(before.map((i) => [i.sku, i.onHand]))).toEqual(Object.fromEntries(first.stockAfterHistory));

    // The live tills sell far faster than the bakery did: the back office counts the shelves and, before a sale that
    // would take an item's last unit, books that item's delivery (DemoBackOffice): no stock is ever booked negative.
    const backOffice = await DemoBackOffice.open(options, second.stockAfterHistory);
    const coffee = (await items()).find((i) => i.sku === 'BK-COFFEE')!;
    const { reorderPoint, reorderQuantity } = itemSettings(catalog.find((i) => i.sku === 'BK-COFFEE')!);
    expect(backOffice.count('BK-COFFEE')).toBe(coffee.onHand);
    const sale = (quantity: number, sequenceNumber: number) => makeTransaction([{ sku: 'BK-COFFEE', quantity, unitPrice: 250 }], { storeId: 'S001', terminalId: 'T09', sequenceNumber });
    // A sale that leaves one unit needs no delivery; the shelf is LOW.
    const leavesOne = sale(coffee.onHand - 1, 1);
    expect(await backOffice.beforeRing(leavesOne)).toEqual(new Map());
    await trends.publish([leavesOne]);
    await inventory.caughtUp(60_000);
    expect((await items()).find((i) => i.sku === 'BK-COFFEE')).toMatchObject({ onHand: 1, state: 'LOW' });
    // One that would take 3 of the last unit: the delivery comes first (the reorder quantity and what the sale takes below the
    // reorder point), and the till's sale leaves the shelf at reorder point plus reorder quantity.
    const wouldEmpty = sale(3, 2);
    expect(await backOffice.beforeRing(wouldEmpty)).toEqual(new Map([['BK-COFFEE', reorderQuantity + reorderPoint + 2]]));
    await trends.publish([wouldEmpty]);
    await inventory.caughtUp(60_000);
    expect((await items()).find((i) => i.sku === 'BK-COFFEE')).toMatchObject({ onHand: reorderPoint + reorderQuantity, state: 'OK' });
    expect(backOffice.count('BK-COFFEE')).toBe(reorderPoint + reorderQuantity);
    // Returns put nothing on the count, and voided lines and training sales take nothing off it (the count only errs low);
    // a sale of an item the store never stocked has its delivery booked first.
    const offTheBooks = { storeId: 'S001', terminalId: 'T09', sequenceNumber: 3 };
    expect(await backOffice.beforeRing(makeTransaction([{ sku: 'BK-COFFEE', quantity: 2, unitPrice: 250 }], { ...offTheBooks, type: 'RETURN' }))).toEqual(new Map());
    expect(await backOffice.beforeRing(makeTransaction([{ sku: 'BK-COFFEE', quantity: 1000, unitPrice: 250, voided: true }], offTheBooks))).toEqual(new Map());
    expect(await backOffice.beforeRing(makeTransaction([{ sku: 'BK-COFFEE', quantity: 1000, unitPrice: 250 }], { ...offTheBooks, trainingMode: true }))).toEqual(new Map());
    expect(backOffice.count('BK-COFFEE')).toBe(reorderPoint + reorderQuantity);
    const newItem = makeTransaction([{ sku: 'BK-NEW', quantity: 2, unitPrice: 100 }], { storeId: 'S001', terminalId: 'T09', sequenceNumber: 4 });
    expect(await backOffice.beforeRing(newItem)).toEqual(new Map([['BK-NEW', 3]]));
    await trends.publish([newItem]);
    await inventory.caughtUp(60_000);
    expect((await items()).filter((i) => i.onHand < 0)).toEqual([]);
    expect((await items()).find((i) => i.sku === 'BK-NEW')).toMatchObject({ onHand: 1 });
  }, 240_000);
});
