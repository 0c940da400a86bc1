-- Up Migration

-- The store's alert log (services/inventory): every alert the ledger raised,
-- written in the same transaction as the level change that raised it, so the
-- store API and the store dashboard can show a feed of what happened
-- (GET /v1/inventory/alerts). The inventory.alerts topic carries the same
-- events to HQ. Kept for 90 days (pruned as new alerts arrive).
CREATE TABLE inventory_alert_log (
  alert_id text        PRIMARY KEY,
  sku      text        COLLATE "C" NOT NULL,
  type     text        NOT NULL,
  at       timestamptz NOT NULL,
  data     jsonb       NOT NULL
);
-- Newest first, with alert_id as the tie-break of the feed's cursor.
CREATE INDEX inventory_alert_log_at ON inventory_alert_log (at DESC, alert_id DESC);

-- Down Migration
DROP TABLE inventory_alert_log;
