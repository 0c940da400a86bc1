-- Up Migration

-- One role per service, DML only (issue 15 item 2; roles in
-- packages/db/src/roles.ts, created by migrate() before this runs). Tables
-- are the owner's; a service gets only what its own code does on its own
-- tables. A new table gets its grants in the migration that creates it:
-- packages/db/src/roles.test.ts fails for a table no service may use.

-- ingest: authenticates terminals, keeps its idempotency journal (and prunes it).
GRANT SELECT ON terminal_credentials TO tillstream_ingest;
GRANT SELECT, INSERT, UPDATE, DELETE ON ingest_transactions TO tillstream_ingest;

-- Appending to sync's outbox (quarantine entries from inventory and trends,
-- sync's own consumers) without reading it: INSERT ... ON CONFLICT needs
-- SELECT on the table, so the append is a function that runs as the owner,
-- and only it is granted to the writers. The caller takes SYNC_OUTBOX_LOCK
-- first (packages/db/src/sync-outbox.ts).
CREATE FUNCTION append_sync_outbox(records jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO public.sync_outbox (stream, record_key, data, business_day, terminal_id, sequence_number)
  SELECT stream, record_key, data, business_day, terminal_id, sequence_number
  FROM ROWS FROM (jsonb_to_recordset(records) AS (stream text, record_key text, data jsonb, business_day date, terminal_id text, sequence_number bigint))
    WITH ORDINALITY AS r(stream, record_key, data, business_day, terminal_id, sequence_number, n)
  ORDER BY n
  ON CONFLICT (stream, record_key) DO NOTHING
$$;
REVOKE ALL ON FUNCTION append_sync_outbox(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION append_sync_outbox(jsonb) TO tillstream_inventory, tillstream_trends, tillstream_sync;

-- inventory: its ledger; its consumer offsets and event outbox; dead letters
-- into the quarantine, forwarded to HQ through sync's outbox (appended to
-- with append_sync_outbox, never read).
GRANT SELECT, INSERT, UPDATE, DELETE ON inventory_items, inventory_operations, inventory_movements,
  inventory_pos_transactions, inventory_voids, inventory_alert_log TO tillstream_inventory;

-- trends: its sales facts, windows and anomalies; the same offsets, outbox and quarantine path.
GRANT SELECT, INSERT, UPDATE, DELETE ON sales_transactions, sales_voids, sales_aggregates,
  sales_aggregate_changes, sales_anomaly_hours, sales_anomalies TO tillstream_trends;

GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO tillstream_inventory, tillstream_trends;
GRANT SELECT, INSERT, DELETE ON event_outbox TO tillstream_inventory, tillstream_trends;
GRANT SELECT, INSERT ON quarantine TO tillstream_inventory, tillstream_trends;

-- sync: its outbox, batches, manifests, replays and HQ's catalog; it applies
-- the catalog to inventory's items, reads ingest's journal for day manifests
-- (and the consumers' offsets to know what is booked), and uploads and
-- resolves the quarantine.
GRANT SELECT, INSERT, UPDATE, DELETE ON sync_outbox, sync_batches, sync_manifests, sync_replays,
  store_catalog, store_catalog_versions TO tillstream_sync;
GRANT SELECT, INSERT, UPDATE ON inventory_items TO tillstream_sync;
GRANT SELECT ON ingest_transactions TO tillstream_sync;
GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO tillstream_sync;
GRANT SELECT, INSERT, UPDATE ON quarantine TO tillstream_sync;

-- Down Migration
DROP FUNCTION append_sync_outbox(jsonb);
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tillstream_ingest, tillstream_inventory, tillstream_trends, tillstream_sync;
