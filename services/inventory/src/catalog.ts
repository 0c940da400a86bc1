import { advisoryXactLock, withTransaction, type Pool } from '@tillstream/db';
import { resettleItems, type LedgerContext, type LevelChange } from './ledger.ts';

/**
 * HQ's catalog, applied to the stock ledger's items by inventory itself: sync
 * stores each catalog version it pulls from HQ (store_catalog holds the
 * newest, whole); inventory reads it and gives each item its description,
 * category and reorder settings, then re-evaluates the items' alert states in
 * the same transaction, so a reorder point raised above the stock raises
 * LOW_STOCK at once (and one lowered clears it), published like any other.
 */
export interface AppliedCatalog {
  version: number;
  items: number;
  changes: Map<string, LevelChange>;
}

interface CatalogRow {
  version: number;
  sku: string | null;
  description: string | null;
  category: string | null;
  reorder_point: string | null;
  reorder_quantity: string | null;
  maximum: string | null;
}

/**
 * Applies the newest catalog version sync stored, if inventory has not
 * applied it yet; returns what it applied, or undefined. Versions in between
 * are skipped: each is the whole catalog. One application at a time (an
 * advisory lock), so two inventory processes never apply a version twice.
 */
export async function applyStoreCatalog(pool: Pool, ctx: LedgerContext): Promise<AppliedCatalog | undefined> {
  return withTransaction(pool, async (client) => {
    await advisoryXactLock(client, 'inventoryCatalog');
    // One statement, one snapshot: the version and its items together, even while sync stores a newer one.
    const { rows } = await client.query<CatalogRow>(
      `SELECT v.version, c.sku, c.description, c.category, c.reorder_point, c.reorder_quantity, c.maximum
       FROM (SELECT max(version) AS version FROM store_catalog_versions) v
       LEFT JOIN store_catalog c ON c.version = v.version
       WHERE v.version > COALESCE((SELECT max(version) FROM inventory_catalog_applied), 0)
       ORDER BY c.sku COLLATE "C"`,
    );
    const version = rows[0]?.version;
    if (version === undefined) return undefined;
    const items = rows.filter((r): r is CatalogRow & { sku: string } => r.sku !== null);
    // Items locked in SKU order, as the consumer and the API lock them: no deadlock between them.
    await client.query(
      `INSERT INTO inventory_items AS i (sku, description, category, reorder_point, reorder_quantity, maximum)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[]) AS u(sku, description, category, reorder_point, reorder_quantity, maximum)
       ORDER BY sku COLLATE "C"
       ON CONFLICT (sku) DO UPDATE SET description = EXCLUDED.description, category = EXCLUDED.category, reorder_point = EXCLUDED.reorder_point,
         reorder_quantity = EXCLUDED.reorder_quantity, maximum = EXCLUDED.maximum, settings_by = NULL, updated_at = now()`,
      [
        items.map((r) => r.sku),
        items.map((r) => r.description),
        items.map((r) => r.category),
        items.map((r) => r.reorder_point),
        items.map((r) => r.reorder_quantity),
        items.map((r) => r.maximum),
      ],
    );
    const changes = items.length > 0 ? await resettleItems(client, items.map((r) => r.sku), ctx) : new Map<string, LevelChange>();
    await client.query('INSERT INTO inventory_catalog_applied (version, items) VALUES ($1, $2)', [version, items.length]);
    return { version, items: items.length, changes };
  });
}
