-- Up Migration

-- One role per service, DML only (issue 15 item 2; roles in
-- packages/db/src/roles.ts, created by migrate() before this runs). HQ is one
-- service; it reads store credentials (`tillstream store add` writes them,
-- as the owner) and keeps everything else. A new table gets its grants in
-- the migration that creates it: packages/db/src/roles.test.ts fails for a
-- table no service may use.
GRANT SELECT ON hq_store_credentials TO tillstream_hq;
GRANT SELECT, INSERT, UPDATE, DELETE ON hq_batches, hq_store_health, hq_transactions, hq_sales_aggregates,
  hq_inventory_levels, hq_inventory_alerts, hq_manifests, hq_replay_requests, hq_catalog_versions,
  hq_catalog_acks, hq_quarantine TO tillstream_hq;
GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO tillstream_hq;

-- Down Migration
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tillstream_hq;
