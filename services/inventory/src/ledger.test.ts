import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { inventoryAlerts, inventoryLevels, type PosTransactionInput } from '@tillstream/contracts';
import { TypedProducer } from '@tillstream/kafka';
import { makeTransaction, readRecords, readTopic } from '@tillstream/testing';
import { expectedStock, testInventory, type TestInventory } from './testing.ts';

async function item(inv: TestInventory, sku: string) {
  const res = await inv.get(`/v1/inventory/items/${sku}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { onHand: number; state: string; movements: { kind: string; quantity: number; transactionId: string | null; lineNumber: number | null }[] };
}

function voidOf(original: PosTransactionInput, overrides: Partial<PosTransactionInput> = {}): PosTransactionInput {
  return makeTransaction([], {
    type: 'POST_VOID',
    original: { transactionId: original.transactionId, terminalId: original.terminalId },
    ...overrides,
  });
}

describe('stock ledger from the POS topic', () => {
  it('takes stock for sales, gives it back for returns, and ignores voided lines, NO_SALE and training mode', async () => {
    const inv = await testInventory();
    const sale = makeTransaction([{ sku: 'BREAD', quantity: 3 }, { sku: 'MILK', quantity: 2 }, { sku: 'JAM', quantity: 5, voided: true }]);
    const ret = makeTransaction([{ sku: 'BREAD', quantity: 1 }], { type: 'RETURN', original: { transactionId: sale.transactionId, terminalId: 'T01' } });
    const training = makeTransaction([{ sku: 'BREAD', quantity: 50 }], { trainingMode: true });
    const noSale = makeTransaction([], { type: 'NO_SALE' });
    await inv.publish([sale, ret, training, noSale]);
    await inv.caughtUp();

    const bread = await item(inv, 'BREAD');
    expect(bread.onHand).toBe(-2);
    expect(bread.state).toBe('NEGATIVE');
    expect(bread.movements.map((m) => [m.kind, m.quantity])).toEqual([
      ['RETURN', 1],
      ['SALE', -3],
    ]);
    expect((await item(inv, 'MILK')).onHand).toBe(-2);
    expect((await inv.get('/v1/inventory/items/JAM')).status).toBe(404);
  });

  it('books each transaction once, however often it is on the topic', async () => {
    const inv = await testInventory();
    const sale = makeTransaction([{ sku: 'EGGS', quantity: 6 }]);
    await inv.publish([sale, sale]);
    await inv.caughtUp();
    await inv.publish([sale]);
    await inv.caughtUp();
    const eggs = await item(inv, 'EGGS');
    expect(eggs.onHand).toBe(-6);
    expect(eggs.movements).toHaveLength(1);
  });

  it('keeps weighed quantities exact to the gram', async () => {
    const inv = await testInventory();
    const weighed = (quantity: number) => makeTransaction([{ sku: 'CHEESE', quantity, unitOfMeasure: 'KG', unitPrice: 1999 }]);
    // 0.1 + 0.2 is not 0.3 in floating point; the ledger must not care.
    await inv.publish([weighed(0.1), weighed(0.2), weighed(1.237), weighed(0.001)]);
    await inv.caughtUp();
    const cheese = await item(inv, 'CHEESE');
    expect(cheese.onHand).toBe(-1.538);
    const { rows } = await inv.db.pool.query<{ on_hand: string }>("SELECT on_hand FROM inventory_items WHERE sku = 'CHEESE'");
    expect(rows[0]!.on_hand).toBe('-1.538');
  });

  it('reverses a post-voided sale, whether the void comes after the sale or before it', async () => {
    const inv = await testInventory();
    const early = makeTransaction([{ sku: 'CAKE', quantity: 2 }, { sku: 'TEA', quantity: 1 }]);
    await inv.publish([early, voidOf(early)]);
    await inv.caughtUp();
    expect((await item(inv, 'CAKE')).onHand).toBe(0);
    expect((await item(inv, 'CAKE')).movements.map((m) => m.kind)).toEqual(['POST_VOID', 'SALE']);

    // An offline terminal: its void reaches the store before the sale it cancels.
    const late = makeTransaction([{ sku: 'CAKE', quantity: 4 }]);
    const lateVoid = voidOf(late, { terminalId: 'T01' });
    await inv.publish([lateVoid]);
    await inv.caughtUp();
    expect((await item(inv, 'CAKE')).onHand).toBe(0);
    const pending = await inv.db.pool.query('SELECT * FROM inventory_voids WHERE applied_at IS NULL');
    expect(pending.rowCount).toBe(1);

    await inv.publish([late]);
    await inv.caughtUp();
    const cake = await item(inv, 'CAKE');
    expect(cake.onHand).toBe(0);
    expect(cake.movements.slice(0, 2).map((m) => [m.kind, m.quantity, m.transactionId])).toEqual([
      ['POST_VOID', 4, lateVoid.transactionId],
      ['SALE', -4, late.transactionId],
    ]);
    expect((await inv.db.pool.query('SELECT * FROM inventory_voids WHERE applied_at IS NULL')).rowCount).toBe(0);
  });

  it('reverses a sale once even if it is post-voided twice, and reverses a voided return the other way', async () => {
    const inv = await testInventory();
    const sale = makeTransaction([{ sku: 'JUICE', quantity: 3 }]);
    const ret = makeTransaction([{ sku: 'JUICE', quantity: 1 }], { type: 'RETURN', original: { transactionId: sale.transactionId, terminalId: 'T01' } });
    await inv.publish([sale, voidOf(sale), voidOf(sale), ret, voidOf(ret)]);
    await inv.caughtUp();
    expect((await item(inv, 'JUICE')).onHand).toBe(0);
    const records = await readTopic(inv.kafka.kafka, inv.topic);
    expect(expectedStock(records).get('JUICE') ?? 0).toBe(0);
  });

  it('ignores a training-mode post-void, and a void of a training sale moves nothing', async () => {
    const inv = await testInventory();
    const sale = makeTransaction([{ sku: 'SOAP', quantity: 2 }]);
    const trainingSale = makeTransaction([{ sku: 'SOAP', quantity: 7 }], { trainingMode: true });
    await inv.publish([sale, voidOf(sale, { trainingMode: true }), trainingSale, voidOf(trainingSale)]);
    await inv.caughtUp();
    const soap = await item(inv, 'SOAP');
    expect(soap.onHand).toBe(-2);
    expect(soap.movements).toHaveLength(1);
  });

  it('sets a record it can never book aside in the dead-letter topic and books the rest', async () => {
    const inv = await testInventory();
    const producer = new TypedProducer({ kafka: inv.kafka.kafka, logger: inv.kafka.logger, source: 'test', topicPrefix: inv.kafka.prefix });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    await producer.sendRaw(inv.topic, [{ key: 'S001:T01', value: '{"not":"an envelope"}' }]);
    // A valid transaction of another store on this store's topic: never bookable here.
    await inv.publish([makeTransaction([{ sku: 'PEAR', quantity: 1 }], { storeId: 'S999' })]);
    await inv.publish([makeTransaction([{ sku: 'PEAR', quantity: 2 }])]);
    await inv.caughtUp();
    expect((await item(inv, 'PEAR')).onHand).toBe(-2);
    const dead = await readRecords(inv.kafka.kafka, `${inv.topic}.dlq`, { atLeast: 2 });
    expect(dead.map((r) => r.headers['tillstream-error-code'])).toEqual(['EVENT_INVALID', 'WRONG_STORE']);
  });

  it('publishes the latest level per SKU and its alerts', async () => {
    const inv = await testInventory();
    const put = await inv.send('PUT', '/v1/inventory/items/FLOUR/settings', { reorderPoint: 5, reorderQuantity: 20, maximum: 40 });
    expect(put.status).toBe(200);
    const receipt = await inv.send('POST', '/v1/inventory/receipts', { reference: 'DN-1', lines: [{ sku: 'FLOUR', quantity: 8 }] }, { 'idempotency-key': randomUUID() });
    expect(receipt.status).toBe(201);
    // Alerts follow each committed batch: these two sales are booked one after the other.
    await inv.publish([makeTransaction([{ sku: 'FLOUR', quantity: 3 }])]);
    await inv.caughtUp();
    await inv.publish([makeTransaction([{ sku: 'FLOUR', quantity: 5 }])]);
    await inv.caughtUp();

    const alerts = await readRecords(inv.kafka.kafka, `${inv.kafka.prefix}${inventoryAlerts.name}`, { atLeast: 4 });
    // Settings on an empty SKU: out of stock; the delivery: back in stock; the sales: low (at 5), then out.
    expect(alerts.map((r) => (JSON.parse(r.value) as { data: { type: string; onHand: number } }).data).map((a) => [a.type, a.onHand])).toEqual([
      ['OUT_OF_STOCK', 0],
      ['BACK_IN_STOCK', 8],
      ['LOW_STOCK', 5],
      ['OUT_OF_STOCK', 0],
    ]);

    // One level per committed change: settings, receipt, two sales.
    const levels = await readRecords(inv.kafka.kafka, `${inv.kafka.prefix}${inventoryLevels.name}`, { atLeast: 4 });
    expect(levels).toHaveLength(4);
    const latest = JSON.parse(levels[levels.length - 1]!.value) as { data: { sku: string; onHand: number; state: string }; schema: string };
    expect(latest.schema).toBe('inventory.level.v1');
    expect(latest.data).toMatchObject({ sku: 'FLOUR', onHand: 0, state: 'OUT' });
    expect(levels.every((r) => r.key === 'FLOUR')).toBe(true);
    await expect.poll(async () => (await inv.db.pool.query('SELECT 1 FROM event_outbox')).rowCount).toBe(0);
  });
});
