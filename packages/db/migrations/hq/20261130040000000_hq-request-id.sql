-- Up Migration

-- The request that brought each transaction in at its store's ingest
-- (X-Request-Id), as the store uploaded it: one id from the terminal to this
-- row. NULL for transactions uploaded without one (stores before it, rows
-- booked before this column).
ALTER TABLE hq_transactions ADD COLUMN request_id text;

-- Down Migration
ALTER TABLE hq_transactions DROP COLUMN request_id;
