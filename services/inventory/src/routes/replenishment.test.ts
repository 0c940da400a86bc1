import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { forecastDemand, topicName, type ForecastDemand, type ReplenishmentPage, type ReplenishmentSuggestion } from '@tillstream/contracts';
import { bookedOffset, topicEnd } from '@tillstream/consumer-service/testing';
import { TypedProducer } from '@tillstream/kafka';
import { bearer, waitFor } from '@tillstream/testing';
import { inverseNormalCdf, roundOrder } from '../replenishment.ts';
import { businessDayAt, publishChangedSuggestions } from '../suggestions.ts';
import { testInventory, type TestInventory } from '../testing.ts';

const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);

/** A forecast as trends publishes it: 7 days from today (UTC, the test service's time zone) of `means`. */
function forecastOf(sku: string, means: number[], dailyRmse: number, issuedAt = new Date().toISOString(), storeId = 'S001'): ForecastDemand {
  return {
    storeId,
    sku,
    method: 'WEEKDAY_PROFILE',
    intervalLevel: 0.8,
    issuedAt,
    dataThrough: day(-1),
    historyDays: 56,
    daily: means.map((mean, i) => ({ businessDay: day(i), mean, lower: mean * 0.5, upper: mean * 1.5 })),
    hourly: [],
    error: { dailyRmse, wape: 0.2, mase: 0.8, folds: 4 },
  };
}

/** Produces forecasts onto forecast.demand.v1 as trends would, and waits until inventory has booked them (its stored offset). */
async function publishForecasts(inv: TestInventory, forecasts: ForecastDemand[]): Promise<void> {
  const producer = new TypedProducer({ kafka: inv.kafka.kafka, logger: inv.kafka.logger, source: 'trends', topicPrefix: inv.kafka.prefix });
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  await producer.send(forecastDemand, forecasts.map((data) => ({ storeId: data.storeId, data })));
  const topic = topicName(inv.kafka.prefix, forecastDemand);
  const end = await topicEnd(inv.kafka, topic);
  await waitFor(async () => (await bookedOffset(inv.db, `${inv.groupId}.forecasts`, topic)) === end, { timeoutMs: 30_000, message: 'inventory to book the forecasts' });
}

async function send(inv: TestInventory, method: 'POST' | 'PUT', path: string, body: unknown, key: string | null = randomUUID()) {
  const res = await inv.send(method, path, body, key === null ? {} : { 'idempotency-key': key });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { errors?: { pointer: string }[] } };
}

async function suggestion(inv: TestInventory, sku: string): Promise<ReplenishmentSuggestion | undefined> {
  const res = await inv.get(`/v1/inventory/replenishment?sku=${sku}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as ReplenishmentPage).suggestions[0];
}

const SETTINGS = { reorderPoint: 10, reorderQuantity: 24, maximum: 60 };

describe('replenishment', () => {
  it('suggests from the latest forecast, the ledger and open orders, with why; a receipt naming the order closes it', async () => {
    // The service's own publishing round runs once at start (nothing to publish yet); this test calls it itself.
    const inv = await testInventory({ REPLENISHMENT_PUBLISH_MS: '3600000' });
    expect((await send(inv, 'POST', '/v1/inventory/receipts', { reference: 'DN-1', lines: [{ sku: 'BREAD', quantity: 30 }] })).status).toBe(201);
    const put = await send(inv, 'PUT', '/v1/inventory/items/BREAD/settings', { ...SETTINGS, leadTimeDays: 2, reviewPeriodDays: 1, packSize: 6, minimumOrder: 12, serviceLevel: 0.95, reorderMode: 'FORECAST' }, null);
    expect(put.status).toBe(200);
    expect(put.body.settings).toEqual({ ...SETTINGS, leadTimeDays: 2, reviewPeriodDays: 1, packSize: 6, minimumOrder: 12, serviceLevel: 0.95, reorderMode: 'FORECAST', updatedBy: expect.any(String) });

    // No forecast yet: the fixed reorder point, and it says so (30 on hand is above 10).
    expect(await suggestion(inv, 'BREAD')).toMatchObject({ basis: 'FIXED_FALLBACK', orderToday: false, quantity: 0, why: { forecast: null, reorderPoint: 10 } });

    // An older forecast after a newer one (a replay of the compacted topic) changes nothing.
    const issued = Date.now();
    await publishForecasts(inv, [forecastOf('BREAD', [12, 12, 12, 12, 12, 12, 12], 3, new Date(issued).toISOString()), forecastOf('BREAD', [1, 1, 1, 1, 1, 1, 1], 0, new Date(issued - 3600_000).toISOString())]);
    // Another store's forecast on a shared broker is not this store's.
    await publishForecasts(inv, [forecastOf('BREAD', [99, 99, 99, 99, 99, 99, 99], 0, new Date(issued + 1000).toISOString(), 'S002')]);

    const s = (await suggestion(inv, 'BREAD'))!;
    const safety = inverseNormalCdf(0.95) * 3 * Math.sqrt(3);
    expect(s.basis).toBe('FORECAST');
    expect(s.businessDay).toBe(businessDayAt(new Date(), 'UTC'));
    expect(s.why).toMatchObject({ onHand: 30, onOrder: 0, position: 30, demandOverLeadTime: 24, demandOverLeadTimeAndReview: 36, dailyRmse: 3, leadTimeDays: 2, reviewPeriodDays: 1 });
    expect(s.why.safetyStock).toBeCloseTo(safety, 3);
    expect(s.why.reorderPoint).toBeCloseTo(24 + safety, 3);
    // 30 <= 24 + 8.547: order today, up to 36 + 8.547, in packs of 6: 18.
    expect(s).toMatchObject({ orderToday: true, orderOn: s.businessDay, quantity: roundOrder(36 + safety - 30, 6, 12) });
    expect(s.quantity).toBe(18);

    // A purchase order is on order: the position covers the reorder point, the order date moves out.
    const order = await send(inv, 'POST', '/v1/inventory/orders', { reference: 'PO-77', supplier: 'Mill & Co', expectedOn: day(2), lines: [{ sku: 'BREAD', quantity: 18 }] });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ kind: 'PURCHASE_ORDER', reference: 'PO-77', lines: [{ sku: 'BREAD', quantity: 18, onOrder: 18 }] });
    const onOrder = (await suggestion(inv, 'BREAD'))!;
    expect(onOrder.why).toMatchObject({ onOrder: 18, position: 48 });
    expect(onOrder.orderToday).toBe(false);
    // 48 falls by 12 a day: 36 after today, 24 after tomorrow, below 32.547: order the day after tomorrow.
    expect(onOrder.orderOn).toBe(day(2));
    // For HQ: published once while it stays the same, again when it changes (here: a day later, its date moves).
    const now = new Date();
    expect(await publishChangedSuggestions(inv.db.pool, { storeId: 'S001', timeZone: 'UTC', now })).toBe(1);
    expect(await publishChangedSuggestions(inv.db.pool, { storeId: 'S001', timeZone: 'UTC', now: new Date(now.getTime() + 1000) })).toBe(0);
    expect(await publishChangedSuggestions(inv.db.pool, { storeId: 'S001', timeZone: 'UTC', now: new Date(now.getTime() + DAY_MS) })).toBe(1);
    const due = (await (await inv.get('/v1/inventory/replenishment?due=today')).json()) as ReplenishmentPage;
    expect(due.suggestions.map((x) => x.sku)).not.toContain('BREAD');

    // The delivery names the order: stock in, no longer on order.
    const receipt = await send(inv, 'POST', '/v1/inventory/receipts', { reference: 'DN-2', order: 'PO-77', lines: [{ sku: 'BREAD', quantity: 18 }] });
    expect(receipt.status).toBe(201);
    expect((await suggestion(inv, 'BREAD'))!.why).toMatchObject({ onHand: 48, onOrder: 0, position: 48 });
    // A closed order cannot be received again; nothing of the refused receipt is booked.
    const again = await send(inv, 'POST', '/v1/inventory/receipts', { reference: 'DN-3', order: 'PO-77', lines: [{ sku: 'BREAD', quantity: 18 }] });
    expect(again.status).toBe(422);
    expect(again.body.errors?.[0]?.pointer).toBe('/order');
    expect((await suggestion(inv, 'BREAD'))!.why.onHand).toBe(48);
  }, 60_000);

  it('books purchase orders under an Idempotency-Key, one per reference, guarded like the stock operations', async () => {
    const inv = await testInventory();
    const key = randomUUID();
    const body = { reference: 'PO-1', expectedOn: day(3), lines: [{ sku: 'MILK', quantity: 12 }, { sku: 'EGGS', quantity: 30 }] };
    const first = await send(inv, 'POST', '/v1/inventory/orders', body, key);
    expect(first.status).toBe(201);
    const replay = await inv.send('POST', '/v1/inventory/orders', body, { 'idempotency-key': key });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(first.body);
    expect((await send(inv, 'POST', '/v1/inventory/orders', { ...body, expectedOn: day(4) }, key)).status).toBe(422);
    // The same reference under a new key is another order with the same number: refused, nothing booked.
    const duplicate = await send(inv, 'POST', '/v1/inventory/orders', { ...body, lines: [{ sku: 'SALT', quantity: 1 }] });
    expect(duplicate.status).toBe(422);
    expect(duplicate.body.errors?.[0]?.pointer).toBe('/reference');
    const { rows } = await inv.db.pool.query<{ sku: string }>('SELECT sku FROM inventory_purchase_orders ORDER BY sku');
    expect(rows.map((r) => r.sku)).toEqual(['EGGS', 'MILK']);

    expect((await send(inv, 'POST', '/v1/inventory/orders', body, null)).status).toBe(400);
    expect((await send(inv, 'POST', '/v1/inventory/orders', { ...body, reference: 'PO-2', expectedOn: '2026-02-30' })).status).toBe(400);
    expect((await send(inv, 'POST', '/v1/inventory/orders', { ...body, reference: 'PO-2', lines: [{ sku: 'MILK', quantity: 0 }] })).status).toBe(400);
    // A store viewer reads suggestions but places no orders.
    const viewer = bearer(inv.tokens['store-viewer']);
    expect((await inv.send('POST', '/v1/inventory/orders', { ...body, reference: 'PO-3' }, { ...viewer, 'idempotency-key': randomUUID() })).status).toBe(403);
    expect((await inv.get('/v1/inventory/replenishment', viewer)).status).toBe(200);
    expect((await fetch(`${inv.url}/v1/inventory/replenishment`)).status).toBe(401);
  }, 60_000);

  it('refuses bad replenishment settings with a clear error and changes nothing; a client that sends only the old fields keeps them', async () => {
    const inv = await testInventory();
    const path = '/v1/inventory/items/RICE/settings';
    expect((await send(inv, 'PUT', path, { ...SETTINGS, leadTimeDays: 3, packSize: 5, reorderMode: 'FORECAST' }, null)).status).toBe(200);
    const before = ((await (await inv.get('/v1/inventory/items/RICE')).json()) as { settings: unknown }).settings;
    // Shape errors are 400 VALIDATION_FAILED, rule errors 422 UNPROCESSABLE (as every body), each naming the field.
    const bad: Array<[Record<string, unknown>, string, number]> = [
      [{ leadTimeDays: -1 }, '/leadTimeDays', 400],
      [{ leadTimeDays: 1.5 }, '/leadTimeDays', 400],
      [{ reviewPeriodDays: 0 }, '/reviewPeriodDays', 400],
      [{ packSize: 0 }, '/packSize', 400],
      [{ packSize: 0.0001 }, '/packSize', 422],
      [{ minimumOrder: -2 }, '/minimumOrder', 422],
      [{ serviceLevel: 1 }, '/serviceLevel', 400],
      [{ serviceLevel: 0.2 }, '/serviceLevel', 400],
      [{ reorderMode: 'MAGIC' }, '/reorderMode', 400],
    ];
    for (const [fields, pointer, status] of bad) {
      const res = await send(inv, 'PUT', path, { ...SETTINGS, ...fields }, null);
      expect(res.status, JSON.stringify(fields)).toBe(status);
      expect(res.body.errors?.[0]?.pointer).toBe(pointer);
    }
    expect(((await (await inv.get('/v1/inventory/items/RICE')).json()) as { settings: unknown }).settings).toEqual(before);
    // The old body: reorder point, quantity and maximum only; the replenishment settings stay.
    const old = await send(inv, 'PUT', path, { reorderPoint: 4, reorderQuantity: 10, maximum: 30 }, null);
    expect(old.status).toBe(200);
    expect(old.body.settings).toMatchObject({ reorderPoint: 4, leadTimeDays: 3, packSize: 5, reviewPeriodDays: null, reorderMode: 'FORECAST' });
    // null clears one back to its default.
    const cleared = await send(inv, 'PUT', path, { ...SETTINGS, packSize: null }, null);
    expect(cleared.body.settings).toMatchObject({ packSize: null, leadTimeDays: 3 });
  }, 60_000);
});
