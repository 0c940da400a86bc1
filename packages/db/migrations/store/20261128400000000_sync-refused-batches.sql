-- Up Migration

-- A batch HQ refused with a non-retriable 4xx is split in two until the
-- refused records stand alone (issue 13 item 6). A one-record batch HQ still
-- refuses is set aside: refused_at and the refusal (HQ's status and detail)
-- are recorded and the record is quarantined; the batches after it flow on.
-- "Unacknowledged" is now acked_at IS NULL AND refused_at IS NULL; clearing
-- refused_at (a quarantine replay) makes the record eligible for upload again.
-- split_of names the refused batch a half was cut from (kept for the record).
ALTER TABLE sync_batches ADD COLUMN refused_at timestamptz, ADD COLUMN refusal text, ADD COLUMN split_of text;
DROP INDEX sync_batches_unacked;
CREATE INDEX sync_batches_unacked ON sync_batches (first_id) WHERE acked_at IS NULL AND refused_at IS NULL;

-- Batches are capped in bytes below HQ's body limit: what a record adds to a
-- batch body as PostgreSQL serialises it (the document, its key and stream,
-- and 64 bytes for the object around them), computed once when it is written.
ALTER TABLE sync_outbox ADD COLUMN bytes integer GENERATED ALWAYS AS (octet_length(data::text) + octet_length(record_key) + octet_length(stream) + 64) STORED;

-- Down Migration

ALTER TABLE sync_outbox DROP COLUMN bytes;
DROP INDEX sync_batches_unacked;
CREATE INDEX sync_batches_unacked ON sync_batches (first_id) WHERE acked_at IS NULL;
ALTER TABLE sync_batches DROP COLUMN split_of, DROP COLUMN refusal, DROP COLUMN refused_at;
