-- Up Migration

-- The store's HQ backlog (services/sync). Fed from the store's topics by the
-- sync consumers, in the same transaction as their offsets. A record's
-- identity within its stream (transaction id; aggregate key and revision;
-- SKU and movement; alert id) is unique, so a re-published event is not
-- uploaded twice. Rows are uploaded in id order, in batches of id ranges.
CREATE TABLE sync_outbox (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream          text        NOT NULL CHECK (stream IN ('transaction', 'aggregate', 'level', 'alert')),
  record_key      text        NOT NULL,
  data            jsonb       NOT NULL,
  -- For transactions: what manifests and replays select by.
  business_day    date,
  terminal_id     text,
  sequence_number bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream, record_key)
);
CREATE INDEX sync_outbox_journal ON sync_outbox (business_day, terminal_id, sequence_number) WHERE stream = 'transaction';

-- Upload batches: consecutive id ranges of the outbox, cut once, so a batch
-- id ("<store>-<first>-<last>") names the same records forever. HQ applies
-- a batch id once. acked_at NULL = HQ has not acknowledged it: the sweeper
-- re-enqueues every such batch, whatever Redis remembers.
CREATE TABLE sync_batches (
  batch_id   text        PRIMARY KEY,
  first_id   bigint      NOT NULL,
  last_id    bigint      NOT NULL,
  records    integer     NOT NULL,
  oldest_at  timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  acked_at   timestamptz,
  attempts   integer     NOT NULL DEFAULT 0,
  last_error text,
  CHECK (first_id <= last_id)
);
CREATE UNIQUE INDEX sync_batches_range ON sync_batches (first_id);
CREATE INDEX sync_batches_unacked ON sync_batches (first_id) WHERE acked_at IS NULL;

-- Day manifests sent to HQ: what was sent (digest) and HQ's verdict.
CREATE TABLE sync_manifests (
  business_day date        PRIMARY KEY,
  digest       text        NOT NULL,
  sent_at      timestamptz NOT NULL,
  status       text        NOT NULL,
  transactions integer     NOT NULL
);

-- Replays HQ asked for, answered once each.
CREATE TABLE sync_replays (
  request_id   bigint      PRIMARY KEY,
  business_day date        NOT NULL,
  terminal_id  text        NOT NULL,
  from_seq     bigint      NOT NULL,
  to_seq       bigint      NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz,
  records      integer
);

-- HQ's catalog as applied here: one version at a time, atomically.
CREATE TABLE store_catalog (
  sku              text          COLLATE "C" PRIMARY KEY,
  description      text          NOT NULL,
  category         text          NOT NULL,
  unit_price       bigint        NOT NULL,
  reorder_point    numeric(16,3),
  reorder_quantity numeric(16,3),
  maximum          numeric(16,3),
  version          integer       NOT NULL
);
CREATE TABLE store_catalog_versions (
  version    integer     PRIMARY KEY,
  items      integer     NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  acked_at   timestamptz
);

-- Down Migration
DROP TABLE store_catalog_versions;
DROP TABLE store_catalog;
DROP TABLE sync_replays;
DROP TABLE sync_manifests;
DROP TABLE sync_batches;
DROP TABLE sync_outbox;
