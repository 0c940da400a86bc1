-- Up Migration

-- The store's quarantine (README "Quarantine"): every record that can never
-- be processed as it is, written where it happens (the consumer runtime when
-- it dead-letters, in the transaction that moves its offset past the record;
-- sync when HQ refuses an outbox record), until an operator replays or
-- discards it (`tillstream dlq`). Every entry and every change of its status
-- also goes to HQ through the sync outbox (stream 'quarantine').
CREATE TABLE quarantine (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- What happened, once: "dead-letter:<group>:<topic>:<partition>:<offset>" or
  -- "upload-refused:<outbox id>". A consumer that dead-letters the same record
  -- again after a crash finds its entry.
  origin          text        NOT NULL UNIQUE,
  store_id        text        NOT NULL,
  source          text        NOT NULL CHECK (source IN ('dead-letter', 'upload-refused')),
  service         text        NOT NULL,
  -- Dead letters: the consumer group and the record's position and bytes
  -- (replay re-produces them for that group alone).
  consumer_group  text,
  topic           text,
  kafka_partition integer,
  kafka_offset    bigint,
  record_key      text,
  record_value    bytea,
  -- The original record's headers and the error headers, as written to the dead-letter topic.
  headers         jsonb       NOT NULL DEFAULT '{}',
  -- Upload refusals: the sync outbox record HQ refused.
  outbox_id       bigint,
  code            text        NOT NULL,
  message         text        NOT NULL,
  transaction_id  uuid,
  business_day    date,
  quarantined_at  timestamptz NOT NULL DEFAULT now(),
  status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
  actor           text,
  reason          text,
  resolved_at     timestamptz,
  revision        integer     NOT NULL DEFAULT 1,
  CHECK (status <> 'discarded' OR (reason IS NOT NULL AND actor IS NOT NULL))
);
CREATE INDEX quarantine_open ON quarantine (quarantined_at) WHERE status = 'open';
CREATE INDEX quarantine_transaction ON quarantine (transaction_id) WHERE transaction_id IS NOT NULL;

-- Quarantine entries travel to HQ in the sync outbox.
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert', 'quarantine'));

-- Down Migration
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_stream_check;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_stream_check CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert'));
DROP TABLE quarantine;
