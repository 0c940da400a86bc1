-- Up Migration

-- Loss-prevention alerts travel to HQ in the sync outbox (stream 'lossprevention'),
-- beside the streams before it (replenishment: 20261202030001000).
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine', 'replenishment', 'lossprevention'));

-- Down Migration
DELETE FROM sync_outbox WHERE stream = 'lossprevention';
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine', 'replenishment'));
