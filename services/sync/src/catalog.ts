import type { Catalog } from '@tillstream/contracts';
import { withTransaction, type Pool, type Queryable } from '@tillstream/db';

export async function appliedCatalogVersion(db: Queryable): Promise<{ version: number; acked: boolean } | undefined> {
  const { rows } = await db.query<{ version: number; acked_at: Date | null }>('SELECT version, acked_at FROM store_catalog_versions ORDER BY version DESC LIMIT 1');
  return rows[0] ? { version: rows[0].version, acked: rows[0].acked_at !== null } : undefined;
}

/**
 * Applies an HQ catalog version atomically: the store catalog becomes exactly
 * this version's items, in one transaction. A version at or below the
 * applied one changes nothing. The items' reorder settings reach the stock
 * ledger through the inventory service, which applies each stored version
 * itself and re-evaluates alert states (services/inventory/src/catalog.ts):
 * sync's role may not write inventory's tables.
 */
export async function applyCatalog(pool: Pool, catalog: Catalog): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    await client.query('LOCK TABLE store_catalog_versions IN EXCLUSIVE MODE');
    const current = await appliedCatalogVersion(client);
    if (current && current.version >= catalog.version) return false;
    const items = JSON.stringify(
      catalog.items.map((i) => ({
        sku: i.sku,
        description: i.description,
        category: i.category,
        unit_price: i.unitPrice,
        reorder_point: i.reorderPoint,
        reorder_quantity: i.reorderQuantity,
        maximum: i.maximum,
      })),
    );
    const columns = 'sku text, description text, category text, unit_price bigint, reorder_point numeric, reorder_quantity numeric, maximum numeric';
    await client.query('DELETE FROM store_catalog');
    await client.query(
      `INSERT INTO store_catalog (sku, description, category, unit_price, reorder_point, reorder_quantity, maximum, version)
       SELECT sku, description, category, unit_price, reorder_point, reorder_quantity, maximum, $2 FROM jsonb_to_recordset($1::jsonb) AS r(${columns})`,
      [items, catalog.version],
    );
    await client.query('INSERT INTO store_catalog_versions (version, items) VALUES ($1, $2)', [catalog.version, catalog.items.length]);
    return true;
  });
}

export async function markCatalogAcked(db: Queryable, version: number): Promise<void> {
  await db.query('UPDATE store_catalog_versions SET acked_at = now() WHERE version = $1', [version]);
}
