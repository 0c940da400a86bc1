-- Up Migration

-- The day manifest is built from ingest's journal (what terminals were told
-- is captured), not from anything downstream of the consumers: the journal
-- carries what a manifest needs besides sequence numbers. Rows written before
-- this migration have NULLs; the manifest reads those from the sync outbox.
ALTER TABLE ingest_transactions ADD COLUMN type text;
ALTER TABLE ingest_transactions ADD COLUMN training boolean;
-- [{type, amount, change}] of the transaction's tenders.
ALTER TABLE ingest_transactions ADD COLUMN tenders jsonb;
CREATE INDEX ingest_transactions_day ON ingest_transactions (business_day, store_id);

-- Down Migration
DROP INDEX ingest_transactions_day;
ALTER TABLE ingest_transactions DROP COLUMN tenders;
ALTER TABLE ingest_transactions DROP COLUMN training;
ALTER TABLE ingest_transactions DROP COLUMN type;
