-- Up Migration

-- Every store's poison in one place (README "Quarantine"): the latest
-- revision of each store's quarantine entries, as uploaded through the sync
-- stream 'quarantine', and the dead letters of HQ's own consumers (entry id
-- "hq-<id>", with the record's bytes so `tillstream dlq replay` can replay
-- them at HQ). Reconciliation counts a day with an open entry naming one of
-- its transactions as not complete.
CREATE TABLE hq_quarantine (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  store_id        text        NOT NULL,
  entry_id        text        NOT NULL,
  -- HQ's own dead letters only: "dead-letter:<group>:<topic>:<partition>:<offset>".
  origin          text        UNIQUE,
  source          text        NOT NULL CHECK (source IN ('dead-letter', 'upload-refused')),
  service         text        NOT NULL,
  consumer_group  text,
  topic           text,
  kafka_partition integer,
  kafka_offset    bigint,
  record_key      text,
  record_value    bytea,
  headers         jsonb       NOT NULL DEFAULT '{}',
  outbox_id       bigint,
  code            text        NOT NULL,
  message         text        NOT NULL,
  transaction_id  uuid,
  business_day    date,
  quarantined_at  timestamptz NOT NULL,
  status          text        NOT NULL CHECK (status IN ('open', 'replayed', 'discarded')),
  actor           text,
  reason          text,
  resolved_at     timestamptz,
  revision        integer     NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (store_id, entry_id)
);
CREATE INDEX hq_quarantine_open_day ON hq_quarantine (store_id, business_day) WHERE status = 'open';

-- Down Migration
DROP TABLE hq_quarantine;
