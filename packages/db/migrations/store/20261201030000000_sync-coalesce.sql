-- Up Migration

-- Upload what HQ needs, once (issue 17 item 1).
--
-- Sales windows and stock levels wait here, one row per key (an aggregate's
-- granularity|window|dimension|member, a level's SKU), for the upload
-- interval (SYNC_COALESCE_MS): each newer revision replaces the pending one,
-- an older one (a replayed event) changes nothing. The batch cutter moves a
-- row that has waited the interval into sync_outbox (under the outbox lock,
-- with its revision in the outbox key, as before) and clears `since`; a row
-- already moved (maybe in a batch in flight) is never touched again, the
-- next revision waits here anew. The row itself is kept as the key's latest
-- revision seen, so an older revision replayed after the move is still
-- recognised. Transactions, alerts and quarantine entries never wait here.
CREATE TABLE sync_pending (
  stream     text        NOT NULL CHECK (stream IN ('aggregate', 'level')),
  record_key text        NOT NULL,
  -- The outbox key of this revision (the key and its revision or movement).
  outbox_key text        NOT NULL,
  data       jsonb       NOT NULL,
  -- Which revision is newer: (revision, updatedAt) of an aggregate, (movement id or -1, updatedAt) of a level.
  revision   bigint      NOT NULL,
  revised_at timestamptz NOT NULL,
  -- Since when a revision not yet in the outbox waits; NULL once it was moved there.
  since      timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream, record_key)
);
CREATE INDEX sync_pending_due ON sync_pending (since) WHERE since IS NOT NULL;

-- What HQ declared it reads (GET /v1/stores/<id>/reads), as last received:
-- kept here so it holds across restarts and HQ outages. No row: the store
-- has no declaration yet and uploads every granularity.
CREATE TABLE sync_hq_reads (
  singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  version       integer     NOT NULL,
  granularities text[]      NOT NULL,
  -- NULL: every dimension.
  dimensions    text[],
  received_at   timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON sync_pending, sync_hq_reads TO tillstream_sync;

-- append_sync_outbox as before (migrations/store/*_sync-request-id.sql), with
-- an optional created_at per record (the batch cutter's clock: sync's
-- benchmark plays a store-day on an injected clock); CREATE OR REPLACE keeps
-- its owner and grants.
CREATE OR REPLACE FUNCTION append_sync_outbox(records jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO public.sync_outbox (stream, record_key, data, business_day, terminal_id, sequence_number, request_id, created_at)
  SELECT stream, record_key, data, business_day, terminal_id, sequence_number, request_id, coalesce(created_at, now())
  FROM ROWS FROM (jsonb_to_recordset(records) AS (stream text, record_key text, data jsonb, business_day date, terminal_id text, sequence_number bigint, request_id text, created_at timestamptz))
    WITH ORDINALITY AS r(stream, record_key, data, business_day, terminal_id, sequence_number, request_id, created_at, n)
  ORDER BY n
  ON CONFLICT (stream, record_key) DO NOTHING
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION append_sync_outbox(records jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO public.sync_outbox (stream, record_key, data, business_day, terminal_id, sequence_number, request_id)
  SELECT stream, record_key, data, business_day, terminal_id, sequence_number, request_id
  FROM ROWS FROM (jsonb_to_recordset(records) AS (stream text, record_key text, data jsonb, business_day date, terminal_id text, sequence_number bigint, request_id text))
    WITH ORDINALITY AS r(stream, record_key, data, business_day, terminal_id, sequence_number, request_id, n)
  ORDER BY n
  ON CONFLICT (stream, record_key) DO NOTHING
$$;
DROP TABLE sync_hq_reads;
DROP TABLE sync_pending;
