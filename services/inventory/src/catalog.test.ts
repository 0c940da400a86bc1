import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { inventoryAlerts, inventoryLevels } from '@tillstream/contracts';
import { createPool } from '@tillstream/db';
import { readRecords, testLogger } from '@tillstream/testing';
import { testInventory, type TestInventory } from './testing.ts';

/** Stores a catalog version as sync does (services/sync/src/catalog.ts), connected as sync's own role. */
async function storeCatalog(inv: TestInventory, version: number, items: Array<{ sku: string; reorderPoint: number | null }>): Promise<void> {
  const sync = createPool({ connectionString: inv.db.urlFor('sync'), logger: testLogger(), applicationName: 'test-sync', max: 1 });
  try {
    await sync.query('BEGIN');
    await sync.query('DELETE FROM store_catalog');
    for (const item of items) {
      await sync.query(
        `INSERT INTO store_catalog (sku, description, category, unit_price, reorder_point, reorder_quantity, maximum, version) VALUES ($1, $2, 'BREAD', 450, $3, 24, 60, $4)`,
        [item.sku, `Item ${item.sku}`, item.reorderPoint, version],
      );
    }
    await sync.query('INSERT INTO store_catalog_versions (version, items) VALUES ($1, $2)', [version, items.length]);
    await sync.query('COMMIT');
  } finally {
    await sync.end();
  }
}

async function item(inv: TestInventory, sku: string): Promise<{ onHand: number; state: string }> {
  return (await (await inv.get(`/v1/inventory/items/${sku}`)).json()) as { onHand: number; state: string };
}

describe("HQ's catalog reaching inventory's items", () => {
  it('raises LOW_STOCK when a catalog version sets a reorder point above the stock, and clears it when the next one lowers it', async () => {
    const inv = await testInventory({ CATALOG_POLL_MS: '100' });
    const receipt = await inv.send('POST', '/v1/inventory/receipts', { reference: 'DN-1', lines: [{ sku: 'SOURDOUGH', quantity: 5 }] }, { 'idempotency-key': randomUUID() });
    expect(receipt.status).toBe(201);
    expect(await item(inv, 'SOURDOUGH')).toMatchObject({ onHand: 5, state: 'OK' });

    // Version 1: reorder point 12 with 5 on hand. Inventory applies it itself, with the alert it raises.
    await storeCatalog(inv, 1, [{ sku: 'SOURDOUGH', reorderPoint: 12 }, { sku: 'RYE', reorderPoint: null }]);
    await expect.poll(async () => (await item(inv, 'SOURDOUGH')).state, { timeout: 15_000 }).toBe('LOW');
    const alerts = async () => (await readRecords(inv.kafka.kafka, `${inv.kafka.prefix}${inventoryAlerts.name}`)).map((r) => inventoryAlerts.envelope.parse(JSON.parse(r.value)).data);
    // A catalog SKU the store never had is an item too, out of stock (as the settings API makes it).
    await expect
      .poll(async () => (await alerts()).map((a) => [a.sku, a.type, a.onHand, a.reorderPoint]).sort(), { timeout: 15_000 })
      .toEqual([
        ['RYE', 'OUT_OF_STOCK', 0, null],
        ['SOURDOUGH', 'LOW_STOCK', 5, 12],
      ]);
    expect(await item(inv, 'RYE')).toMatchObject({ onHand: 0, state: 'OUT' });

    // Version 2 lowers it to 2: 5 on hand is above 2 + its band, so the SKU is OK again, published as a level.
    await storeCatalog(inv, 2, [{ sku: 'SOURDOUGH', reorderPoint: 2 }]);
    await expect.poll(async () => (await item(inv, 'SOURDOUGH')).state, { timeout: 15_000 }).toBe('OK');
    await expect
      .poll(async () => (await readRecords(inv.kafka.kafka, `${inv.kafka.prefix}${inventoryLevels.name}`)).map((r) => inventoryLevels.envelope.parse(JSON.parse(r.value)).data).filter((l) => l.sku === 'SOURDOUGH').at(-1)?.state, { timeout: 15_000 })
      .toBe('OK');
    const { rows } = await inv.db.pool.query<{ version: number }>('SELECT version FROM inventory_catalog_applied ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    expect((await alerts()).map((a) => a.type).sort()).toEqual(['LOW_STOCK', 'OUT_OF_STOCK']);
  });

  it("sync's role can store a catalog but no longer write inventory's items", async () => {
    const inv = await testInventory();
    const sync = createPool({ connectionString: inv.db.urlFor('sync'), logger: testLogger(), applicationName: 'test-sync', max: 1 });
    onTestFinished(() => sync.end());
    for (const sql of ["INSERT INTO inventory_items (sku) VALUES ('X')", "UPDATE inventory_items SET reorder_point = 1 WHERE sku = 'X'", 'SELECT sku FROM inventory_items']) {
      await expect(sync.query(sql)).rejects.toMatchObject({ message: expect.stringMatching(/permission denied for table inventory_items/) });
    }
  });
});
