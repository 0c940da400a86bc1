-- Up Migration

-- Every store's latest replenishment suggestion per SKU (uploaded by each
-- store's sync as the 'replenishment' stream, through
-- hq.inventory.replenishment.v1). A suggestion replaces the stored one only
-- if it was computed later: a re-sent or replayed one changes nothing.
CREATE TABLE hq_replenishment (
  store_id      text          NOT NULL,
  sku           text          NOT NULL,
  business_day  date          NOT NULL,
  order_today   boolean       NOT NULL,
  order_on      date,
  quantity      numeric(16,3) NOT NULL,
  data          jsonb         NOT NULL,
  computed_at   timestamptz   NOT NULL,
  PRIMARY KEY (store_id, sku)
);
CREATE INDEX hq_replenishment_due ON hq_replenishment (store_id, sku) WHERE order_today;
GRANT SELECT, INSERT, UPDATE, DELETE ON hq_replenishment TO tillstream_hq;

-- Down Migration
DROP TABLE hq_replenishment;
