-- Up Migration

-- Replenishment (services/inventory/src/replenishment.ts): what to order,
-- when, and why, from the store's own demand forecasts, its ledger and the
-- orders it expects.

-- The latest demand forecast per SKU, as trends published it on
-- forecast.demand.v1 (compacted). Written by inventory's forecast consumer
-- in the transaction that stores its offset; an older forecast (a replay of
-- the compacted topic) never replaces a newer one.
CREATE TABLE inventory_forecasts (
  sku          text        PRIMARY KEY,
  method       text        NOT NULL,
  issued_at    timestamptz NOT NULL,
  data_through date        NOT NULL,
  -- [{businessDay, mean, lower, upper}], the forecast's next days in order.
  daily        jsonb       NOT NULL,
  daily_rmse   numeric     NOT NULL CHECK (daily_rmse >= 0),
  stored_at    timestamptz NOT NULL DEFAULT now()
);

-- Item settings for replenishment; NULL: not set (the computation's
-- documented default applies and the suggestion says so).
ALTER TABLE inventory_items
  ADD COLUMN lead_time_days     integer       CHECK (lead_time_days BETWEEN 0 AND 365),
  ADD COLUMN review_period_days integer       CHECK (review_period_days BETWEEN 1 AND 365),
  ADD COLUMN pack_size          numeric(16,3) CHECK (pack_size > 0),
  ADD COLUMN minimum_order      numeric(16,3) CHECK (minimum_order >= 0),
  ADD COLUMN service_level      numeric(6,5)  CHECK (service_level >= 0.5 AND service_level < 1),
  ADD COLUMN reorder_mode       text          NOT NULL DEFAULT 'FIXED' CHECK (reorder_mode IN ('FIXED', 'FORECAST'));

-- Expected receipts: purchase order lines booked through the store API (the
-- order itself is an inventory_operations row of kind PURCHASE_ORDER, under
-- its Idempotency-Key). Open lines are "on order"; a goods receipt naming
-- the order closes its open lines.
CREATE TABLE inventory_purchase_orders (
  operation_id          bigint        NOT NULL REFERENCES inventory_operations (id),
  reference             text          NOT NULL,
  sku                   text          NOT NULL,
  quantity              numeric(16,3) NOT NULL CHECK (quantity > 0),
  expected_on           date          NOT NULL,
  status                text          NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'RECEIVED')),
  received_operation_id bigint        REFERENCES inventory_operations (id),
  closed_at             timestamptz,
  PRIMARY KEY (reference, sku)
);
-- A purchase order's reference is its number: one order per reference (the database says so, not a look-then-insert).
CREATE UNIQUE INDEX inventory_operations_purchase_order ON inventory_operations (reference) WHERE kind = 'PURCHASE_ORDER';
CREATE INDEX inventory_purchase_orders_open ON inventory_purchase_orders (sku) WHERE status = 'OPEN';

GRANT SELECT, INSERT, UPDATE, DELETE ON inventory_forecasts, inventory_purchase_orders TO tillstream_inventory;

-- Down Migration
DROP TABLE inventory_purchase_orders;
DELETE FROM inventory_operations WHERE kind = 'PURCHASE_ORDER';
DROP INDEX inventory_operations_purchase_order;
ALTER TABLE inventory_items DROP COLUMN lead_time_days, DROP COLUMN review_period_days, DROP COLUMN pack_size,
  DROP COLUMN minimum_order, DROP COLUMN service_level, DROP COLUMN reorder_mode;
DROP TABLE inventory_forecasts;
