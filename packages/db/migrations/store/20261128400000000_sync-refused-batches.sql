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

-- Down Migration

DROP INDEX sync_batches_unacked;
CREATE INDEX sync_batches_unacked ON sync_batches (first_id) WHERE acked_at IS NULL;
ALTER TABLE sync_batches DROP COLUMN split_of, DROP COLUMN refusal, DROP COLUMN refused_at;
