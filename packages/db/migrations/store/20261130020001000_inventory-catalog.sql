-- Up Migration

-- HQ's catalog reaches inventory's items through inventory's own code
-- (services/inventory/src/catalog.ts), so alert states are re-evaluated and
-- published with the change: sync stores each catalog version it pulls
-- (store_catalog, store_catalog_versions: sync's tables), inventory reads
-- them and applies the newest to its items, remembering what it applied.
CREATE TABLE inventory_catalog_applied (
  version    integer     PRIMARY KEY,
  items      integer     NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON inventory_catalog_applied TO tillstream_inventory;
GRANT SELECT ON store_catalog, store_catalog_versions TO tillstream_inventory;

-- Sync no longer writes inventory's ledger (nor reads it).
REVOKE ALL ON inventory_items FROM tillstream_sync;

-- Down Migration
GRANT SELECT, INSERT, UPDATE ON inventory_items TO tillstream_sync;
REVOKE SELECT ON store_catalog, store_catalog_versions FROM tillstream_inventory;
DROP TABLE inventory_catalog_applied;
