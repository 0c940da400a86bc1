-- Up Migration

-- Store credentials: only a SHA-256 of each bearer token (printed once by
-- `tillstream store add`). A store writes only its own data.
CREATE TABLE hq_store_credentials (
  token_hash bytea       PRIMARY KEY,
  store_id   text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX hq_store_credentials_store ON hq_store_credentials (store_id);

-- Batches applied, one per (store, batch id): a replayed upload answers with
-- the stored result; another body under the same id is refused.
CREATE TABLE hq_batches (
  store_id   text        NOT NULL,
  batch_id   text        NOT NULL,
  body_hash  bytea       NOT NULL,
  records    integer     NOT NULL,
  result     jsonb       NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, batch_id)
);

-- What HQ knows of each store's link.
CREATE TABLE hq_store_health (
  store_id          text        PRIMARY KEY,
  last_seen_at      timestamptz NOT NULL,
  last_batch_at     timestamptz,
  backlog_records   integer     NOT NULL DEFAULT 0,
  oldest_unsynced_at timestamptz
);

-- Chain views, built by HQ's consumers from the hq.* topics, effectively
-- once (offsets in consumer_offsets, same transaction).
CREATE TABLE hq_transactions (
  store_id        text        NOT NULL,
  transaction_id  uuid        NOT NULL,
  terminal_id     text        NOT NULL,
  sequence_number bigint      NOT NULL,
  business_day    date        NOT NULL,
  type            text        NOT NULL,
  training        boolean     NOT NULL,
  net             bigint      NOT NULL,
  grand           bigint      NOT NULL,
  tenders         jsonb       NOT NULL,
  occurred_at     timestamptz NOT NULL,
  PRIMARY KEY (store_id, transaction_id)
);
CREATE INDEX hq_transactions_day ON hq_transactions (store_id, business_day);

CREATE TABLE hq_sales_aggregates (
  store_id      text        NOT NULL,
  granularity   text        NOT NULL,
  window_start  timestamptz NOT NULL,
  dimension     text        NOT NULL,
  member        text        NOT NULL,
  business_day  date,
  revision      integer     NOT NULL,
  units         numeric(18,3) NOT NULL,
  gross         bigint      NOT NULL,
  discounts     bigint      NOT NULL,
  net           bigint      NOT NULL,
  tax           bigint      NOT NULL,
  transactions  integer     NOT NULL,
  items         numeric(18,3) NOT NULL,
  returns       integer     NOT NULL,
  returns_units numeric(18,3) NOT NULL,
  returns_amount bigint     NOT NULL,
  updated_at    timestamptz NOT NULL,
  PRIMARY KEY (store_id, granularity, window_start, dimension, member)
);
CREATE INDEX hq_sales_aggregates_day ON hq_sales_aggregates (granularity, dimension, business_day) WHERE granularity = 'day';

CREATE TABLE hq_inventory_levels (
  store_id         text          NOT NULL,
  sku              text          NOT NULL,
  on_hand          numeric(16,3) NOT NULL,
  state            text          NOT NULL,
  unit_of_measure  text          NOT NULL,
  last_movement_id bigint,
  updated_at       timestamptz   NOT NULL,
  PRIMARY KEY (store_id, sku)
);
CREATE INDEX hq_inventory_levels_sku ON hq_inventory_levels (sku);

CREATE TABLE hq_inventory_alerts (
  store_id text        NOT NULL,
  alert_id text        NOT NULL,
  sku      text        NOT NULL,
  type     text        NOT NULL,
  on_hand  numeric(16,3) NOT NULL,
  at       timestamptz NOT NULL,
  PRIMARY KEY (store_id, alert_id)
);

-- Day manifests as the stores sent them, and HQ's verdict. A manifest is
-- verified once HQ's transaction consumer has booked every record that was
-- on hq.transactions.v1 when it arrived (check_offsets), so a batch still in
-- flight inside HQ is never mistaken for a gap.
CREATE TABLE hq_manifests (
  store_id      text        NOT NULL,
  business_day  date        NOT NULL,
  manifest      jsonb       NOT NULL,
  received_at   timestamptz NOT NULL,
  check_offsets jsonb,
  status        text        NOT NULL CHECK (status IN ('pending', 'complete', 'gaps', 'mismatch')),
  details       jsonb,
  verified_at   timestamptz,
  PRIMARY KEY (store_id, business_day)
);
CREATE INDEX hq_manifests_pending ON hq_manifests (received_at) WHERE status = 'pending';

CREATE TABLE hq_replay_requests (
  request_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  store_id     text        NOT NULL,
  business_day date        NOT NULL,
  terminal_id  text        NOT NULL,
  from_seq     bigint      NOT NULL,
  to_seq       bigint      NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  answered_at  timestamptz,
  records      integer
);
-- One open request per missing range.
CREATE UNIQUE INDEX hq_replay_requests_open ON hq_replay_requests (store_id, business_day, terminal_id, from_seq, to_seq) WHERE answered_at IS NULL;

-- The catalog HQ publishes, versioned, and which version each store applied.
CREATE TABLE hq_catalog_versions (
  version      integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  items        jsonb       NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE hq_catalog_acks (
  store_id   text        PRIMARY KEY,
  version    integer     NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE hq_catalog_acks;
DROP TABLE hq_catalog_versions;
DROP TABLE hq_replay_requests;
DROP TABLE hq_manifests;
DROP TABLE hq_inventory_alerts;
DROP TABLE hq_inventory_levels;
DROP TABLE hq_sales_aggregates;
DROP TABLE hq_transactions;
DROP TABLE hq_store_health;
DROP TABLE hq_batches;
DROP TABLE hq_store_credentials;
