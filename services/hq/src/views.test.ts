import { describe, expect, it } from 'vitest';
import type { InventoryLevel, SalesAggregate } from '@tillstream/contracts';
import { testDatabase } from '@tillstream/testing';
import { writeAggregates, writeLevels } from './views.ts';

/**
 * Stores upload windows and levels coalesced, at most once per interval, and
 * a batch re-sent or replayed can bring an older revision after a newer one:
 * HQ's views keep the latest and ignore the older (issue 17 item 1).
 */

const window = (revision: number, net: number): SalesAggregate => ({
  storeId: 'S001',
  granularity: 'day',
  windowStart: '2026-11-20T00:00:00Z',
  businessDay: '2026-11-20',
  dimension: 'store',
  member: 'S001',
  figures: { units: revision, gross: net, discounts: 0, net, tax: 0, transactions: revision, items: revision, returns: 0, returnsUnits: 0, returnsAmount: 0 },
  revision,
  updatedAt: `2026-11-20T10:00:0${revision}Z`,
});

const level = (movement: number, onHand: number): InventoryLevel => ({
  storeId: 'S001',
  sku: 'SKU-1',
  onHand,
  unitOfMeasure: 'EA',
  state: 'OK',
  lastMovement: { id: String(movement), kind: 'SALE', quantity: -1, at: `2026-11-20T10:00:0${movement}Z` },
  updatedAt: `2026-11-20T10:00:0${movement}Z`,
});

describe("HQ's views", () => {
  it('keep the latest revision of a window and the latest movement of a level; an older one arriving late changes nothing', async () => {
    const db = await testDatabase({ target: 'hq' });
    await writeAggregates(db.pool, [window(3, 300)]);
    await writeAggregates(db.pool, [window(2, 200)]);
    // In one batch too: the newest of a key wins whatever its place.
    await writeAggregates(db.pool, [window(4, 400), window(1, 100)]);
    const { rows } = await db.pool.query<{ revision: number; net: string }>("SELECT revision, net FROM hq_sales_aggregates WHERE store_id = 'S001'");
    expect(rows).toEqual([{ revision: 4, net: '400' }]);

    await writeLevels(db.pool, [level(8, 5)]);
    await writeLevels(db.pool, [level(7, 6)]);
    await writeLevels(db.pool, [level(6, 7), level(9, 4)]);
    const { rows: levels } = await db.pool.query<{ on_hand: string; last_movement_id: string }>("SELECT on_hand, last_movement_id FROM hq_inventory_levels WHERE store_id = 'S001'");
    expect(levels.map((l) => [Number(l.on_hand), l.last_movement_id])).toEqual([[4, '9']]);
  });
});
