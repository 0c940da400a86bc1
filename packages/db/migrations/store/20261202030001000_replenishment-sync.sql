-- Up Migration

-- Replenishment suggestions travel to HQ as stock levels do: inventory
-- publishes inventory.replenishment.v1 through its event outbox when a SKU's
-- suggestion changed, sync stages each SKU's latest in sync_pending and
-- uploads it as the 'replenishment' stream.

-- What inventory last published per SKU (the suggestion without its time),
-- so it publishes a SKU again only when its suggestion changed.
CREATE TABLE inventory_replenishment_published (
  sku          text        PRIMARY KEY,
  fingerprint  text        NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON inventory_replenishment_published TO tillstream_inventory;

ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine', 'replenishment'));
ALTER TABLE sync_pending DROP CONSTRAINT sync_pending_stream_check;
ALTER TABLE sync_pending ADD CONSTRAINT sync_pending_stream_check CHECK (stream IN ('aggregate', 'level', 'replenishment'));

-- Down Migration
DELETE FROM sync_pending WHERE stream = 'replenishment';
ALTER TABLE sync_pending DROP CONSTRAINT sync_pending_stream_check;
ALTER TABLE sync_pending ADD CONSTRAINT sync_pending_stream_check CHECK (stream IN ('aggregate', 'level'));
DELETE FROM sync_outbox WHERE stream = 'replenishment';
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine'));
DROP TABLE inventory_replenishment_published;
