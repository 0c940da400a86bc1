-- Up Migration

-- The request that brought each transaction in at ingest (X-Request-Id,
-- carried in the POS record's tillstream-request-id header): uploaded with the
-- transaction, so HQ's log lines name the id the store's name. NULL for rows
-- appended before it, and for every other stream (derived from many
-- transactions, they have no one request).
ALTER TABLE sync_outbox ADD COLUMN request_id text;

-- append_sync_outbox as before (migrations/store/*_service-roles.sql), with
-- the request id; CREATE OR REPLACE keeps its owner and grants.
CREATE OR REPLACE FUNCTION append_sync_outbox(records jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO public.sync_outbox (stream, record_key, data, business_day, terminal_id, sequence_number, request_id)
  SELECT stream, record_key, data, business_day, terminal_id, sequence_number, request_id
  FROM ROWS FROM (jsonb_to_recordset(records) AS (stream text, record_key text, data jsonb, business_day date, terminal_id text, sequence_number bigint, request_id text))
    WITH ORDINALITY AS r(stream, record_key, data, business_day, terminal_id, sequence_number, request_id, n)
  ORDER BY n
  ON CONFLICT (stream, record_key) DO NOTHING
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION append_sync_outbox(records jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO public.sync_outbox (stream, record_key, data, business_day, terminal_id, sequence_number)
  SELECT stream, record_key, data, business_day, terminal_id, sequence_number
  FROM ROWS FROM (jsonb_to_recordset(records) AS (stream text, record_key text, data jsonb, business_day date, terminal_id text, sequence_number bigint))
    WITH ORDINALITY AS r(stream, record_key, data, business_day, terminal_id, sequence_number, n)
  ORDER BY n
  ON CONFLICT (stream, record_key) DO NOTHING
$$;
ALTER TABLE sync_outbox DROP COLUMN request_id;
