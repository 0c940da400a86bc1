import type { Catalog, CatalogItem } from '@tillstream/contracts';
import type { Queryable } from '@tillstream/db';

/** Publishes a new catalog version (items replace the previous version whole). */
export async function publishCatalog(db: Queryable, items: readonly CatalogItem[]): Promise<Omit<Catalog, 'items'> & { items: number }> {
  const { rows } = await db.query<{ version: number; published_at: Date }>('INSERT INTO hq_catalog_versions (items) VALUES ($1) RETURNING version, published_at', [
    JSON.stringify(items),
  ]);
  return { version: rows[0]!.version, publishedAt: rows[0]!.published_at.toISOString(), items: items.length };
}

export async function latestCatalog(db: Queryable): Promise<Catalog | undefined> {
  const { rows } = await db.query<{ version: number; published_at: Date; items: CatalogItem[] }>(
    'SELECT version, published_at, items FROM hq_catalog_versions ORDER BY version DESC LIMIT 1',
  );
  const row = rows[0];
  return row ? { version: row.version, publishedAt: row.published_at.toISOString(), items: row.items } : undefined;
}

/** A store applied a version; acknowledgements never move a store backwards. False when no such version exists. */
export async function acknowledgeCatalog(db: Queryable, storeId: string, version: number): Promise<boolean> {
  if ((await db.query('SELECT 1 FROM hq_catalog_versions WHERE version = $1', [version])).rowCount !== 1) return false;
  await db.query(
    `INSERT INTO hq_catalog_acks AS a (store_id, version) VALUES ($1, $2)
     ON CONFLICT (store_id) DO UPDATE SET version = EXCLUDED.version, applied_at = now() WHERE a.version <= EXCLUDED.version`,
    [storeId, version],
  );
  return true;
}
