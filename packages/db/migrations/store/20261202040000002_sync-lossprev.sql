-- Up Migration

-- Loss-prevention alerts travel to HQ in the sync outbox (stream 'lossprevention').
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine', 'lossprevention'));

-- Down Migration
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine'));
