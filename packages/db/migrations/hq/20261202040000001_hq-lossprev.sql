-- Up Migration

-- Every store's loss-prevention alerts (issue 18 item 4), once each: the
-- store's alertId is stable per member, signal, period and comparison and
-- names the store. Staff data: listed to HQ admins only
-- (GET /v1/loss-prevention/alerts), pruned with the stock alerts (storage.ts).
CREATE TABLE hq_lossprevention_alerts (
  store_id     text        NOT NULL,
  alert_id     text        NOT NULL,
  business_day date        NOT NULL,
  member       text        NOT NULL,
  detected_at  timestamptz NOT NULL,
  alert        jsonb       NOT NULL,
  PRIMARY KEY (store_id, alert_id)
);
CREATE INDEX hq_lossprevention_alerts_recent ON hq_lossprevention_alerts (business_day DESC, detected_at DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON hq_lossprevention_alerts TO tillstream_hq;

-- Down Migration
DROP TABLE hq_lossprevention_alerts;
